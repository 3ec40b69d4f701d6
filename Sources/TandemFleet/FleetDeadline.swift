import TandemDomain
import TandemJournal

/// Runs `body` (round trips to PostgreSQL) with a time limit on `clock`, failing with
/// ``FleetError/timedOut(_:)`` when it takes longer.
///
/// A timed-out body is cancelled *and awaited*, so that a body that stops when cancelled holds no
/// row lock or pooled connection and reports nothing after its deadline. PostgreSQL stops its
/// side by itself: ship transactions run under `SET LOCAL statement_timeout`, every connection
/// under a `statement_timeout` (``FleetEndpoint/clientConfiguration``).
///
/// The wait for a cancelled body is itself bounded: a body still running `abandonAfter` (real
/// time) after its cancellation is left behind, and `onAbandon` is called. postgres-nio 1.33.2
/// can leave an operation suspended for ever when its connection fails at the wrong moment (a
/// query written to a connection that has just closed, docs/DESIGN.md "Known open defects"), and
/// no cancellation reaches it: awaiting it held the shipper, and in sync durability the streams,
/// until restart.
/// So the body runs in an unstructured task, which can outlive the call when it is left behind.
/// The connections it leased through ``PostgresNIO/PostgresClient/withOperationConnection(_:)``
/// (every store call's) are then closed (``FleetOperation``): the pool drops them and may open
/// others, and PostgreSQL ends their sessions, rolling back an open transaction and releasing its
/// row locks. The body itself may still act when (if ever) it resumes; its queries then fail.
/// - Throws: the body's ``FleetError``, ``FleetError/timedOut(_:)``, or, when the calling task is
///   cancelled first, the body's error for its cancellation (or the timeout, if it is left behind).
public func withFleetDeadline<T: Sendable, C: Clock<Duration>>(
    _ limit: Duration, clock: C, abandonAfter grace: Duration = fleetAbandonGrace, onAbandon: @escaping @Sendable () -> Void = {},
    _ body: @escaping @Sendable () async throws(FleetError) -> T
) async throws(FleetError) -> T {
    // `nil` once offered never comes: `.some(nil)` is what a cancelled wait returns.
    let ended = FirstOutcome<Result<T, FleetError>?>()
    let operation = FleetOperation()
    let call = Task {
        await FleetOperation.$current.withValue(operation) {
            do throws(FleetError) {
                ended.offer(.success(try await body()))
            } catch {
                ended.offer(.failure(error))
            }
        }
    }
    let answer = await withTaskCancellationHandler {
        await clock.race({ await ended.value(onCancel: .some(nil)) }, within: limit, else: nil)
    } onCancel: {
        call.cancel()
    }
    if let answer { return try answer.get() }
    // The limit passed, or the caller was cancelled (only then does it get the body's own outcome):
    // stop the body and wait for it, a while at most (in a task of its own, so that a cancelled
    // caller still waits).
    let callerCancelled = Task.isCancelled
    call.cancel()
    let late = await Task {
        await ContinuousClock().race({ await ended.value(onCancel: .some(nil)) }, within: grace, else: nil)
    }.value
    guard let late else {
        await operation.abandon()
        onAbandon()
        throw .timedOut(limit)
    }
    if callerCancelled { return try late.get() }
    throw .timedOut(limit)
}

/// How long a cancelled fleet operation is waited for before it is left behind
/// (``withFleetDeadline(_:clock:abandonAfter:onAbandon:_:)``): PostgreSQL round trips that stop
/// when cancelled end in milliseconds.
public let fleetAbandonGrace: Duration = .seconds(5)

/// ``withFleetDeadline(_:clock:abandonAfter:onAbandon:_:)`` on the continuous clock.
public func withFleetDeadline<T: Sendable>(
    _ limit: Duration, onAbandon: @escaping @Sendable () -> Void = {}, _ body: @escaping @Sendable () async throws(FleetError) -> T
) async throws(FleetError) -> T {
    try await withFleetDeadline(limit, clock: ContinuousClock(), onAbandon: onAbandon, body)
}
