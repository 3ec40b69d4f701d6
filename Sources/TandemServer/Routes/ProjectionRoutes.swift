import Foundation
import Hummingbird
import TandemDomain
import TandemFleetReading
import TandemJournal
import TandemProjections
import TandemRuns

/// The audit read endpoints, served from the projections with read-your-writes: each read first
/// waits (briefly) for the projector to reach the journal head as of the request.
struct ProjectionRoutes {
    let journal: Journal
    let projector: Projector
    let coordinator: RunCoordinator
    let fleet: (any FleetReading)?

    func register(on router: Router<TandemRequestContext>) {
        router.get("/api/runs/{run_id}") { _, context in await record(context) }
        router.get("/api/runs") { request, _ in await list(request) }
        router.get("/api/experiments") { request, _ in await experiments(request) }
        router.get("/api/metrics") { _, _ in await metricsJSON() }
        router.get("/metrics") { _, _ in await prometheus() }
    }

    /// The store, caught up with the journal head as of now; 503 `projection_lagging` when it
    /// cannot be brought there in time (never a stale answer presented as current).
    private func caughtUpStore() async throws(APIError) -> ProjectionStore {
        let head: UInt64
        do {
            head = try journal.head().seq
            return try await projector.store(through: head)
        } catch {
            throw APIError(error)
        }
    }

    private func record(_ context: TandemRequestContext) async -> Response {
        let raw = context.parameters.get("run_id") ?? ""
        guard RunID(raw) != nil else {
            return APIError.validation("run_id", "run_id must be 1-64 characters of [A-Za-z0-9_-].").response
        }
        do {
            let store = try await caughtUpStore()
            guard let json = try store.recordJSON(raw) else {
                return try await FleetFallback(link: fleet).record(raw) ?? APIError.notFound(raw).response
            }
            return JSONBody.raw(json)
        } catch {
            return APIError(error).response
        }
    }

    /// An ISO 8601 UTC timestamp to any precision from the day to the microsecond (the OpenAPI
    /// document's `since` pattern, less its empty alternative).
    static let sincePattern = #"^[0-9]{4}-[0-9]{2}-[0-9]{2}(T[0-9]{2}(:[0-9]{2}(:[0-9]{2}(\.[0-9]{1,6})?)?)?Z?)?$"#

    private struct Page {
        var records: [[UInt8]]
        var cursor: String?
    }

    private func page(_ request: Request, defaultLimit: Int) async throws(APIError) -> Page {
        let query = request.uri.queryParameters
        var status: RunRecordStatus?
        if let raw = query.get("status") {
            guard let known = RunRecordStatus(rawValue: String(raw)) else {
                throw .validation("status", "status must be one of \(RunRecordStatus.allCases.map(\.rawValue).sorted().joined(separator: ", ")).")
            }
            status = known
        }
        var limit = defaultLimit
        if let raw = query.get("limit") {
            guard let value = Int(raw), (1...1_000).contains(value) else {
                throw .validation("limit", "limit must be a whole number from 1 to 1000.")
            }
            limit = value
        }
        // `since=` (empty) is no filter, as the OpenAPI document says; ASCII digits only (`\d` would
        // take any script's digits, which the document's pattern refuses).
        let since: String? = query.get("since").flatMap { $0.isEmpty ? nil : String($0) }
        if let since, since.range(of: Self.sincePattern, options: .regularExpression) == nil {
            throw .validation("since", "since must be an ISO 8601 UTC timestamp such as 2026-11-28T08:00:00Z.")
        }
        var cursor: [UInt8]?
        if let raw = query.get("cursor") {
            guard let bytes = Self.decodeHex(String(raw)) else {
                throw .validation("cursor", "cursor must be the next_cursor of a previous page.")
            }
            cursor = bytes
        }
        let store = try await caughtUpStore()
        do {
            let (records, next) = try store.list(status: status, since: since.map { $0.hasSuffix("Z") ? String($0.dropLast()) : $0 }, limit: limit, after: cursor)
            return Page(records: records, cursor: next.map(Self.encodeHex))
        } catch {
            throw APIError(error)
        }
    }

