import TandemDomain
import TandemJournal

/// The SSE frames of a run read back from the journal: all that is journaled, then each new frame
/// as its event is committed, until the run's terminal frame — or until the coordinator has
/// drained at shutdown, when no more frames can come from this process.
///
/// Used for idempotent replays, `GET /api/runs/{id}/stream` and `Last-Event-ID` resumes. Frames
/// come only from journaled events, so a follower sees exactly what the live client saw. Made by
/// ``RunCoordinator/follow(_:afterSeq:)``, which counts it against the follower limit for as long
/// as it exists.
public struct RunFollower: AsyncSequence, Sendable {
    public typealias Element = SSEFrame

    let journal: Journal
    let run: RunID
    let afterSeq: UInt64
    let pollInterval: Duration
    /// Fired once the coordinator has drained: the follower ends after a last read.
    let stop: StopSignal
    /// This follower's place under the follower limit; released with the last copy.
    let lease: FollowerLease
    /// ``RunSettings/beforeFrames``: frames are read from the local journal, but go out only
    /// once their entries are in the fleet store (sync durability).
    let gate: (@Sendable (UInt64) async -> Bool)?

    public func makeAsyncIterator() -> Iterator {
        Iterator(follower: self, renderer: FrameRenderer(traceID: run.rawValue), watch: journal.watch(run))
    }

    /// Reads the run's entries past the last one seen, waiting for the run's next commit when
    /// there are none (commits of other runs do not wake it).
    public struct Iterator: AsyncIteratorProtocol {
        let follower: RunFollower
        var renderer: FrameRenderer
        /// Taken before the first read, so no commit of the run between a read and a wait is missed.
        let watch: RunWatch
        var lastSeq: UInt64 = 0
        var pending: [SSEFrame] = []
        var finished = false

        public mutating func next() async throws -> SSEFrame? {
            while pending.isEmpty {
                if finished { return nil }
                try Task.checkCancellation()
                // Read before the entries: whatever was committed before the drain is still read.
                let stopping = follower.stop.isFired
                for entry in try follower.journal.entries(of: follower.run, after: lastSeq) {
                    lastSeq = entry.seq
                    guard let frame = renderer.frame(for: try DomainEvent(entry), seq: entry.seq) else { continue }
                    if frame.isTerminal { finished = true }
                    if entry.seq > follower.afterSeq { pending.append(frame) }
                    if finished { break }
                }
                if !pending.isEmpty, let gate = follower.gate {
                    // Given up (cancelled, or the coordinator drained): the stream ends without them.
                    let through = lastSeq
                    guard await follower.stop.unlessFired(false, { await gate(through) }) else {
                        pending = []
                        finished = true
                        return nil
                    }
                }
                if pending.isEmpty && !finished {
                    if stopping { return nil }
                    let (journal, watch, seen, poll, stop) = (follower.journal, self.watch, lastSeq, follower.pollInterval, follower.stop)
                    await stop.unlessFired(()) { await journal.waitForAppend(to: watch, beyond: seen, timeout: poll) }
                }
            }
            return pending.removeFirst()
        }
    }
}

/// A follower's place under the coordinator's follower limit, given back when released.
final class FollowerLease: Sendable {
    private let release: @Sendable () -> Void

    init(release: @escaping @Sendable () -> Void) {
        self.release = release
    }

    deinit {
        release()
    }
}
