import TandemDomain
import TandemJournal

/// The handle by which the outside world (the HTTP stream, the coordinator) steers a live run.
public final class RunControl: Sendable {
    let mailbox: RunMailbox
    let stopFlash = StopSignal()
    let stopPro = StopSignal()
    /// Fired with ``shutdown()``: ends waits that outlive the mailbox (closing a run whose journal
    /// append failed).
    let shutdownRequested = StopSignal()
    /// Fired when the run's frames may no longer wait for the fleet store (client gone,
    /// shutdown): frames still waiting are dropped, never sent unshipped.
    let framesReleased = StopSignal()

    /// A control whose run takes every input at once.
    public convenience init() {
        self.init(mailbox: RunMailbox())
    }

    init(mailbox: RunMailbox) {
        self.mailbox = mailbox
    }

    /// The client closed its stream: cancel both calls and end the run as `cancelled`.
    public func clientDisconnected() {
        framesReleased.fire()
        mailbox.yield(.clientDisconnected)
    }

    /// The server is shutting down and the grace period is over: cancel what still runs.
    public func shutdown() {
        framesReleased.fire()
        mailbox.yield(.shutdown)
        shutdownRequested.fire()
    }

    func stopSignal(_ role: ModelRole) -> StopSignal {
        role == .flash ? stopFlash : stopPro
    }
}
