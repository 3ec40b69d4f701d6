public import TandemDomain
public import TandemJournal

/// The SSE frames of a run read back from the journal: all that is journaled, then each new frame
/// as its event is committed, until the run's terminal frame.
///
/// Used for idempotent replays, `GET /api/runs/{id}/stream` and `Last-Event-ID` resumes. Frames
/// come only from journaled events, so a follower sees exactly what the live client saw.
public struct RunFollower: AsyncSequence, Sendable {
    public typealias Element = SSEFrame

    let journal: Journal
    let run: RunID
    let afterSeq: UInt64
    let pollInterval: Duration

    /// Follows `run`, skipping frames whose id is `afterSeq` or lower (a `Last-Event-ID`).
    public init(journal: Journal, run: RunID, afterSeq: UInt64 = 0, pollInterval: Duration = .seconds(1)) {
        self.journal = journal
        self.run = run
        self.afterSeq = afterSeq
        self.pollInterval = pollInterval
    }

    public func makeAsyncIterator() -> Iterator {
        Iterator(follower: self, renderer: FrameRenderer(traceID: run.rawValue))
    }

    /// Reads the run's entries past the last one seen, waiting for appends when there are none.
    public struct Iterator: AsyncIteratorProtocol {
        let follower: RunFollower
        var renderer: FrameRenderer
        var lastSeq: UInt64 = 0
        var pending: [SSEFrame] = []
        var finished = false

        public mutating func next() async throws -> SSEFrame? {
            while pending.isEmpty {
                if finished { return nil }
                try Task.checkCancellation()
                let head = try follower.journal.head().seq
                let entries = try follower.journal.entries(of: follower.run).filter { $0.seq > lastSeq }
                for entry in entries {
                    lastSeq = entry.seq
                    guard let frame = renderer.frame(for: try DomainEvent(entry), seq: entry.seq) else { continue }
                    if frame.isTerminal { finished = true }
                    if entry.seq > follower.afterSeq { pending.append(frame) }
                    if finished { break }
                }
                if pending.isEmpty && !finished {
                    await follower.journal.waitForAppend(beyond: head, timeout: follower.pollInterval)
                }
            }
            return pending.removeFirst()
        }
    }
}
