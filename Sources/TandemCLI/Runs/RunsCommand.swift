import ArgumentParser
import Foundation
import TandemJournal
import TandemProjections

/// `tandem runs show|list`: forensic lookups.
struct RunsCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "runs",
        abstract: "Look up runs: a run's forensic timeline, or the newest runs.",
        subcommands: [ShowRunCommand.self, ListRunsCommand.self]
    )
}

struct ShowRunCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "show",
        abstract: "A run's timeline (offset from run_started, event, key fields), its record, and whether its entries verify."
    )

    @OptionGroup var dataDirectory: DataDirectoryOption
    @Argument(help: "The run id.") var runID: String
    @Flag(help: "Print one JSON object.") var json = false

    func run() async throws {
        guard let run = RunID(runID) else {
            Output.error("error: '\(runID)' is not a run id (1-64 characters of [A-Za-z0-9_-])")
            throw ExitCode.failure
        }
        try await failing {
            let journal = try dataDirectory.openForReading()
            let entries = try journal.entries(of: run)
            guard let first = entries.first else {
                Output.error("error: no run '\(runID)' in the journal at \(dataDirectory.path)")
                throw ExitCode.failure
            }
            var record = DualRunRecord(runID: runID, firstSeq: first.seq)
            record.startedAt = first.timestamp
            for entry in entries { RecordFold.apply(entry, to: &record) }
            let chain = try journal.verifyLinks(of: entries).problem?.description
            let origin = Timestamp.micros(first.timestamp)
            if json {
                var timeline: [[String: Any]] = []
                for entry in entries {
                    timeline.append([
                        "seq": entry.seq, "offset_ms": Double(Timestamp.micros(entry.timestamp) - origin) / 1000,
                        "type": entry.type, "ts": entry.timestamp,
                        "data": (try? JSONSerialization.jsonObject(with: Data(entry.data))) ?? [:],
                    ])
                }
                let recordObject = try JSONSerialization.jsonObject(with: Data(record.json))
                let object: [String: Any] = [
                    "run_id": runID, "timeline": timeline, "record": recordObject,
                    "chain": ["verified": chain == nil, "problem": chain.map { $0 as Any } ?? NSNull()],
                ]
                let data = try JSONSerialization.data(withJSONObject: object, options: [.sortedKeys, .withoutEscapingSlashes])
                Output.line(String(decoding: data, as: UTF8.self))
            } else {
                Output.line("run \(runID) — status \(record.status), \(entries.count) events, seq \(record.firstSeq)…\(record.lastSeq)")
                Output.line("")
                Output.line("   offset ms  seq        event                 key fields")
                for entry in entries {
                    let offset = String(format: "%10.2f", Double(Timestamp.micros(entry.timestamp) - origin) / 1000)
                    Output.line("  \(offset)  \(String(entry.seq).padding(toLength: 9, withPad: " ", startingAt: 0))  \(entry.type.padding(toLength: 20, withPad: " ", startingAt: 0))  \(Self.keyFields(entry))")
                }
                Output.line("")
                Output.line("record:")
                Output.line(String(decoding: record.json, as: UTF8.self))
                Output.line("")
                Output.line(chain.map { "chain: BROKEN — \($0)" } ?? "chain: verified (every entry of the run links to its neighbours by SHA-256)")
            }
            if chain != nil { throw ExitCode.failure }
        }
    }

    /// A short summary of an event's payload for the timeline.
    static func keyFields(_ entry: JournalEntry) -> String {
        guard let object = (try? JSONSerialization.jsonObject(with: Data(entry.data))) as? [String: Any] else { return "" }
        let skip: Set<String> = ["context", "client", "config", "request_digest"]
        return object.keys.sorted().filter { !skip.contains($0) }.map { key in
            var value = "\(object[key]!)"
            if let nested = object[key] as? [String: Any] { value = nested.keys.sorted().map { "\($0)=\(nested[$0]!)" }.joined(separator: ",") }
            value = value.replacingOccurrences(of: "\n", with: " ")
            if value.count > 48 { value = String(value.prefix(45)) + "…" }
            return "\(key)=\(value)"
        }.joined(separator: " ")
    }
}

struct ListRunsCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "list", abstract: "The newest runs, from the projections.")

    @OptionGroup var dataDirectory: DataDirectoryOption
    @Option(help: "Only runs with this status.") var status: String?
    @Option(help: "How many (1-1000).") var limit: Int = 20

    func validate() throws {
        guard (1...1_000).contains(limit) else { throw ValidationError("--limit must be from 1 to 1000") }
        let statuses = ["running", "ok", "partial", "timeout", "error", "cancelled", "aborted"]
        if let status, !statuses.contains(status) {
            throw ValidationError("--status must be one of \(statuses.joined(separator: ", "))")
        }
    }

    func run() async throws {
        try await failing {
            let store = try openProjections(dataDirectory)
            let (records, _) = try store.list(status: status, since: nil, limit: limit, after: nil)
            Output.line("run_id                            status     started_at                   duration_ms  flash_ms  pro_ms")
            for json in records {
                guard let record = DualRunRecord(json: json) else { continue }
                func ms(_ value: Double?) -> String { value.map { String(format: "%.2f", $0) } ?? "-" }
                Output.line([
                    record.runID.padding(toLength: 32, withPad: " ", startingAt: 0),
                    record.status.padding(toLength: 9, withPad: " ", startingAt: 0),
                    (record.startedAt ?? "-").padding(toLength: 27, withPad: " ", startingAt: 0),
                    ms(record.durationMs).padding(toLength: 11, withPad: " ", startingAt: 0),
                    ms(record.flash?.latencyMs).padding(toLength: 8, withPad: " ", startingAt: 0),
                    ms(record.pro?.latencyMs),
                ].joined(separator: "  "))
            }
        }
    }
}

/// The projection store in use, read-only.
func openProjections(_ dataDirectory: DataDirectoryOption) throws -> ProjectionStore {
    let location = ProjectionLocation(dataDirectory: dataDirectory.path)
    guard let name = location.currentName() else {
        throw JournalError(.environment, "no projections at \(location.directory); run `tandem serve` or `tandem projections rebuild` first")
    }
    return try ProjectionStore(directory: location.path(of: name), name: name, readOnly: true)
}

/// Journal timestamps (`YYYY-MM-DDTHH:MM:SS.ffffffZ`) as microseconds, for offsets.
enum Timestamp {
    static func micros(_ ts: String) -> Int64 {
        let bytes = Array(ts.utf8)
        guard bytes.count == 27 else { return 0 }
        func number(_ range: Range<Int>) -> Int64 { bytes[range].reduce(0) { $0 * 10 + Int64($1 - 48) } }
        var components = DateComponents()
        components.year = Int(number(0..<4))
        components.month = Int(number(5..<7))
        components.day = Int(number(8..<10))
        components.hour = Int(number(11..<13))
        components.minute = Int(number(14..<16))
        components.second = Int(number(17..<19))
        components.timeZone = TimeZone(identifier: "UTC")
        let seconds = Calendar(identifier: .gregorian).date(from: components)?.timeIntervalSince1970 ?? 0
        return Int64(seconds) * 1_000_000 + number(20..<26)
    }
}
