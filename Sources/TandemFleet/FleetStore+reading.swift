import Logging
import PostgresNIO
public import TandemJournal
public import TandemProjections

extension FleetStore {
    /// How long one page of verify's rows may take (5,000 rows, each line parsed as jsonb).
    static let pageLimit: Duration = .seconds(30)

    /// Every node, ordered by id.
    public func nodes() async throws(FleetError) -> [FleetNodeRow] {
        try await bounded(Self.readLimit) {
            try await client.checkedQuery(
                """
                SELECT node_id, head_seq, shipped_seq, shipped_hash, to_char(updated_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"'), divergence
                  FROM tandem.nodes ORDER BY node_id
                """,
                logger: logger
            ) { rows in
                var result: [FleetNodeRow] = []
                for try await (node, head, seq, hash, updated, divergence) in rows.decode((String, Int64, Int64, String, String, String?).self) {
                    result.append(FleetNodeRow(
                        nodeID: node, headSeq: UInt64(max(head, 0)), shippedSeq: UInt64(max(seq, 0)), shippedHash: hash,
                        updatedAt: updated, divergence: divergence
                    ))
                }
                return result
            }
        }
    }

    /// The node that stored `runID` and the run's entry lines in seq order; `nil` when unknown.
    public func run(_ runID: String, limit: Duration = FleetStore.readLimit) async throws(FleetError) -> (nodeID: String, entries: [JournalEntry])? {
        try await bounded(limit) {
            try await client.checkedQuery(
                """
                SELECT j.node_id, j.line FROM tandem.runs r
                  JOIN tandem.journal j ON j.node_id = r.node_id AND j.run_id = r.run_id
                 WHERE r.run_id = \(runID) ORDER BY j.seq
                """,
                logger: logger
            ) { rows in
                var node: String?
                var entries: [JournalEntry] = []
                for try await (nodeID, line) in rows.decode((String, String).self) {
                    node = nodeID
                    entries.append(try JournalEntry(line: Array(line.utf8)))
                }
                return node.map { ($0, entries) }
            }
        }
    }

    /// The newest runs of the fleet, newest first.
    public func runs(limit: Int, status: RunRecordStatus?) async throws(FleetError) -> [FleetRunSummary] {
        try await bounded(Self.readLimit) {
            try await client.checkedQuery(
                """
                SELECT run_id, node_id, status, record ->> 'started_at', duration_ms,
                       (record -> 'flash' ->> 'latency_ms')::double precision, (record -> 'pro' ->> 'latency_ms')::double precision
                  FROM tandem.runs
                 WHERE \(status?.rawValue)::text IS NULL OR status = \(status?.rawValue)
                 ORDER BY started_at DESC NULLS LAST, run_id DESC LIMIT \(limit)
                """,
                logger: logger
            ) { rows in
                var result: [FleetRunSummary] = []
                for try await (run, node, status, started, duration, flash, pro) in rows.decode((String, String, String, String?, Double?, Double?, Double?).self) {
                    result.append(FleetRunSummary(
                        runID: run, nodeID: node, status: status, startedAt: started, durationMs: duration, flashLatencyMs: flash, proLatencyMs: pro
                    ))
                }
                return result
            }
        }
    }

    /// Up to `limit` rows of `node` after `seq`, in seq order, with a check of their derived columns.
    public func rows(of node: String, after seq: UInt64, limit: Int) async throws(FleetError) -> [FleetJournalRow] {
        try await bounded(Self.pageLimit) {
            try await client.checkedQuery(
                """
                SELECT seq, line, coalesce(
                         seq = (l ->> 'seq')::bigint AND ts = (l ->> 'ts')::timestamptz AND run_id = l ->> 'run_id'
                         AND type = l ->> 'type' AND data = l -> 'data' AND prev = l ->> 'prev', false)
                  FROM (SELECT j.*, \(unescaped: Self.jsonbOf("j.line")) AS l FROM tandem.journal j
                         WHERE j.node_id = \(node) AND j.seq > \(Int64(seq)) ORDER BY j.seq LIMIT \(limit)) AS rows
                 ORDER BY seq
                """,
                logger: logger
            ) { rows in
                var result: [FleetJournalRow] = []
                for try await (seq, line, agree) in rows.decode((Int64, String, Bool).self) {
                    result.append(FleetJournalRow(seq: UInt64(max(seq, 0)), line: Array(line.utf8), columnsAgree: agree))
                }
                return result
            }
        }
    }
}