    private func list(_ request: Request) async -> Response {
        do {
            let page = try await page(request, defaultLimit: 50)
            var body = Array(#"{"next_cursor":"#.utf8)
            body += page.cursor.map { Array("\"\($0)\"".utf8) } ?? Array("null".utf8)
            body += Array(#","runs":["#.utf8)
            for (index, record) in page.records.enumerated() {
                if index > 0 { body.append(UInt8(ascii: ",")) }
                body += record
            }
            body += Array("]}".utf8)
            return JSONBody.raw(body)
        } catch {
            return error.response
        }
    }

    private struct Experiment: Encodable {
        var id: String
        var query: String?
        var context: JSONAny?
        var flashResponse: String?
        var proResponse: String?
        var flashLatencyMs: Double?
        var proLatencyMs: Double?
        var createdAt: String?
        var userID: String?
        var status: RunRecordStatus

        enum CodingKeys: String, CodingKey {
            case id, query, context, status
            case flashResponse = "flash_response"
            case proResponse = "pro_response"
            case flashLatencyMs = "flash_latency_ms"
            case proLatencyMs = "pro_latency_ms"
            case createdAt = "created_at"
            case userID = "user_id"
        }

        func encode(to encoder: any Encoder) throws {
            var container = encoder.container(keyedBy: CodingKeys.self)
            try container.encode(id, forKey: .id)
            try container.encode(query, forKey: .query)
            try container.encode(context, forKey: .context)
            try container.encode(flashResponse, forKey: .flashResponse)
            try container.encode(proResponse, forKey: .proResponse)
            try container.encode(flashLatencyMs, forKey: .flashLatencyMs)
            try container.encode(proLatencyMs, forKey: .proLatencyMs)
            try container.encode(createdAt, forKey: .createdAt)
            try container.encode(userID, forKey: .userID)
            try container.encode(status.rawValue, forKey: .status)
        }
    }

    private struct Experiments: Encodable {
        var experiments: [Experiment]
        var count: Int
    }

    private func experiments(_ request: Request) async -> Response {
        do {
            let page = try await page(request, defaultLimit: 100)
            let rows = page.records.compactMap { DualRunRecord(json: $0) }.map { record in
                Experiment(
                    id: record.runID, query: record.query, context: record.contextJSON.flatMap(JSONAny.init),
                    flashResponse: answer(record.flash), proResponse: answer(record.pro),
                    flashLatencyMs: record.flash?.latencyMs, proLatencyMs: record.pro?.latencyMs,
                    createdAt: record.startedAt, userID: record.userID, status: record.status
                )
            }
            return JSONBody.response(Experiments(experiments: rows, count: rows.count))
        } catch {
            return error.response
        }
    }

    /// A model's answer, read from its `*_completed` journal entry.
    private func answer(_ trace: ModelTrace?) -> String? {
        guard let seq = trace?.completedSeq, let entry = try? journal.entry(seq),
            case .modelCompleted(_, let completed)? = try? DomainEvent(entry)
        else { return nil }
        return completed.content
    }

    private func metricsJSON() async -> Response {
        do {
            let store = try await caughtUpStore()
            return JSONBody.raw(MetricsExposition.json(try store.metrics()))
        } catch {
            return APIError(error).response
        }
    }

    private func prometheus() async -> Response {
        do {
            let store = try await caughtUpStore()
            let gauges: [(String, String, Double)] = [
                ("tandem_runs_active", "Runs in progress in this process (live).", Double(coordinator.activeRuns)),
                ("tandem_journal_head_seq", "Last committed journal seq (live).", Double(try journal.head().seq)),
                ("tandem_journal_commit_seconds", "Duration of the last group commit (live).", journal.lastCommitObservation.seconds),
                ("tandem_journal_batch_events", "Events in the last group commit (live).", Double(journal.lastCommitObservation.entries)),
                ("tandem_journal_commits", "Group commits since this process started (live).", Double(journal.commitTotals.commits)),
                ("tandem_journal_committed_entries", "Entries committed since this process started (live).", Double(journal.commitTotals.entries)),
                (
                    "tandem_commit_to_frame_p50_seconds", "Median time from a live frame's commit to its write to the client, this process (live).",
                    coordinator.frameDelays.percentile(50).map { $0.milliseconds / 1_000 } ?? 0
                ),
                (
                    "tandem_commit_to_frame_p99_seconds", "99th percentile of the time from a live frame's commit to its write, this process (live).",
                    coordinator.frameDelays.percentile(99).map { $0.milliseconds / 1_000 } ?? 0
                ),
            ]
            var text = MetricsExposition.prometheus(try store.metrics(), gauges: gauges.map { (name: $0.0, help: $0.1, value: $0.2) })
            if let fleet { text += fleet.prometheus(head: try journal.head().seq) }
            var headers = HTTPFields()
            headers[.contentType] = "text/plain; version=0.0.4; charset=utf-8"
            return Response(status: .ok, headers: headers, body: .init(byteBuffer: .init(string: text)))
        } catch {
            return APIError(error).response
        }
    }

    static func encodeHex(_ bytes: [UInt8]) -> String {
        bytes.map { String(format: "%02x", $0) }.joined()
    }

    /// The bytes of `text`, two lowercase or uppercase hex digits each; `nil` for anything else
    /// (`UInt8(_:radix:)` alone would take a sign, `+f`).
    static func decodeHex(_ text: String) -> [UInt8]? {
        let chars = Array(text.utf8)
        guard chars.count % 2 == 0, chars.count <= 512 else { return nil }
        func nibble(_ char: UInt8) -> UInt8? {
            switch char {
            case UInt8(ascii: "0")...UInt8(ascii: "9"): char - UInt8(ascii: "0")
            case UInt8(ascii: "a")...UInt8(ascii: "f"): char - UInt8(ascii: "a") + 10
            case UInt8(ascii: "A")...UInt8(ascii: "F"): char - UInt8(ascii: "A") + 10
            default: nil
            }
        }
        var bytes: [UInt8] = []
        bytes.reserveCapacity(chars.count / 2)
        var index = 0
        while index < chars.count {
            guard let high = nibble(chars[index]), let low = nibble(chars[index + 1]) else { return nil }
            bytes.append(high << 4 | low)
            index += 2
        }
        return bytes
    }
}

/// A JSON value kept as raw bytes, re-emitted as it is (the client's `context`).
struct JSONAny: Encodable {
    let value: JSONValue

    init?(_ raw: [UInt8]) {
        guard let value = try? CanonicalJSON.decode(JSONValue.self, from: raw) else { return nil }
        self.value = value
    }

    func encode(to encoder: any Encoder) throws {
        try value.encode(to: encoder)
    }
}
