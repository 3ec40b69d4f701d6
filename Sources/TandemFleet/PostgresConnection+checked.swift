import Logging
import PostgresNIO

extension PostgresConnection {
    /// Runs `query` unless the connection is already closed.
    ///
    /// postgres-nio 1.33 never completes a query written to a connection that has closed (the
    /// server crashed mid-transaction, say; vapor/postgres-nio#487, reverted in #501), and the
    /// wait ignores cancellation. Checking first narrows that to a race between the check and
    /// the write; if it is ever lost, the attempt's limit
    /// (``withFleetDeadline(_:clock:abandonAfter:onAbandon:_:)``) leaves the attempt behind
    /// ``fleetAbandonGrace`` after cancelling it, and the shipper goes on.
    @discardableResult
    func checkedQuery(_ query: PostgresQuery, logger: Logger) async throws -> PostgresRowSequence {
        guard !isClosed else { throw FleetError.database("the connection to PostgreSQL was lost") }
        return try await self.query(query, logger: logger)
    }
}

extension PostgresClient {
    /// `body` in one transaction on one connection: committed when it returns, rolled back when it
    /// throws. Like `withTransaction`, but every statement goes through
    /// ``PostgresNIO/PostgresConnection/checkedQuery(_:logger:)``, so a connection lost
    /// mid-transaction fails the transaction instead of hanging it.
    func checkedTransaction<Result: Sendable>(
        logger: Logger, _ body: (PostgresConnection) async throws -> Result
    ) async throws -> Result {
        try await withOperationConnection { connection in
            try await connection.checkedQuery("BEGIN", logger: logger)
            let result: Result
            do {
                result = try await body(connection)
            } catch {
                if !connection.isClosed { _ = try? await connection.checkedQuery("ROLLBACK", logger: logger) }
                throw error
            }
            try await connection.checkedQuery("COMMIT", logger: logger)
            return result
        }
    }

    /// `query` on a pooled connection (``withOperationConnection(_:)``), its rows read by `read`
    /// before the connection goes back to the pool.
    func checkedQuery<Result: Sendable>(
        _ query: PostgresQuery, logger: Logger, _ read: (PostgresRowSequence) async throws -> Result
    ) async throws -> Result {
        try await withOperationConnection { connection in
            try await read(try await connection.checkedQuery(query, logger: logger))
        }
    }

    /// `body` with a pooled connection that counts as the current fleet operation's
    /// (``FleetOperation``), so that an operation left behind by its deadline has it closed.
    func withOperationConnection<Result: Sendable>(_ body: (PostgresConnection) async throws -> Result) async throws -> Result {
        try await withConnection { connection in
            guard let operation = FleetOperation.current else { return try await body(connection) }
            return try await operation.holding(connection) { try await body(connection) }
        }
    }
}
