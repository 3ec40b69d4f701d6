public import TandemDomain

/// The handle by which the outside world (the HTTP stream, the coordinator) steers a live run.
public final class RunControl: Sendable {
    let mailbox = RunMailbox()
    let stopFlash = StopSignal()
    let stopPro = StopSignal()
    /// Fired with ``shutdown()``: ends waits that outlive the mailbox (closing a run whose journal
    /// append failed).
    let shutdownRequested = StopSignal()

    public init() {}

    /// The client closed its stream: cancel both calls and end the run as `cancelled`.
    public func clientDisconnected() {
        mailbox.yield(.clientDisconnected)
    }

    /// The server is shutting down and the grace period is over: cancel what still runs.
    public func shutdown() {
        mailbox.yield(.shutdown)
        shutdownRequested.fire()
    }

    func stopSignal(_ role: ModelRole) -> StopSignal {
        role == .flash ? stopFlash : stopPro
    }
}
