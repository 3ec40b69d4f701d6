import ArgumentParser
import TandemDomain
import TandemJournal

/// `tandem journal verify`: seq continuity and the hash chain, end to end; with `--payloads`,
/// also that every payload decodes as its event type.
struct VerifyCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "verify",
        abstract: "Check seq continuity and the hash chain; exit 1 naming the first bad seq.",
        discussion: "--payloads also decodes every entry's data as its event type (slower): a chain proves nothing was changed after writing, this proves what was written is readable."
    )

    @OptionGroup var dataDirectory: DataDirectoryOption
    @Flag(help: "Also check that every payload decodes as its event type.") var payloads = false

    func run() async throws {
        try await failing {
            let journal = try dataDirectory.openForReading()
            let started = ContinuousClock.now
            let report = try journal.verify()
            let seconds = max(started.duration(to: .now).seconds, 1e-9)
            if let problem = report.problem {
                Output.error("journal verify FAILED at seq \(problem.seq): \(problem.reason)")
                Output.error("first bad seq: \(problem.seq)")
                throw ExitCode.failure
            }
            let rate = Int(Double(report.entriesChecked) / seconds)
            Output.line(
                "journal verify ok: \(report.entriesChecked) entries, head seq \(report.head.seq), head hash \(report.head.hashHex) (\(rate) entries/s)"
            )
            if payloads { try verifyPayloads(journal, through: report.head.seq) }
        }
    }

    private func verifyPayloads(_ journal: Journal, through head: UInt64) throws {
        var failure: (seq: UInt64, reason: String)?
        var checked: UInt64 = 0
        try journal.scanEntries(from: 1, through: head) { entry in
            do {
                _ = try DomainEvent(entry)
                checked += 1
                return true
            } catch {
                failure = (entry.seq, "the \(entry.type) payload does not decode: \(error)")
                return false
            }
        }
        if let failure {
            Output.error("journal verify FAILED at seq \(failure.seq): \(failure.reason)")
            Output.error("first bad seq: \(failure.seq)")
            throw ExitCode.failure
        }
        Output.line("payloads ok: \(checked) entries decode as their event types")
    }
}
