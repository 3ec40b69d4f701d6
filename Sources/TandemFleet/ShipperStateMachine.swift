/// The shipping loop's decisions, without I/O or clocks (like `RunStateMachine` for a run):
/// inputs are what an attempt or a wait ended with; each returns the next step and what to log.
/// ``FleetShipper`` carries the steps out on its injected clock.
///
/// An attempt migrates (until that once succeeded), reads the node's mark from the store (after
/// any failure: a timed-out attempt's commit may have landed after all, and only the stored mark
/// says so), and ships one batch. After a failure it backs off (doubling up to a limit) and
/// retries from the stored mark; a divergence or another node holding the node id stops it for
/// good. A shipper that has caught up waits for the journal to grow; one that trails a server
/// lingers after a batch that was not full, so the next gathers more entries.
struct ShipperStateMachine {
    /// The delays the loop waits.
    struct Schedule: Equatable {
        /// The first retry delay; doubles after each failure up to ``maxRetryDelay``.
        var retryDelay: Duration
        var maxRetryDelay: Duration
        /// How long to wait for an append before looking at the head again.
        var pollInterval: Duration
        /// How long to wait after a batch that was not full (zero: no lingering).
        var linger: Duration
    }

    enum Input: Equatable {
        /// The loop starts, or a wait ended.
        case ready
        /// An attempt stored a batch; `wasFull`: more entries are waiting.
        case shipped(wasFull: Bool)
        /// An attempt found nothing to ship.
        case caughtUp
        /// An attempt failed; `migrated`: its migration (if it had one) succeeded first.
        case failed(FleetError, migrated: Bool)
        /// Graceful shutdown.
        case stopRequested
    }

    enum Step: Equatable {
        /// Migrate first when `migrate`, read the stored mark when `readMark`, then ship one batch.
        case attempt(migrate: Bool, readMark: Bool)
        /// Wait for the journal to grow past the mark, at most this long.
        case waitForAppend(timeout: Duration)
        /// Wait this long before the next batch, so that it gathers more entries.
        case linger(Duration)
        /// Wait this long after a failure before retrying from the stored mark.
        case backOff(Duration)
        /// Stop: on request (`nil`), or for good on this error (divergence, node id in use).
        case stop(FleetError?)
    }

    /// What the step's caller should log.
    enum Note: Equatable {
        /// A failure: `isNew` when it differs from the last one (each outage is logged once).
        case failure(FleetError, isNew: Bool)
        /// Shipping works again after failures.
        case resumed
    }

    struct Decision: Equatable {
        var step: Step
        var note: Note?
    }

    let schedule: Schedule
    private var migrated = false
    private var markKnown = false
    private var delay: Duration
    /// The last failure, until an attempt succeeds.
    private var lastFailure: FleetError?
    private var stopped = false

    init(schedule: Schedule) {
        self.schedule = schedule
        delay = schedule.retryDelay
    }

    mutating func handle(_ input: Input) -> Decision {
        guard !stopped else { return Decision(step: .stop(nil)) }
        switch input {
        case .ready:
            return Decision(step: nextAttempt)
        case .shipped(let wasFull):
            let note = succeeded()
            return Decision(step: wasFull || schedule.linger == .zero ? nextAttempt : .linger(schedule.linger), note: note)
        case .caughtUp:
            let note = succeeded()
            return Decision(step: .waitForAppend(timeout: schedule.pollInterval), note: note)
        case .failed(let error, let migrated):
            self.migrated = self.migrated || migrated
            let isNew = error != lastFailure
            lastFailure = error
            if error.code == .divergence || error.code == .nodeIDInUse {
                stopped = true
                return Decision(step: .stop(error), note: .failure(error, isNew: isNew))
            }
            // Retry from the stored mark: the failed attempt may have committed after all.
            markKnown = false
            let wait = delay
            delay = min(delay * 2, schedule.maxRetryDelay)
            return Decision(step: .backOff(wait), note: .failure(error, isNew: isNew))
        case .stopRequested:
            stopped = true
            return Decision(step: .stop(nil))
        }
    }

    private var nextAttempt: Step { .attempt(migrate: !migrated, readMark: !markKnown) }

    /// Bookkeeping of a successful attempt; `.resumed` when failures came before it.
    private mutating func succeeded() -> Note? {
        migrated = true
        markKnown = true
        delay = schedule.retryDelay
        defer { lastFailure = nil }
        return lastFailure == nil ? nil : .resumed
    }
}
