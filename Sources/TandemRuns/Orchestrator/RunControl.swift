public import TandemDomain

/// The handle by which the outside world (the HTTP stream, the coordinator) steers a live run.
public final class RunControl: Sendable {
    let inputs: AsyncStream<RunStateMachine.Input>
    let continuation: AsyncStream<RunStateMachine.Input>.Continuation
    let stopFlash = StopSignal()
    let stopPro = StopSignal()

    public init() {
        (inputs, continuation) = AsyncStream.makeStream(of: RunStateMachine.Input.self)
    }

    /// The client closed its stream: cancel both calls and end the run as `cancelled`.
    public func clientDisconnected() {
        continuation.yield(.clientDisconnected)
    }

    /// The server is shutting down and the grace period is over: cancel what still runs.
    public func shutdown() {
        continuation.yield(.shutdown)
    }

    func stopSignal(_ role: ModelRole) -> StopSignal {
        role == .flash ? stopFlash : stopPro
    }
}
