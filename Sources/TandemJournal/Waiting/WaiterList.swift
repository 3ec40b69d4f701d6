public import Synchronization

/// Tasks suspended until the state they wait on lets them go: tandem's one waiting primitive
/// (journal heads, run signals, run mailboxes, stop signals, first outcomes, the coordinator's
/// idle waiters, the tests' manual clock).
///
/// The list lives inside its owner's state, guarded by the owner's `Mutex`, so that "is it ready?"
/// and "wait" are one atomic step. A task parks with `Mutex.wait(in:tag:onCancel:parked:until:)`;
/// a waker changes the state and takes the waiters it lets go with ``take(where:)`` or
/// ``takeAll()`` under the same lock, then resumes them after the lock (``Wakeups``).
///
/// Each waiter is resumed exactly once: whoever removes it from the list under the lock resumes
/// it — a waker or the cancellation handler, never both. Cancellation before the waiter is in the
/// list is seen when it registers (`Task.isCancelled` is set before any cancellation handler runs,
/// and both sides take the lock); cancellation after a waker took it finds nothing to do.
public struct WaiterList<Tag: Sendable, Value: Sendable>: Sendable {
    @usableFromInline
    struct Waiter: Sendable {
        @usableFromInline var id: UInt64
        @usableFromInline var tag: Tag
        @usableFromInline var continuation: CheckedContinuation<Value, Never>

        @inlinable
        init(id: UInt64, tag: Tag, continuation: CheckedContinuation<Value, Never>) {
            self.id = id
            self.tag = tag
            self.continuation = continuation
        }
    }

    /// In arrival order. An array, not a dictionary: lists are short, and it keeps its capacity,
    /// so parking again allocates nothing.
    @usableFromInline var waiters: [Waiter] = []
    @usableFromInline var nextID: UInt64 = 0

    @inlinable
    public init() {}

    /// How many tasks wait.
    @inlinable
    public var count: Int { waiters.count }

    /// Whether no task waits.
    @inlinable
    public var isEmpty: Bool { waiters.isEmpty }

    /// How many tasks wait with a tag that satisfies `matches`.
    @inlinable
    public func count(where matches: (Tag) -> Bool) -> Int {
        waiters.reduce(0) { $0 + (matches($1.tag) ? 1 : 0) }
    }

    /// Takes every waiter whose tag satisfies `isDue`, in arrival order, to be resumed once the
    /// lock is released.
    @inlinable
    public mutating func take(where isDue: (Tag) -> Bool) -> Wakeups<Tag, Value> {
        guard let first = waiters.firstIndex(where: { isDue($0.tag) }) else { return Wakeups() }
        guard waiters[(first + 1)...].contains(where: { isDue($0.tag) }) else {
            return Wakeups(.one(waiters.remove(at: first)))
        }
        var due: [Waiter] = []
        waiters.removeAll { waiter in
            guard isDue(waiter.tag) else { return false }
            due.append(waiter)
            return true
        }
        return Wakeups(.many(due))
    }

    /// Takes every waiter, to be resumed once the lock is released.
    @inlinable
    public mutating func takeAll() -> Wakeups<Tag, Value> {
        switch waiters.count {
        case 0: return Wakeups()
        case 1: return Wakeups(.one(waiters.removeLast()))
        default:
            defer { waiters.removeAll(keepingCapacity: true) }
            return Wakeups(.many(waiters))
        }
    }

    @inlinable
    mutating func makeID() -> UInt64 {
        defer { nextID &+= 1 }
        return nextID
    }

    @inlinable
    mutating func remove(_ id: UInt64) -> Waiter? {
        guard let index = waiters.firstIndex(where: { $0.id == id }) else { return nil }
        return waiters.remove(at: index)
    }
}

