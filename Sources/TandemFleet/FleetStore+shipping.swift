import Logging
import NIOCore
import PostgresNIO
public import TandemJournal

extension FleetStore {
    /// Stores `entries` (contiguous, in seq order) of `node` and its run `records` (canonical JSON),
    /// and moves the node's mark, in one transaction.
    ///
    /// Entries at or below the stored mark must equal the stored lines byte for byte; the first
    /// entry past the mark must continue the stored chain. Anything else throws
    /// ``FleetError/divergence(node:seq:reason:)`` and changes nothing.
    /// - Parameter beforeCommit: a fault point for tests, called with the batch's last seq once its
    ///   rows are written and before the mark moves and the transaction commits.
    public func ship(
        node: String, entries: [JournalEntry], records: [FleetRunRecord], head: UInt64,
        beforeCommit: (@Sendable (UInt64) async throws -> Void)? = nil
    ) async throws(FleetError) -> ShipResult {
        guard let batch = ShipBatch(node: node, entries: entries, records: records, head: head) else {
            return ShipResult(mark: try await mark(of: node), stored: 0, alreadyStored: 0, collisions: [])
        }
        return try await ship(batch, durable: true, secretHash: nil, limit: .seconds(30), beforeCommit: beforeCommit)
    }

    /// Stores a prepared batch of its node; see ``ship(node:entries:records:head:beforeCommit:)``.
    /// - Parameters:
    ///   - durable: whether the commit waits for PostgreSQL's WAL flush
    ///     (not for a shipper that ``FleetShipper/Configuration/trailsServer``).
    ///   - secretHash: the node's secret hash; a row holding another is another node's
    ///     (``FleetError/nodeIDInUse(_:)``, nothing changed).
    ///   - limit: the whole transaction's limit, on both sides (`SET LOCAL statement_timeout`).
    func ship(
        _ batch: ShipBatch, durable: Bool, secretHash: String?, limit: Duration, beforeCommit: (@Sendable (UInt64) async throws -> Void)?
    ) async throws(FleetError) -> ShipResult {
        let (node, entries) = (batch.node, batch.entries)
        // First: an altered line also breaks the link after it, and this names the line itself.
        if let seq = batch.invalidTextSeq {
            throw .divergence(node: node, seq: seq, reason: "the local journal's line here is not text PostgreSQL can hold (not valid UTF-8, or a NUL byte; the journal writes neither, so the file was altered); run `tandem journal verify`")
        }
        if let seq = batch.brokenLinkSeq {
            throw .divergence(node: node, seq: seq, reason: "the local journal's chain is broken here (its prev is not the hash of the entry before it); run `tandem journal verify`")
        }
        let statementLimitMs = max(1, limit.components.seconds * 1_000 + limit.components.attoseconds / 1_000_000_000_000_000)
        return try await bounded(limit) {
            try await client.checkedTransaction(logger: logger) { connection in
                // PostgreSQL gives up on its side too when the attempt's limit passes.
                try await connection.checkedQuery(PostgresQuery(unsafeSQL: "SET LOCAL statement_timeout = \(statementLimitMs)"), logger: logger)
                // Registers the node on first use and locks its row: a second shipper of the same
                // node waits here, then sees the new mark.
                let (stored, storedSecret) = try await Self.mark(
                    of: node, in: try await connection.checkedQuery(Self.registeringNode(node, secretHash: secretHash), logger: logger)
                )
                if let secretHash, let storedSecret, storedSecret != secretHash { throw FleetError.nodeIDInUse(node) }
                if let divergence = stored.divergence {
                    throw FleetError.divergence(node: node, seq: stored.seq, reason: "shipping of this node was stopped earlier: \(divergence)")
                }
                let resent = entries.prefix { $0.seq <= stored.seq }
                if let firstResent = resent.first, let lastResent = resent.last {
                    try await compareStored(node: node, resent: Array(resent), from: firstResent.seq, through: lastResent.seq, connection)
                }
                guard resent.count < entries.count else {
                    return ShipResult(mark: stored, stored: 0, alreadyStored: resent.count, collisions: [])
                }
                let firstFresh = entries[resent.count]
                guard firstFresh.seq == stored.seq + 1 else {
                    throw FleetError.database("batch of \(node) starts at seq \(batch.firstSeq) but the store ends at \(stored.seq); retrying from the mark")
                }
                var chain = ChainWalk(afterHash: Array(stored.hash.utf8))
                guard chain.step(firstFresh) else {
                    throw FleetError.divergence(
                        node: node, seq: firstFresh.seq,
                        reason: "its prev \(firstFresh.prev) is not the stored hash \(stored.hash) of entry \(stored.seq): the local journal was rewritten after it was shipped, or another journal ships under this node id"
                    )
                }
                try await insert(batch.rows(from: resent.count), node: node, durable: durable, connection)
                let collisions = try await upsert(records: batch.records, node: node, connection)
                try await beforeCommit?(batch.lastSeq)
                let mark = ShippedMark(seq: batch.lastSeq, hash: batch.lastHash)
                try await connection.checkedQuery(
                    """
                    UPDATE tandem.nodes SET shipped_seq = \(Int64(mark.seq)), shipped_hash = \(mark.hash),
                           head_seq = greatest(head_seq, \(Int64(batch.head))), updated_at = now()
                     WHERE node_id = \(node)
                    """,
                    logger: logger
                )
                return ShipResult(mark: mark, stored: entries.count - resent.count, alreadyStored: resent.count, collisions: collisions)
            }
        }
    }

