import TandemDomain

/// Runs `body` (round trips to PostgreSQL) with a time limit on `clock`, failing with
/// ``FleetError/timedOut(_:)`` when it takes longer.
///
/// The body and its timer race (`Clock.race(_:within:else:)`): the loser is cancelled *and
/// joined*, so a timed-out body holds no row lock or pooled connection (mid-COPY when a
/// shutdown closes the pool) and reports nothing after its deadline. PostgreSQL stops its side
/// by itself: ship transactions run under `SET LOCAL statement_timeout`, every connection under
/// a `statement_timeout` (``FleetEndpoint/clientConfiguration``).
/// - Throws: the body's ``FleetError``, ``FleetError/timedOut(_:)``, or, when the calling task is
///   cancelled first, the body's error for its cancellation.
public func withFleetDeadline<T: Sendable, C: Clock<Duration>>(
    _ limit: Duration, clock: C, _ body: @escaping @Sendable () async throws(FleetError) -> T
) async throws(FleetError) -> T {
    let outcome = await clock.race({ () async -> Result<T, FleetError> in
        do throws(FleetError) {
            return .success(try await body())
        } catch {
            return .failure(error)
        }
    }, within: limit, else: .failure(.timedOut(limit)))
    return try outcome.get()
}

/// ``withFleetDeadline(_:clock:_:)`` on the continuous clock.
public func withFleetDeadline<T: Sendable>(
    _ limit: Duration, _ body: @escaping @Sendable () async throws(FleetError) -> T
) async throws(FleetError) -> T {
    try await withFleetDeadline(limit, clock: ContinuousClock(), body)
}
