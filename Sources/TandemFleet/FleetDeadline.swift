import Synchronization

/// Runs `body` (a round trip to PostgreSQL), failing with ``FleetError/database(_:)`` when it takes
/// longer than `limit`.
///
/// The body runs in its own task and is cancelled at the limit, but not awaited: a query on a
/// connection that closed under it may never complete (see `PostgresConnection.checkedQuery`),
/// and neither the shipper nor a request may wait for it. While PostgreSQL is unreachable the
/// pool would otherwise hold a request for up to a minute.
public func withFleetDeadline<T: Sendable>(
    _ limit: Duration, _ body: @escaping @Sendable () async throws(FleetError) -> T
) async throws(FleetError) -> T {
    let first = FirstOutcome<T>()
    let result = await withTaskCancellationHandler {
        await withCheckedContinuation { continuation in
            first.install(continuation)
            let work = Task {
                do throws(FleetError) {
                    first.resume(.success(try await body()))
                } catch {
                    first.resume(.failure(error))
                }
            }
            let timer = Task {
                try? await Task.sleep(for: limit)
                if !Task.isCancelled { work.cancel() }
                first.resume(.failure(.database("PostgreSQL did not answer within \(limit)")))
            }
            first.onResume { work.cancel(); timer.cancel() }
        }
    } onCancel: {
        first.resume(.failure(.database("the call to PostgreSQL was cancelled")))
    }
    return try result.get()
}

/// The first of several outcomes of one attempt (its result, its time limit, cancellation), handed
/// to the waiting continuation exactly once; later ones are dropped.
private final class FirstOutcome<T: Sendable>: Sendable {
    private struct State {
        var continuation: CheckedContinuation<Result<T, FleetError>, Never>?
        var early: Result<T, FleetError>?
        var resumed = false
        var cleanup: (@Sendable () -> Void)?
    }

    private let state = Mutex(State())

    func install(_ continuation: CheckedContinuation<Result<T, FleetError>, Never>) {
        let early = state.withLock { state -> Result<T, FleetError>? in
            guard let early = state.early else {
                state.continuation = continuation
                return nil
            }
            return early
        }
        if let early { continuation.resume(returning: early) }
    }

    /// Runs `cleanup` once an outcome is in (at once when it already is).
    func onResume(_ cleanup: @escaping @Sendable () -> Void) {
        let now = state.withLock { state -> Bool in
            if state.resumed { return true }
            state.cleanup = cleanup
            return false
        }
        if now { cleanup() }
    }

    func resume(_ outcome: Result<T, FleetError>) {
        let (continuation, cleanup) = state.withLock { state -> (CheckedContinuation<Result<T, FleetError>, Never>?, (@Sendable () -> Void)?) in
            guard !state.resumed else { return (nil, nil) }
            state.resumed = true
            guard let continuation = state.continuation else {
                state.early = outcome
                return (nil, nil)
            }
            state.continuation = nil
            let cleanup = state.cleanup
            state.cleanup = nil
            return (continuation, cleanup)
        }
        continuation?.resume(returning: outcome)
        cleanup?()
    }
}
