import ArgumentParser
import TandemJournal

/// `tandem journal verify`: seq continuity and the hash chain, end to end.
struct VerifyCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "verify",
        abstract: "Check seq continuity and the hash chain; exit 1 naming the first bad seq."
    )

    @OptionGroup var dataDirectory: DataDirectoryOption

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
        }
    }
}
