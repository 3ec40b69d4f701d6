import Synchronization
import TandemJournal

/// The run chain checks in progress (`GET /api/runs/{run_id}/verify`), single-flight per run:
/// requests for a run whose check is running wait for that check's result instead of starting
/// another, so N concurrent requests for one long run cost one read of it.
final class RunVerifications: Sendable {
    private let running = Mutex([RunID: Task<RunChainReport, any Error>]())
    private let pool: BlockingPool

    init(pool: BlockingPool) {
        self.pool = pool
    }

    /// The chain report of `run`, from the check in progress or from a new one on the pool.
    /// - Throws: the journal's error when the run cannot be read.
    func report(of run: RunID, in journal: Journal) async throws -> RunChainReport {
        let pool = pool
        let task = running.withLock { running in
            if let task = running[run] { return task }
            let task = Task { try await pool.run { try journal.verifyLinks(of: journal.entries(of: run)) } }
            running[run] = task
            return task
        }
        defer { running.withLock { if $0[run] == task { $0[run] = nil } } }
        return try await task.value
    }
}
