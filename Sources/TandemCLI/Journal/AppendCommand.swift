public import ArgumentParser
import Logging
import TandemDomain
public import TandemJournal

/// `tandem journal append`: append a valid domain event by hand (operators, tests, load).
///
/// Prints each appended seq on its own line, flushed, only after the commit returned: a line
/// printed is an acknowledged, durable append.
struct AppendCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "append",
        abstract: "Append a domain event (validated against its type) and print the committed seq."
    )

    @OptionGroup var dataDirectory: DataDirectoryOption
    @Option(help: "The run id.") var run: String
    @Option(help: "The event type, e.g. run_aborted.") var type: String
    @Option(help: "The event payload as a JSON object.") var data: String
    @Option(help: "Append the event this many times.") var count: Int = 1
    @Option(help: "Appending tasks running at once.") var concurrency: Int = 1
    @Option(help: "Durability: sync or async.") var durability: JournalConfiguration.Durability = .sync

    func validate() throws {
        guard RunID(run) != nil else { throw ValidationError("--run must be 1-64 characters of [A-Za-z0-9_-]") }
        guard count >= 1, concurrency >= 1 else { throw ValidationError("--count and --concurrency must be at least 1") }
    }

    func run() async throws {
        guard let runID = RunID(run) else { throw ExitCode.validationFailure }
        let event: DomainEvent
        do {
            event = try DomainEvent(type: type, data: Array(data.utf8))
        } catch {
            throw CLIError.report(error, exit: .validationFailure)
        }
        let entry = try event.pendingEntry(for: runID)
        try await failing {
            let journal = try Journal(
                JournalConfiguration(directory: dataDirectory.path, durability: durability),
                logger: Logger(label: "tandem.cli")
            )
            defer { journal.close() }
            let workers = min(concurrency, count)
            try await withThrowingTaskGroup(of: Void.self) { group in
                for worker in 0..<workers {
                    let share = count / workers + (worker < count % workers ? 1 : 0)
                    group.addTask {
                        for _ in 0..<share {
                            let committed = try await journal.append(entry)
                            Output.line("\(committed.seq)")
                            Output.flush()
                        }
                    }
                }
                try await group.waitForAll()
            }
        }
    }
}

extension JournalConfiguration.Durability: ExpressibleByArgument {}
