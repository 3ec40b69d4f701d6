import HTTPTypes
import Hummingbird
import TandemDomain
import TandemFleetReading
import TandemJournal
import TandemProjections
import TandemRuns

/// Reads of runs this node does not have, from the fleet store (SPEC §7): the answer names the
/// node that ran it in `X-Tandem-Node`. Only asked after the local journal said "not found", so
/// the fleet store is never in the path of a local run.
struct FleetFallback: Sendable {
    let link: (any FleetReading)?

    static let nodeHeader = HTTPField.Name("X-Tandem-Node")!

    /// The run's node and entries from the fleet store; `nil` when there is no fleet or no such run.
    func run(_ runID: String) async throws(APIError) -> (nodeID: String, entries: [JournalEntry])? {
        guard let link else { return nil }
        do {
            // Bounded in time and number: a request must not start unbounded work while PostgreSQL is unreachable.
            return try await link.run(runID)
        } catch {
            throw APIError(error)
        }
    }

    /// `GET /api/runs/{id}` from the fleet: the record folded from the shipped entries.
    func record(_ runID: String) async throws(APIError) -> Response? {
        guard let (node, entries) = try await run(runID), let record = RecordFold.record(of: entries, run: runID) else { return nil }
        return Self.tagged(JSONBody.raw(record.json), node: node)
    }

    /// `GET /api/runs/{id}/events` from the fleet: the shipped lines, ordered.
    func events(_ runID: String) async throws(APIError) -> Response? {
        guard let (node, entries) = try await run(runID), !entries.isEmpty else { return nil }
        return Self.tagged(JSONBody.raw(Self.array(of: entries)), node: node)
    }

    /// The frames of a finished run from the fleet, after `afterSeq`; `nil` when the fleet does not
    /// have it finished (a run in progress is followed on its own node).
    func frames(_ runID: String, afterSeq: UInt64) async throws(APIError) -> (nodeID: String, frames: [SSEFrame])? {
        guard let (node, entries) = try await run(runID) else { return nil }
        var renderer = FrameRenderer(traceID: runID)
        var frames: [SSEFrame] = []
        var finished = false
        for entry in entries {
            guard let event = try? DomainEvent(entry), let frame = renderer.frame(for: event, seq: entry.seq) else { continue }
            if frame.isTerminal { finished = true }
            if entry.seq > afterSeq { frames.append(frame) }
            if finished { break }
        }
        return finished ? (node, frames) : nil
    }

    static func array(of entries: [JournalEntry]) -> [UInt8] {
        var body: [UInt8] = [UInt8(ascii: "[")]
        for (index, entry) in entries.enumerated() {
            if index > 0 { body.append(UInt8(ascii: ",")) }
            body += entry.line
        }
        body.append(UInt8(ascii: "]"))
        return body
    }

    static func tagged(_ response: Response, node: String) -> Response {
        var response = response
        response.headers[nodeHeader] = node
        return response
    }
}
