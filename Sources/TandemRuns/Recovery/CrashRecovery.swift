public import Logging
import TandemDomain
public import TandemJournal

/// Start-up recovery: every run a crash left without `done` gets `run_aborted`, so no run stays
/// "running" forever and every stream of it ends.
public enum CrashRecovery {
    /// Appends `run_aborted` for each open run; returns the runs aborted.
    /// - Throws: ``JournalError`` when the journal cannot be read or appended to.
    @discardableResult
    public static func abortUnfinishedRuns(in journal: Journal, logger: Logger) async throws -> [RunID] {
        let open = try journal.openRuns()
        for (run, openedAt) in open {
            let event = DomainEvent.runAborted(RunAborted(reason: "tandem stopped before the run finished; no done was journaled"))
            let committed = try await journal.append([event], for: run)
            logger.warning(
                "aborted a run left unfinished by a crash",
                metadata: ["run_id": "\(run)", "opened_seq": "\(openedAt)", "seq": "\(committed[0].seq)"]
            )
        }
        return open.map(\.run)
    }
}
