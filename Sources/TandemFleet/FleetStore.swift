public import Logging
import NIOCore
public import PostgresNIO
public import TandemJournal
public import TandemProjections

/// A node's shipped mark as stored in `tandem.nodes`.
public struct ShippedMark: Sendable, Equatable {
    /// The last seq of the node in the store (0 before the first batch).
    public var seq: UInt64
    /// The SHA-256 (hex) of that entry's line: the next entry's `prev` must equal it.
    public var hash: String
    /// Why shipping of the node stopped, when a divergence was found.
    public var divergence: String?
}

/// A node as `tandem fleet status` shows it.
public struct FleetNodeRow: Sendable, Equatable {
    public var nodeID: String
    /// The node's journal head as its shipper last reported it.
    public var headSeq: UInt64
    public var shippedSeq: UInt64
    public var shippedHash: String
    public var updatedAt: String
    public var divergence: String?
}

/// What one shipped batch did.
public struct ShipResult: Sendable, Equatable {
    /// The node's mark after the batch.
    public var mark: ShippedMark
    /// Entries newly stored.
    public var stored: Int
    /// Entries that were already stored and found byte-identical.
    public var alreadyStored: Int
    /// Run ids this batch used that another node had used first (newly detected).
    public var collisions: [String]
}

/// A run's `DualRunRecord` (canonical JSON) as shipped with a batch; the store reads its run id
/// and columns from the JSON itself. Text, made on the shipper's reader thread, as the store
/// sends it.
public struct FleetRunRecord: Sendable, Equatable {
    public var json: String

    public init(json: String) {
        self.json = json
    }
}

/// A run as `tandem runs list --fleet` shows it.
public struct FleetRunSummary: Sendable, Equatable {
    public var runID: String
    public var nodeID: String
    public var status: String
    public var startedAt: String?
    public var durationMs: Double?
    public var flashLatencyMs: Double?
    public var proLatencyMs: Double?
}

/// One shipped row, as verify reads it.
public struct FleetJournalRow: Sendable {
    public var seq: UInt64
    public var line: [UInt8]
    /// Whether the derived columns (seq, ts, run_id, type, data, prev) agree with `line`.
    public var columnsAgree: Bool
}

/// The fleet store's queries: shipping batches, marks, lookups and verify's reads (SPEC §7).
public struct FleetStore: Sendable {
    /// The connection pool; its `run()` must be running while the store is used.
    public let client: PostgresClient
    public let logger: Logger

    public init(client: PostgresClient, logger: Logger) {
        self.client = client
        self.logger = logger
    }

    // MARK: Shipping

    /// The node's mark, registering the node on first use.
    public func mark(of node: String) async throws(FleetError) -> ShippedMark {
        try await database {
            try await Self.mark(of: node, in: try await client.query(Self.registeringNode(node), logger: logger))
        }
    }

    /// Registers `node` on first use and returns its mark's row: an upsert that changes nothing,
    /// so that it returns the row in one round trip (and, in a transaction, locks it).
    private static func registeringNode(_ node: String) -> PostgresQuery {
        """
        INSERT INTO tandem.nodes AS n (node_id) VALUES (\(node))
        ON CONFLICT (node_id) DO UPDATE SET node_id = n.node_id
        RETURNING shipped_seq, shipped_hash, divergence
        """
    }

