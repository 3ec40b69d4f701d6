import ArgumentParser
import TandemDomain
import TandemJournal

/// `tandem journal replay`: the stored lines as NDJSON, exactly as hashed.
struct ReplayCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "replay",
        abstract: "Print journal entries as NDJSON (the exact stored lines).",
        discussion: "Each printed line's SHA-256 is the next line's prev, so the output verifies with sha256 alone."
    )

    @OptionGroup var dataDirectory: DataDirectoryOption
    @Option(help: "First seq to print.") var from: UInt64 = 1
    @Option(help: "Last seq to print.") var to: UInt64?
    @Option(help: "Only entries of this run id.") var run: String?
    @Option(help: "Only entries of this event type.") var type: String?
    @Flag(help: "Keep printing new entries as they are appended (Ctrl-C to stop).") var follow = false

    func validate() throws {
        if let run, RunID(run) == nil {
            throw ValidationError("--run must be 1-64 characters of [A-Za-z0-9_-]")
        }
        if let type, !DomainEvent.allTypes.contains(type) {
            throw ValidationError("--type must be an event type: \(DomainEvent.allTypes.joined(separator: ", "))")
        }
        if let to, to < from {
            throw ValidationError("--to must not be less than --from")
        }
    }

    func run() async throws {
        try await failing {
            let journal = try dataDirectory.openForReading()
            let last = to ?? .max
            let newline: [UInt8] = [10]
            func emit(_ line: UnsafeRawBufferPointer) {
                Output.write(line)
                newline.withUnsafeBytes { Output.write($0) }
            }
            var next = from
            if let run = run.flatMap(RunID.init) {
                for entry in try journal.entries(of: run) where entry.seq >= from && entry.seq <= last {
                    if let type, entry.type != type { continue }
                    entry.line.withUnsafeBytes { emit($0) }
                    next = entry.seq + 1
                }
            } else {
                try journal.scan(from: from, through: last) { seq, line in
                    if let type, try JournalEntry(line: Array(line)).type != type { return true }
                    emit(line)
                    next = seq + 1
                    return true
                }
                next = max(next, min(last, try journal.head().seq) &+ 1)
            }
            Output.flush()
            guard follow else { return }
            for try await entry in journal.follow(from: next) {
                if entry.seq > last { break }
                if let run, entry.runID.rawValue != run { continue }
                if let type, entry.type != type { continue }
                entry.line.withUnsafeBytes { emit($0) }
                Output.flush()
            }
        }
    }
}