    /// Marks shipping of `node` as stopped by a divergence (kept until an operator clears it);
    /// never on a row that another node's secret holds.
    public func recordDivergence(node: String, reason: String, secretHash: String? = nil) async throws(FleetError) {
        try await bounded(Self.readLimit) {
            try await client.checkedQuery(
                """
                UPDATE tandem.nodes SET divergence = \(reason), diverged_at = now()
                 WHERE node_id = \(node) AND divergence IS NULL AND (secret_hash IS NULL OR secret_hash = \(secretHash) OR \(secretHash)::text IS NULL)
                """,
                logger: logger
            ) { _ in }
        }
    }

    /// `column` (text holding JSON) as jsonb. jsonb cannot hold U+0000, so an escaped NUL becomes
    /// U+FFFD in the derived column only; `line` keeps the exact bytes. An escape is a `\u0000`
    /// after an even run of backslashes (`\\u0000` is a backslash and the text "u0000", kept);
    /// ``JSONBText/replacingEscapedNUL(_:)`` does the same for the rows the shipper stores.
    static func jsonbOf(_ column: String) -> String {
        #"(CASE WHEN strpos(\#(column), '\u0000') > 0 THEN regexp_replace(\#(column), '(?<!\\)((?:\\\\)*)\\u0000', '\1\\ufffd', 'g') ELSE \#(column) END)::jsonb"#
    }

    private func compareStored(node: String, resent: [JournalEntry], from: UInt64, through: UInt64, _ connection: PostgresConnection) async throws {
        var index = 0
        let rows = try await connection.checkedQuery(
            "SELECT seq, line FROM tandem.journal WHERE node_id = \(node) AND seq BETWEEN \(Int64(from)) AND \(Int64(through)) ORDER BY seq",
            logger: logger
        )
        for try await (seq, line) in rows.decode((Int64, String).self) {
            guard index < resent.count, UInt64(seq) == resent[index].seq else { break }
            guard line.utf8.elementsEqual(resent[index].line) else {
                throw FleetError.divergence(node: node, seq: UInt64(seq), reason: "the stored row differs from the entry the node holds; nothing was overwritten")
            }
            index += 1
        }
        guard index == resent.count else {
            throw FleetError.divergence(node: node, seq: resent[index].seq, reason: "the store's mark covers this entry but its row is missing")
        }
    }

    /// Inserts `rows` into `tandem.journal` (one statement, a bound array per column), with
    /// `synchronous_commit` as `durable` says for the rest of the transaction. The primary key
    /// refuses a row stored twice, failing the batch, which is then retried from the mark.
    private func insert(_ rows: JournalRows, node: String, durable: Bool, _ connection: PostgresConnection) async throws {
        try await connection.checkedQuery("SELECT set_config('synchronous_commit', \(durable ? "on" : "off"), true)", logger: logger)
        try await connection.checkedQuery(
            """
            INSERT INTO tandem.journal (node_id, seq, ts, run_id, type, data, line, prev)
            SELECT \(node), s, t::timestamptz, r, y, d::jsonb, l, p
              FROM unnest(\(rows.seqs)::bigint[], \(rows.timestamps)::text[], \(rows.runIDs)::text[], \(rows.types)::text[],
                          \(rows.data)::text[], \(rows.lines)::text[], \(rows.prevs)::text[]) AS u(s, t, r, y, d, l, p)
            """,
            logger: logger
        )
    }

    /// Inserts or updates the node's run records; a run id another node stored first is left as it
    /// is and reported (newly detected ones only).
    private func upsert(records: [FleetRunRecord], node: String, _ connection: PostgresConnection) async throws -> [String] {
        guard !records.isEmpty else { return [] }
        let texts = records.map(\.json)
        // Returns only the runs it did not write (another node's, normally none), not every run
        // of the batch. Rows are written in run id order, so two nodes that ship the same new
        // ids at once lock them in the same order and cannot deadlock. `incoming` is read twice,
        // so PostgreSQL parses each record once; `OFFSET 0` keeps it from being inlined into the
        // `->>`s (measured: 2.4 times the whole upsert).
        let skipped = try await connection.checkedQuery(
            """
            WITH incoming AS (SELECT \(unescaped: Self.jsonbOf("t")) AS r FROM unnest(\(texts)::text[]) AS t OFFSET 0),
            written AS (
                INSERT INTO tandem.runs (run_id, node_id, status, started_at, ended_at, duration_ms, record)
                SELECT r ->> 'run_id', \(node), r ->> 'status', (r ->> 'started_at')::timestamptz, (r ->> 'ended_at')::timestamptz,
                       (r ->> 'duration_ms')::double precision, r
                  FROM incoming ORDER BY 1
                ON CONFLICT (run_id) DO UPDATE
                   SET status = EXCLUDED.status, started_at = EXCLUDED.started_at, ended_at = EXCLUDED.ended_at,
                       duration_ms = EXCLUDED.duration_ms, record = EXCLUDED.record
                 WHERE tandem.runs.node_id = EXCLUDED.node_id
                RETURNING run_id
            )
            SELECT r ->> 'run_id' FROM incoming WHERE r ->> 'run_id' NOT IN (SELECT run_id FROM written)
            """,
            logger: logger
        )
        var candidates: [String] = []
        for try await runID in skipped.decode(String.self) { candidates.append(runID) }
        guard !candidates.isEmpty else { return [] }
        let detected = try await connection.checkedQuery(
            """
            INSERT INTO tandem.run_id_collisions (run_id, node_id, first_node_id)
            SELECT r.run_id, \(node), r.node_id FROM tandem.runs r WHERE r.run_id = ANY(\(candidates)::text[]) AND r.node_id <> \(node)
            ON CONFLICT (run_id, node_id) DO NOTHING
            RETURNING run_id
            """,
            logger: logger
        )
        var collisions: [String] = []
        for try await runID in detected.decode(String.self) { collisions.append(runID) }
        return collisions
    }
}
