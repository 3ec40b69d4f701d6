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
    /// `body` ends. A connection leased after one of them was left behind is closed at once (its
    /// queries then fail).
    func holding<Result>(_ connection: PostgresConnection, _ body: () async throws -> Result) async throws -> Result {
        var abandoned = false
        var operation: FleetOperation? = self
        while let current = operation {
            abandoned = current.state.withLock { state in
                state.connections.append(connection)
                return state.abandoned
            } || abandoned
            operation = current.enclosing
        }
        if abandoned { Self.close(connection) }
        defer {
            var operation: FleetOperation? = self
            while let current = operation {
                current.state.withLock { state in
                    if let index = state.connections.firstIndex(where: { $0 === connection }) { state.connections.remove(at: index) }
                }
                operation = current.enclosing
            }
        }
        return try await body()
    }

    /// Marks the operation as left behind and closes every connection it holds; returns once they
    /// are closed, and so once the pool has dropped them (it learns of a close before this does).
    ///
    /// The pool opens a replacement for a dropped connection only when a lease asks for one
    /// afterwards (postgres-nio 1.33.2 opens none for a lease already waiting), so the next
    /// fleet call after this returns finds room.
    func abandon() async {
        let connections = state.withLock { state in
            state.abandoned = true
            return state.connections
        }
        for connection in connections {
            // A failure here says that the socket was closed already, which is all this wants.
            try? await connection.close()
        }
    }

    /// Closes `connection`'s socket whatever its protocol state, without waiting.
    private static func close(_ connection: PostgresConnection) {
        let _: EventLoopFuture<Void> = connection.close()
    }
}
