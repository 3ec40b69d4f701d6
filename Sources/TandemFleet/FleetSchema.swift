import Logging
import PostgresNIO

/// The fleet store's schema (SPEC §7), created and migrated by tandem itself.
///
/// Each migration runs in its own transaction together with its row in `tandem.schema_version`,
/// under an advisory lock, so two nodes starting at once migrate once. Migrations are only ever
/// appended: a released one is never edited.
public enum FleetSchema {
    /// The newest schema version this binary knows.
    public static var currentVersion: Int { migrations.count }

    /// Brings the schema to ``currentVersion``.
    /// - Returns: the versions applied now (empty when it was up to date).
    /// - Throws: ``FleetError/schemaTooNew(found:known:)`` when the store was migrated by a newer
    ///   tandem, ``FleetError/database(_:)`` when PostgreSQL fails.
    @discardableResult
    static func migrate(_ client: PostgresClient, logger: Logger) async throws(FleetError) -> [Int] {
        do {
            return try await client.checkedTransaction(logger: logger) { connection in
                // Serialises concurrent migrators (two nodes starting together); released at commit.
                try await connection.checkedQuery("SELECT pg_advisory_xact_lock(7305218190340)", logger: logger)
                try await connection.checkedQuery("CREATE SCHEMA IF NOT EXISTS tandem", logger: logger)
                try await connection.checkedQuery(
                    "CREATE TABLE IF NOT EXISTS tandem.schema_version (version integer PRIMARY KEY, applied_at timestamptz NOT NULL DEFAULT now())",
                    logger: logger
                )
                var found = 0
                for try await version in try await connection.checkedQuery("SELECT coalesce(max(version), 0) FROM tandem.schema_version", logger: logger).decode(Int.self) {
                    found = version
                }
                guard found <= currentVersion else { throw FleetError.schemaTooNew(found: found, known: currentVersion) }
                var applied: [Int] = []
                for version in (found + 1)..<(currentVersion + 1) {
                    for statement in migrations[version - 1] {
                        try await connection.checkedQuery(PostgresQuery(unsafeSQL: statement), logger: logger)
                    }
                    try await connection.checkedQuery("INSERT INTO tandem.schema_version (version) VALUES (\(version))", logger: logger)
                    applied.append(version)
                }
                return applied
            }
        } catch {
            throw .from(error)
        }
    }

    /// The migrations, in order; migration N brings the schema to version N.
    ///
    /// `tandem.journal` and `tandem.runs` name their node without a foreign key: a ship
    /// transaction registers and locks its node's row before it writes any row of the node, so
    /// every row has its node by construction, and a per-row check doubled the cost of storing an
    /// entry (measured with `make bench-fleet`).
    static let migrations: [[String]] = [
        [
            """
            CREATE TABLE tandem.nodes (
                node_id text PRIMARY KEY,
                shipped_seq bigint NOT NULL DEFAULT 0,
                head_seq bigint NOT NULL DEFAULT 0,
                shipped_hash text NOT NULL DEFAULT repeat('0', 64),
                updated_at timestamptz NOT NULL DEFAULT now(),
                divergence text,
                diverged_at timestamptz
            )
            """,
            """
            CREATE TABLE tandem.journal (
                node_id text NOT NULL,
                seq bigint NOT NULL,
                ts timestamptz NOT NULL,
                run_id text NOT NULL,
                type text NOT NULL,
                data jsonb NOT NULL,
                line text NOT NULL,
                prev text NOT NULL,
                PRIMARY KEY (node_id, seq)
            )
            """,
            "CREATE INDEX journal_run_idx ON tandem.journal (run_id, node_id, seq)",
            """
            CREATE TABLE tandem.runs (
                run_id text PRIMARY KEY,
                node_id text NOT NULL,
                status text NOT NULL,
                started_at timestamptz,
                ended_at timestamptz,
                duration_ms double precision,
                record jsonb NOT NULL
            )
            """,
            "CREATE INDEX runs_started_idx ON tandem.runs (started_at DESC, run_id DESC)",
            """
            CREATE TABLE tandem.run_id_collisions (
                run_id text NOT NULL,
                node_id text NOT NULL,
                first_node_id text NOT NULL,
                detected_at timestamptz NOT NULL DEFAULT now(),
                PRIMARY KEY (run_id, node_id)
            )
            """,
            // The old service's audit table, as a view over the records; answers come from the
            // completed entries they point at (the journal is the only copy of an answer).
            """
            CREATE VIEW tandem.experiment_runs AS
            SELECT r.run_id AS id,
                   r.record -> 'input' ->> 'query' AS query,
                   r.record -> 'input' -> 'context' AS context,
                   (SELECT j.data ->> 'content' FROM tandem.journal j
                     WHERE j.node_id = r.node_id AND j.seq = (r.record -> 'flash' ->> 'completed_seq')::bigint) AS flash_response,
                   (SELECT j.data ->> 'content' FROM tandem.journal j
                     WHERE j.node_id = r.node_id AND j.seq = (r.record -> 'pro' ->> 'completed_seq')::bigint) AS pro_response,
                   (r.record -> 'flash' ->> 'latency_ms')::double precision AS flash_latency_ms,
                   (r.record -> 'pro' ->> 'latency_ms')::double precision AS pro_latency_ms,
                   r.started_at AS created_at,
                   r.record -> 'input' -> 'context' ->> 'user_id' AS user_id,
                   r.status,
                   r.node_id
              FROM tandem.runs r
            """,
            // Where the old service's queries look (search_path "$user", public), unless a table
            // of that name is already there (the old service's own, kept as it is).
            """
            DO $$ BEGIN
              IF to_regclass('public.experiment_runs') IS NULL THEN
                CREATE VIEW public.experiment_runs AS SELECT * FROM tandem.experiment_runs;
              END IF;
            END $$
            """,
        ],
        // Node identity (SPEC §11): the SHA-256 of each node's secret; NULL for rows from before
        // secrets, claimed by the first node whose journal continues their chain.
        [
            "ALTER TABLE tandem.nodes ADD COLUMN secret_hash text",
        ],
    ]
}
