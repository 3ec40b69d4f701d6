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
/// make every follower of every run re-read, nor does it look at their waits). The writer
/// publishes the last committed seq of each watched run after each commit; when no run is watched
/// it skips the bookkeeping altogether.
final class RunSignals: Sendable {
    private struct Watched {
        var watchers = 0
        var lastSeq: UInt64 = 0
        /// The followers waiting for a commit of this run past their seq (the tag): a commit looks
        /// only at the lists of the runs it touched.
        var waiters = WaiterList<UInt64, Void>()
    }

    private struct State {
        var runs: [RunID: Watched] = [:]
    }

    private let state = Mutex(State())
    /// Watches held across all runs; read by the writer after each commit. Sequentially consistent
    /// so that a watch taken before a follower's read is seen by the commit that read missed (with
    /// LMDB's own locking as the other fence); were one missed anyway, the follower's poll
    /// interval bounds the delay.
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
        let due = state.withLock { state in
            var due: [Wakeups<UInt64, Void>] = []
            for (run, seq) in lastSeqs {
                guard var watched = state.runs[run] else { continue }
                watched.lastSeq = max(watched.lastSeq, seq)
                let last = watched.lastSeq
                let woken = watched.waiters.take { beyond in last > beyond }
                state.runs[run] = watched
                if !woken.isEmpty { due.append(woken) }
            }
            return due
        }
        for wakeups in due { wakeups.resume(returning: ()) }
    }

    /// Returns once a commit of the watched run past `seq` is published, `timeout` passes on
    /// `clock`, or the calling task is cancelled.
    func wait(_ watch: RunWatch, beyond seq: UInt64, timeout: Duration, clock: some Clock<Duration>) async {
        await waitAtMost(timeout, clock: clock) { await self.wait(watch, beyond: seq) }
    }

    /// `watch` is held while the task waits, so its run's entry (and waiter list) exists
    /// throughout: it goes only when the run's last watch is released.
    private func wait(_ watch: RunWatch, beyond seq: UInt64) async {
        let run = watch.run
        await state.wait(in: \State.runs[run]!.waiters, tag: seq, onCancel: ()) { state in
            guard let watched = state.runs[run], watched.lastSeq <= seq else { return () }
            return nil
        }
        withExtendedLifetime(watch) {}
    }
}
