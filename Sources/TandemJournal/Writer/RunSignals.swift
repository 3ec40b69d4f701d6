import Synchronization

/// A follower's interest in one run's commits: while it is held, commits of the run are noted so
/// that ``Journal/waitForAppend(to:beyond:timeout:)`` wakes only for them. Released, it ends.
public final class RunWatch: Sendable {
    let run: RunID
    private let signals: RunSignals

    fileprivate init(run: RunID, signals: RunSignals) {
        self.run = run
        self.signals = signals
    }

    deinit {
        signals.unwatch(run)
    }
}

/// Wakes the followers of the runs a commit touched, and no others (a commit of one run does not
/// make every follower of every run re-read). The writer publishes the last committed seq of each
/// watched run after each commit; when no run is watched it skips the bookkeeping altogether.
final class RunSignals: Sendable {
    private struct Waiter {
        var beyond: UInt64
        var continuation: CheckedContinuation<Void, Never>
    }

    private struct Watched {
        var watchers = 0
        var lastSeq: UInt64 = 0
        var waiters: [Int: Waiter] = [:]
    }

    private struct State {
        var runs: [RunID: Watched] = [:]
        var nextID = 0
        var cancelled: Set<Int> = []
    }

    private let state = Mutex(State())
    /// Watches held across all runs; read by the writer after each commit (sequentially
    /// consistent: a watch taken before a reader's read is seen by a commit after that read).
    private let watches = Atomic<Int>(0)

    /// Whether any run is watched (the writer then publishes its commits' runs).
    var isWatching: Bool { watches.load(ordering: .sequentiallyConsistent) > 0 }

    func watch(_ run: RunID) -> RunWatch {
        state.withLock { $0.runs[run, default: Watched()].watchers += 1 }
        watches.add(1, ordering: .sequentiallyConsistent)
        return RunWatch(run: run, signals: self)
    }

    fileprivate func unwatch(_ run: RunID) {
        watches.subtract(1, ordering: .sequentiallyConsistent)
        state.withLock { state in
            guard var watched = state.runs[run] else { return }
            watched.watchers -= 1
            state.runs[run] = watched.watchers > 0 ? watched : nil
        }
    }

    /// Records the last committed seq of each run in `lastSeqs` and wakes its waiters.
    func publish(_ lastSeqs: [RunID: UInt64]) {
        let ready: [CheckedContinuation<Void, Never>] = state.withLock { state in
            var ready: [CheckedContinuation<Void, Never>] = []
            for (run, seq) in lastSeqs {
                guard var watched = state.runs[run] else { continue }
                watched.lastSeq = max(watched.lastSeq, seq)
                for (id, waiter) in watched.waiters where waiter.beyond < watched.lastSeq {
                    ready.append(waiter.continuation)
                    watched.waiters[id] = nil
                }
                state.runs[run] = watched
            }
            return ready
        }
        for continuation in ready { continuation.resume() }
    }

    /// Returns once a commit of the watched run past `seq` is published, `timeout` passes, or the
    /// calling task is cancelled.
    func wait(_ watch: RunWatch, beyond seq: UInt64, timeout: Duration) async {
        await waitAtMost(timeout) { await self.wait(watch.run, beyond: seq) }
    }

    private func wait(_ run: RunID, beyond seq: UInt64) async {
        let id = state.withLock { state in
            defer { state.nextID += 1 }
            return state.nextID
        }
        await withTaskCancellationHandler {
            await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
                let resumeNow = state.withLock { state in
                    if state.cancelled.remove(id) != nil { return true }
                    guard var watched = state.runs[run], watched.lastSeq <= seq else { return true }
                    watched.waiters[id] = Waiter(beyond: seq, continuation: continuation)
                    state.runs[run] = watched
                    return false
                }
                if resumeNow { continuation.resume() }
            }
        } onCancel: {
            let waiter = state.withLock { state -> Waiter? in
                if let waiter = state.runs[run]?.waiters.removeValue(forKey: id) { return waiter }
                state.cancelled.insert(id)
                return nil
            }
            waiter?.continuation.resume()
        }
        state.withLock { _ = $0.cancelled.remove(id) }
    }
}