    /// The mark in the rows of ``registeringNode(_:)``.
    private static func mark(of node: String, in rows: PostgresRowSequence) async throws -> ShippedMark {
        for try await (seq, hash, divergence) in rows.decode((Int64, String, String?).self) {
            return ShippedMark(seq: UInt64(max(seq, 0)), hash: hash, divergence: divergence)
        }
        throw FleetError.database("the node row of \(node) vanished")
    }

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
        return try await ship(batch, durable: true, beforeCommit: beforeCommit)
    }

    /// Stores a prepared batch of its node; see ``ship(node:entries:records:head:beforeCommit:)``.
    /// - Parameter durable: whether the commit waits for PostgreSQL's WAL flush
    ///   (not for a shipper that ``FleetShipper/Configuration/trailsServer``).
    func ship(_ batch: ShipBatch, durable: Bool, beforeCommit: (@Sendable (UInt64) async throws -> Void)?) async throws(FleetError) -> ShipResult {
        let (node, entries) = (batch.node, batch.entries)
        if let seq = batch.brokenLinkSeq {
            throw .divergence(node: node, seq: seq, reason: "the local journal's chain is broken here (its prev is not the hash of the entry before it); run `tandem journal verify`")
        }
        return try await database {
            try await client.checkedTransaction(logger: logger) { connection in
                // Registers the node on first use and locks its row: a second shipper of the same
                // node waits here, then sees the new mark.
                let stored = try await Self.mark(of: node, in: try await connection.checkedQuery(Self.registeringNode(node), logger: logger))
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
                guard firstFresh.prev == stored.hash else {
                    throw FleetError.divergence(
                        node: node, seq: firstFresh.seq,
                        reason: "its prev \(firstFresh.prev) is not the stored hash \(stored.hash) of entry \(stored.seq): the local journal was rewritten after it was shipped, or another journal ships under this node id"
                    )
                }
                try await copy(batch.rows(from: resent.count), durable: durable, connection)
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

    /// Marks shipping of `node` as stopped by a divergence (kept until an operator clears it).
    public func recordDivergence(node: String, reason: String) async throws(FleetError) {
        _ = try await database {
            try await client.query(
                "UPDATE tandem.nodes SET divergence = \(reason), diverged_at = now() WHERE node_id = \(node) AND divergence IS NULL",
                logger: logger
            )
        }
    }

    /// `column` (text holding JSON) as jsonb. jsonb cannot hold U+0000, so an escaped NUL becomes
    /// U+FFFD in the derived column only; `line` keeps the exact bytes. An escape is a `\u0000`
    /// after an even run of backslashes (`\\u0000` is a backslash and the text "u0000", kept);
    /// ``JSONBText/replacingEscapedNUL(_:)`` does the same for the rows the shipper copies.
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

    /// Streams prepared rows with `COPY` straight into `tandem.journal` (the primary key refuses a
    /// row stored twice, failing the batch, which is then retried from the mark).
    private func copy(_ rows: ArraySlice<UInt8>, durable: Bool, _ connection: PostgresConnection) async throws {
        // postgres-nio quotes the table name whole, so the schema comes from the search path;
        // both settings last until the transaction ends.
        try await connection.checkedQuery(
            "SELECT set_config('search_path', 'tandem', true), set_config('synchronous_commit', \(durable ? "on" : "off"), true)",
            logger: logger
        )
        guard !connection.isClosed else { throw FleetError.database("the connection to PostgreSQL was lost") }
        try await connection.copyFrom(table: "journal", columns: ShipBatch.columns, logger: logger) { writer in
            try await writer.write(ByteBuffer(bytes: rows))
        }
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

    // MARK: Reading

    /// Every node, ordered by id.
    public func nodes() async throws(FleetError) -> [FleetNodeRow] {
        try await database {
            var result: [FleetNodeRow] = []
            let rows = try await client.query(
                """
                SELECT node_id, head_seq, shipped_seq, shipped_hash, to_char(updated_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"'), divergence
                  FROM tandem.nodes ORDER BY node_id
                """,
                logger: logger
            )
            for try await (node, head, seq, hash, updated, divergence) in rows.decode((String, Int64, Int64, String, String, String?).self) {
                result.append(FleetNodeRow(
                    nodeID: node, headSeq: UInt64(max(head, 0)), shippedSeq: UInt64(max(seq, 0)), shippedHash: hash,
                    updatedAt: updated, divergence: divergence
                ))
            }
            return result
        }
    }

    /// The node that stored `runID` and the run's entry lines in seq order; `nil` when unknown.
    public func run(_ runID: String) async throws(FleetError) -> (nodeID: String, entries: [JournalEntry])? {
        try await database {
            var node: String?
            var entries: [JournalEntry] = []
            let rows = try await client.query(
                """
                SELECT j.node_id, j.line FROM tandem.runs r
                  JOIN tandem.journal j ON j.node_id = r.node_id AND j.run_id = r.run_id
                 WHERE r.run_id = \(runID) ORDER BY j.seq
                """,
                logger: logger
            )
            for try await (nodeID, line) in rows.decode((String, String).self) {
                node = nodeID
                entries.append(try JournalEntry(line: Array(line.utf8)))
            }
            return node.map { ($0, entries) }
        }
    }

    /// The newest runs of the fleet, newest first.
    public func runs(limit: Int, status: RunRecordStatus?) async throws(FleetError) -> [FleetRunSummary] {
        try await database {
            var result: [FleetRunSummary] = []
            let rows = try await client.query(
                """
                SELECT run_id, node_id, status, record ->> 'started_at', duration_ms,
                       (record -> 'flash' ->> 'latency_ms')::double precision, (record -> 'pro' ->> 'latency_ms')::double precision
                  FROM tandem.runs
                 WHERE \(status?.rawValue)::text IS NULL OR status = \(status?.rawValue)
                 ORDER BY started_at DESC NULLS LAST, run_id DESC LIMIT \(limit)
                """,
                logger: logger
            )
            for try await (run, node, status, started, duration, flash, pro) in rows.decode((String, String, String, String?, Double?, Double?, Double?).self) {
                result.append(FleetRunSummary(
                    runID: run, nodeID: node, status: status, startedAt: started, durationMs: duration, flashLatencyMs: flash, proLatencyMs: pro
                ))
            }
            return result
        }
    }

    /// Up to `limit` rows of `node` after `seq`, in seq order, with a check of their derived columns.
    public func rows(of node: String, after seq: UInt64, limit: Int) async throws(FleetError) -> [FleetJournalRow] {
        try await database {
            var result: [FleetJournalRow] = []
            let rows = try await client.query(
                """
                SELECT seq, line, coalesce(
                         seq = (l ->> 'seq')::bigint AND ts = (l ->> 'ts')::timestamptz AND run_id = l ->> 'run_id'
                         AND type = l ->> 'type' AND data = l -> 'data' AND prev = l ->> 'prev', false)
                  FROM (SELECT j.*, \(unescaped: Self.jsonbOf("j.line")) AS l FROM tandem.journal j
                         WHERE j.node_id = \(node) AND j.seq > \(Int64(seq)) ORDER BY j.seq LIMIT \(limit)) AS rows
                 ORDER BY seq
                """,
                logger: logger
            )
            for try await (seq, line, agree) in rows.decode((Int64, String, Bool).self) {
                result.append(FleetJournalRow(seq: UInt64(max(seq, 0)), line: Array(line.utf8), columnsAgree: agree))
            }
            return result
        }
    }

    // MARK: Errors

    /// Runs `body`, turning PostgreSQL's errors into ``FleetError/database(_:)`` with the server's message.
    func database<T>(_ body: () async throws -> T) async throws(FleetError) -> T {
        do {
            return try await body()
        } catch let error as FleetError {
            throw error
        } catch {
            throw .database(Self.describe(error))
        }
    }

    /// A sentence for a PostgreSQL error: the server's message when there is one.
    public static func describe(_ error: any Error) -> String {
        if let error = error as? PSQLError {
            if let message = error.serverInfo?[.message] {
                return message + (error.serverInfo?[.detail].map { " (\($0))" } ?? "")
            }
            if let underlying = error.underlying { return "\(error.code): \(underlying)" }
            return "\(error.code)"
        }
        return "\(error)"
    }
}
