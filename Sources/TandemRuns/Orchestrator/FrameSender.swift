import TandemJournal

/// Sends a run's frames in commit order, each commit's only once ``RunSettings/beforeFrames``
/// says its entries are in the fleet store (`TANDEM_FLEET_DURABILITY=sync`).
///
/// It waits beside the run's mailbox loop, never inside it: while a commit's frames wait, the run
/// still takes a client's departure, a deadline or a shutdown and cancels its model calls (SPEC
/// §11). Once a wait is given up (the run's `released` signal fired, or its task was cancelled),
/// nothing more is sent: no frame of an entry that is not in the fleet store goes out.
final class FrameSender: Sendable {
    private struct Item: Sendable {
        var frames: [SSEFrame]
        /// The last seq of the commit whose frames these are; `nil` for frames of no entry.
        var through: UInt64?
    }

    private let gate: (@Sendable (UInt64) async -> Bool)?
    private let released: StopSignal
    private let emit: @Sendable ([SSEFrame]) -> Void
    /// The commits waiting for the gate (only with a gate).
    private let queue: (stream: AsyncStream<Item>, continuation: AsyncStream<Item>.Continuation)?

    /// - Parameters:
    ///   - gate: ``RunSettings/beforeFrames``; without one, frames go out at once.
    ///   - released: fired when nobody may wait for the gate any longer (client gone, shutdown).
    init(gate: (@Sendable (UInt64) async -> Bool)?, released: StopSignal, emit: @escaping @Sendable ([SSEFrame]) -> Void) {
        self.gate = gate
        self.released = released
        self.emit = emit
        queue = gate == nil ? nil : AsyncStream.makeStream(of: Item.self)
    }

    /// Whether frames wait for a gate, so that ``run()`` must run beside the mailbox loop.
    var waits: Bool { gate != nil }

    /// Hands over the frames of a commit whose last seq is `through` (`nil`: frames of no entry).
    func send(_ frames: [SSEFrame], through seq: UInt64?) {
        guard let queue else { return emit(frames) }
        queue.continuation.yield(Item(frames: frames, through: seq))
    }

    /// No more frames come: ``run()`` returns once those handed over are sent or dropped.
    func finish() {
        queue?.continuation.finish()
    }

    /// Sends what is handed over, each commit after its gate opened, until ``finish()``.
    func run() async {
        guard let gate, let queue else { return }
        var open = true
        for await item in queue.stream where open {
            if let seq = item.through { open = await released.unlessFired(false) { await gate(seq) } }
            if open { emit(item.frames) }
        }
    }
}
