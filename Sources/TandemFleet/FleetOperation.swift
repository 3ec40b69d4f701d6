import PostgresNIO
import Synchronization

/// The pooled connections that one fleet operation (a body of
/// ``withFleetDeadline(_:clock:abandonAfter:onAbandon:_:)``) has leased, so that an operation left
/// behind gives them up.
///
/// postgres-nio can leave an operation suspended for ever (docs/DESIGN.md, "Known open defects").
/// Such an operation keeps its lease, and the pool has four; if it had a transaction open, its
/// session keeps the transaction's row locks (the node's row, which every ship locks). Closing the
/// operation's connections ends both: the pool drops a leased connection that closes and may open
/// another, and PostgreSQL ends the session and its transaction when the socket closes.
///
/// Deadlines nest (a shipping attempt's holds the ship transaction's): a connection counts for the
/// operation that leased it and for every one around it, so whichever deadline leaves its body
/// behind closes it.
final class FleetOperation: Sendable {
    /// The operation the current task runs for; set by ``withFleetDeadline(_:clock:abandonAfter:onAbandon:_:)``.
    @TaskLocal static var current: FleetOperation?

    private struct State {
        var connections: [PostgresConnection] = []
        var abandoned = false
    }

    private let state = Mutex(State())
    /// The operation whose body started this one, if any.
    private let enclosing: FleetOperation?

    /// An operation inside `enclosing` (by default the current task's).
    init(enclosing: FleetOperation? = FleetOperation.current) {
        self.enclosing = enclosing
    }

    /// Runs `body` with `connection` counted as this operation's and its enclosing ones', until
    /// `body` ends.
    /// - Throws: ``FleetError/database(_:)`` without running `body` when one of them was left
    ///   behind already (the connection goes back to the pool unused).
    func holding<Result>(_ connection: PostgresConnection, _ body: () async throws -> Result) async throws -> Result {
        var registered: [FleetOperation] = []
        var operation: FleetOperation? = self
        while let current = operation {
            // Checked and registered in one step: `abandon()` closes every connection registered
            // before it marked the operation, and none after.
            let taken = current.state.withLock { state in
                guard !state.abandoned else { return false }
                state.connections.append(connection)
                return true
            }
            guard taken else {
                for earlier in registered { earlier.release(connection) }
                throw FleetError.database("the fleet operation was left behind by its deadline")
            }
            registered.append(current)
            operation = current.enclosing
        }
        defer {
            for current in registered { current.release(connection) }
        }
        return try await body()
    }

    /// No longer counts `connection` as this operation's.
    private func release(_ connection: PostgresConnection) {
        state.withLock { state in
            if let index = state.connections.firstIndex(where: { $0 === connection }) { state.connections.remove(at: index) }
        }
    }

    /// Marks the operation as left behind and closes every connection it holds; returns once they
    /// are closed, and so once the pool has dropped them (it learns of a close before this does).
    ///
    /// The closes start under the lock that ``holding(_:_:)`` releases a connection under, so a
    /// connection closed here is still this operation's: one its body has finished with may be
    /// back in the pool and leased by another call. The pool opens a replacement for a dropped
    /// connection only when a lease asks for one afterwards (postgres-nio 1.33.2 opens none for a
    /// lease already waiting), so the next fleet call after this returns finds room.
    func abandon() async {
        let closed = state.withLock { state in
            state.abandoned = true
            return state.connections.map { connection in
                let _: EventLoopFuture<Void> = connection.close()
                return connection.closeFuture
            }
        }
        for future in closed {
            // A channel's close future does not fail; nothing is lost if it ever did.
            try? await future.get()
        }
    }
}