/// Waiters taken from a ``WaiterList``, to be resumed after the owner's lock is released (a
/// continuation is never resumed while holding a lock). One waiter — the usual case — is held
/// without an array, so waking it allocates nothing.
public struct Wakeups<Tag: Sendable, Value: Sendable>: Sendable {
    @usableFromInline
    enum Taken: Sendable {
        case none
        case one(WaiterList<Tag, Value>.Waiter)
        case many([WaiterList<Tag, Value>.Waiter])
    }

    @usableFromInline var taken: Taken

    /// No waiters.
    @inlinable
    public init() {
        taken = .none
    }

    @inlinable
    init(_ taken: Taken) {
        self.taken = taken
    }

    /// Whether no waiter was taken.
    @inlinable
    public var isEmpty: Bool {
        if case .none = taken { return true }
        return false
    }

    /// Orders the resumptions (by default, arrival order).
    @inlinable
    public mutating func sort(by areInIncreasingOrder: (Tag, Tag) -> Bool) {
        guard case .many(var waiters) = taken else { return }
        waiters.sort { areInIncreasingOrder($0.tag, $1.tag) }
        taken = .many(waiters)
    }

    /// Resumes every waiter with `value`.
    @inlinable
    public func resume(returning value: Value) {
        resume { _ in value }
    }

    /// Resumes every waiter with the value for its tag.
    @inlinable
    public func resume(_ value: (Tag) -> Value) {
        switch taken {
        case .none: break
        case .one(let waiter): waiter.continuation.resume(returning: value(waiter.tag))
        case .many(let waiters): for waiter in waiters { waiter.continuation.resume(returning: value(waiter.tag)) }
        }
    }
}

extension Mutex {
    /// Returns what `ready` finds in the guarded state, checked first; otherwise parks the calling
    /// task in the list at `list`, tagged with `tag`, until a waker resumes it.
    ///
    /// - Parameters:
    ///   - list: where the waiters are kept in the guarded state.
    ///   - tag: what the wakers look at to decide whether this waiter is due.
    ///   - cancelled: what a cancelled task returns — at once if it is cancelled before it waits;
    ///     `nil` to ignore cancellation (the caller relies on a waker that always comes).
    ///   - parked: under the lock, once the task is in the list: waiters its arrival lets go (a
    ///     test that waits for a number of sleepers).
    ///   - ready: under the lock: the value to return without waiting, or `nil` to wait.
    ///
    /// Inlinable, like the list: its users specialise it (it runs on every run's and follower's
    /// waits).
    @inlinable
    public func wait<Tag, Output>(
        in list: any WritableKeyPath<Value, WaiterList<Tag, Output>> & Sendable,
        tag: Tag,
        onCancel cancelled: Output?,
        parked: ((inout Value) -> (Wakeups<Tag, Output>, Output))? = nil,
        until ready: (inout Value) -> Output?
    ) async -> Output {
        let id: UInt64
        switch withLock({ state -> Registration<Output> in
            if let value = ready(&state) { return .done(value) }
            if let cancelled, Task.isCancelled { return .done(cancelled) }
            return .park(state[keyPath: list].makeID())
        }) {
        case .done(let value): return value
        case .park(let newID): id = newID
        }
        func park() async -> Output {
            await withCheckedContinuation { (continuation: CheckedContinuation<Output, Never>) in
                let (now, woken) = withLock { state -> (Output?, (Wakeups<Tag, Output>, Output)?) in
                    if let value = ready(&state) { return (value, nil) }
                    if let cancelled, Task.isCancelled { return (cancelled, nil) }
                    state[keyPath: list].waiters.append(.init(id: id, tag: tag, continuation: continuation))
                    return (nil, parked?(&state))
                }
                if let now { continuation.resume(returning: now) }
                if let (wakeups, value) = woken { wakeups.resume(returning: value) }
            }
        }
        guard let cancelled else { return await park() }
        return await withTaskCancellationHandler {
            await park()
        } onCancel: {
            let waiter = withLock { $0[keyPath: list].remove(id) }
            waiter?.continuation.resume(returning: cancelled)
        }
    }
}

@usableFromInline
enum Registration<Output> {
    case done(Output)
    case park(UInt64)
}
