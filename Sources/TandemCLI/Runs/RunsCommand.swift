import ArgumentParser
import Foundation
import TandemDomain
import TandemFleet
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
        abstract: "A run's timeline (offset from run_started, event, key fields), its record, and whether its entries verify.",
        discussion: "A model's streamed deltas are folded into one line (count, bytes, first and last offset); --deltas lists each."
    )

    @OptionGroup var dataDirectory: DataDirectoryOption
    @Argument(help: "The run id.") var runID: String
    @Flag(help: "Print one JSON object.") var json = false
    @Flag(help: "List every delta in the timeline instead of one line per model.") var deltas = false
    @Flag(help: "Look the run up in the fleet store (whichever node ran it) instead of the local journal.") var fleet = false
    @OptionGroup var fleetURL: FleetURLOption

    func run() async throws {
        guard let run = RunID(runID) else {
            throw CLIError.report(CLIError("'\(runID)' is not a run id (1-64 characters of [A-Za-z0-9_-])"))
        }
        if fleet {
            try await FleetSession.with(fleetURL) { store in
                guard let (node, entries) = try await store.run(runID), !entries.isEmpty else {
                    throw CLIError.report(CLIError("no run '\(runID)' in the fleet store"))
                }
                try present(entries, chain: .notChecked(node: node))
            }
            return
        }
        try await failing {
            let journal = try dataDirectory.openForReading()
            let entries = try journal.entries(of: run)
            guard !entries.isEmpty else {
                throw CLIError.report(CLIError("no run '\(runID)' in the journal at \(dataDirectory.path)"))
            }
            let problem = try journal.verifyLinks(of: entries).problem?.description
            try present(entries, chain: problem.map { .broken($0) } ?? .verified)
            if problem != nil { throw ExitCode.failure }
        }
    }

    /// What is known of a run's chain segment.
    enum Chain {
        case verified
        case broken(String)
        /// Read from the fleet store: `tandem fleet verify --node` checks the node's whole chain.
        case notChecked(node: String)
    }

    /// Prints the timeline and record of a run's entries (in seq order, at least one).
    private func present(_ entries: [JournalEntry], chain: Chain) throws {
        let first = entries[0]
        let record = RecordFold.record(of: entries, run: runID) ?? DualRunRecord(runID: runID, firstSeq: first.seq)
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
            var object: [String: Any] = ["run_id": runID, "timeline": timeline, "record": recordObject]
            switch chain {
            case .verified: object["chain"] = ["verified": true, "problem": NSNull()]
            case .broken(let problem): object["chain"] = ["verified": false, "problem": problem]
            case .notChecked(let node):
                object["node_id"] = node
                object["chain"] = ["verified": NSNull(), "problem": NSNull(), "check": "tandem fleet verify --node \(node)"]
            }
            let data = try JSONSerialization.data(withJSONObject: object, options: [.sortedKeys, .withoutEscapingSlashes])
            Output.line(String(decoding: data, as: UTF8.self))
        } else {
            Output.line("run \(runID) — status \(record.status), \(entries.count) events, seq \(record.firstSeq)…\(record.lastSeq)")
            Output.line("")
            Output.line("   offset ms  seq        event                 key fields")
            var foldedDeltas: Set<String> = []
            for entry in entries {
                var fields = Self.keyFields(entry)
                if !deltas, entry.type.hasSuffix("_delta") {
                    // One line per model, where its first delta is.
                    guard foldedDeltas.insert(entry.type).inserted else { continue }
                    fields = Self.deltaSummary(entries.filter { $0.type == entry.type })
                }
                let offset = String(format: "%10.2f", Double(Timestamp.micros(entry.timestamp) - origin) / 1000)
                Output.line("  \(offset)  \(String(entry.seq).padding(toLength: 9, withPad: " ", startingAt: 0))  \(entry.type.padding(toLength: 20, withPad: " ", startingAt: 0))  \(fields)")
            }
            Output.line("")
            Output.line("record:")
            Output.line(String(decoding: record.json, as: UTF8.self))
            Output.line("")
            switch chain {
            case .verified: Output.line("chain: verified (every entry of the run links to its neighbours by SHA-256)")
            case .broken(let problem): Output.line("chain: BROKEN — \(problem)")
            case .notChecked(let node): Output.line("node: \(node) (from the fleet store; `tandem fleet verify --node \(node)` checks its chain)")
            }
        }
    }

    /// One model's deltas (`*_delta` entries, in seq order) as one timeline line.
    static func deltaSummary(_ entries: [JournalEntry]) -> String {
        let deltas = entries.compactMap { entry -> ModelDelta? in
            if case .modelDelta(_, let delta)? = try? DomainEvent(entry) { return delta }
            return nil
        }
        guard let first = deltas.first, let last = deltas.last else { return "" }
        let bytes = deltas.reduce(0) { $0 + $1.text.utf8.count }
        return "\(deltas.count) deltas, \(bytes) bytes, offsets \(first.offset)…\(last.offset) (--deltas lists them)"
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
    @Flag(help: "The newest runs of every node, from the fleet store.") var fleet = false
    @OptionGroup var fleetURL: FleetURLOption

    /// `--status` as a record status (``validate()`` refused any other value).
    private var statusFilter: RunRecordStatus? { status.flatMap(RunRecordStatus.init(rawValue:)) }

    func validate() throws {
        guard (1...1_000).contains(limit) else { throw ValidationError("--limit must be from 1 to 1000") }
        if let status, RunRecordStatus(rawValue: status) == nil {
            throw ValidationError("--status must be one of \(RunRecordStatus.allCases.map(\.rawValue).joined(separator: ", "))")
        }
    }

    func run() async throws {
        if fleet {
            try await FleetSession.with(fleetURL) { store in
                let runs = try await store.runs(limit: limit, status: statusFilter)
                Output.line("run_id                            node_id           status     started_at                   duration_ms  flash_ms  pro_ms")
                for run in runs {
                    Output.line([
                        run.runID.padding(toLength: 32, withPad: " ", startingAt: 0),
                        run.nodeID.padding(toLength: 16, withPad: " ", startingAt: 0),
                        run.status.padding(toLength: 9, withPad: " ", startingAt: 0),
                        (run.startedAt ?? "-").padding(toLength: 27, withPad: " ", startingAt: 0),
                        Self.ms(run.durationMs).padding(toLength: 11, withPad: " ", startingAt: 0),
                        Self.ms(run.flashLatencyMs).padding(toLength: 8, withPad: " ", startingAt: 0),
                        Self.ms(run.proLatencyMs),
                    ].joined(separator: "  "))
                }
            }
            return
        }
        try await failing {
            let store = try openProjections(dataDirectory)
            let (records, _) = try store.list(status: statusFilter, since: nil, limit: limit, after: nil)
            Output.line("run_id                            status     started_at                   duration_ms  flash_ms  pro_ms")
            for json in records {
                guard let record = DualRunRecord(json: json) else { continue }
                let ms = Self.ms
                Output.line([
                    record.runID.padding(toLength: 32, withPad: " ", startingAt: 0),
                    record.status.rawValue.padding(toLength: 9, withPad: " ", startingAt: 0),
                    (record.startedAt ?? "-").padding(toLength: 27, withPad: " ", startingAt: 0),
                    ms(record.durationMs).padding(toLength: 11, withPad: " ", startingAt: 0),
                    ms(record.flash?.latencyMs).padding(toLength: 8, withPad: " ", startingAt: 0),
                    ms(record.pro?.latencyMs),
                ].joined(separator: "  "))
            }
        }
    }
}

extension ListRunsCommand {
    static func ms(_ value: Double?) -> String { value.map { String(format: "%.2f", $0) } ?? "-" }
}

/// The projection store in use, read-only.
func openProjections(_ dataDirectory: DataDirectoryOption) throws -> ProjectionStore {
    let location = ProjectionLocation(dataDirectory: dataDirectory.path)
    guard let name = location.currentName() else {
        throw CLIError.noProjections(at: location.directory)
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
