import ArgumentParser
import Logging
import TandemJournal
import TandemProjections

/// `tandem journal …`: read, verify and inspect the journal (works while `serve` runs).
struct JournalCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "journal",
        abstract: "Replay, verify and inspect the journal.",
        subcommands: [ReplayCommand.self, VerifyCommand.self, StatsCommand.self, AppendCommand.self]
    )
}

extension DataDirectoryOption {
    /// Opens the journal for reading; another process may be writing it.
    func openForReading() throws -> Journal {
        try Journal(JournalConfiguration(directory: path, readOnly: true), logger: Logger(label: "tandem.cli"))
    }
}

/// Turns a journal, projection or CLI error into a clean CLI failure (message on stderr, exit 1).
func failing<T>(_ body: () async throws -> T) async throws -> T {
    do {
        return try await body()
    } catch let error as JournalError {
        throw CLIError.report(error)
    } catch let error as ProjectionError {
        throw CLIError.report(error)
    } catch let error as CLIError {
        throw CLIError.report(error)
    }
}
