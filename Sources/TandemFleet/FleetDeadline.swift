import TandemJournal

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
    // Three racers: the body's result, its time limit and the caller's cancellation.
    let first = FirstOutcome<Result<T, FleetError>>()
    let work = Task {
        do throws(FleetError) {
            first.offer(.success(try await body()))
        } catch {
            first.offer(.failure(error))
        }
    }
    let timer = Task {
        try? await Task.sleep(for: limit)
        if !Task.isCancelled { work.cancel() }
        first.offer(.failure(.database("PostgreSQL did not answer within \(limit)")))
    }
    let result = await first.value(onCancel: .failure(.database("the call to PostgreSQL was cancelled")))
    work.cancel()
    timer.cancel()
    return try result.get()
}
