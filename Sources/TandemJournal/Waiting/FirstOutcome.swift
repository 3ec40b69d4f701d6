public import Synchronization

/// The first outcome offered by several racers (a call, its time limit, a stop signal), handed to
/// the one waiting task; later offers are dropped.
public final class FirstOutcome<Value: Sendable>: Sendable {
    @usableFromInline
    struct State {
        @usableFromInline var outcome: Value?
        @usableFromInline var waiter = WaiterList<Void, Value>()

        @inlinable
        init() {}
    }

    @usableFromInline let state = Mutex(State())

    @inlinable
    public init() {}

    /// Offers `outcome`: it wins if it is the first.
    @inlinable
    public func offer(_ outcome: Value) {
        state.withLock { state in
            guard state.outcome == nil else { return Wakeups<Void, Value>() }
            state.outcome = outcome
            return state.waiter.takeAll()
        }.resume(returning: outcome)
    }

    /// Waits for the first offer.
    /// - Parameter cancelled: what a cancelled caller gets instead; `nil` waits for an offer even
    ///   then (for racers that always offer one).
    @inlinable
    public func value(onCancel cancelled: Value? = nil) async -> Value {
        await state.wait(in: \.waiter, tag: (), onCancel: cancelled) { $0.outcome }
    }
}
