public import TandemDomain
public import TandemProviders
import Synchronization

/// A model provider driven step by step by the test: each model's call waits for commands
/// (`chunk`, `complete`, `fail`) sent with ``FakeModel/send(_:)``, and records whether it was
/// cancelled. Commands sent before the call starts are queued.
public final class FakeProvider: ModelProvider {
    public let name = "fake"
    public let flash = FakeModel()
    public let pro = FakeModel()

    public init() {}

    public func model(_ role: ModelRole) -> FakeModel { role == .flash ? flash : pro }

    public func generate(_ request: ModelRequest, observer: any ModelCallObserver) async throws -> ModelResponse {
        try await model(request.role).call(request, observer: observer)
    }
}

/// One simulated model of a ``FakeProvider``.
public final class FakeModel: Sendable {
    /// What the model does next.
    public enum Command: Sendable {
        /// Stream a piece of text.
        case chunk(String)
        /// Report a retry (the call goes on).
        case retry(ModelRetry)
        /// Finish with this answer.
        case complete(String, served: String? = nil, usage: TokenUsage = TokenUsage(inputTokens: 3, outputTokens: 5))
        /// Fail with this error.
        case fail(ProviderError)
    }

    private struct Stats {
        var calls = 0
        var cancellations = 0
        var requests: [ModelRequest] = []
        var callWaiters: [(Int, CheckedContinuation<Void, Never>)] = []
        var endWaiters: [(Int, CheckedContinuation<Void, Never>)] = []
        var ended = 0
    }

    private struct Queue {
        var commands: [Command] = []
        var waiter: CheckedContinuation<Command?, Never>?
    }

    private let queue = Mutex(Queue())
    private let stats = Mutex(Stats())

    init() {}

    /// Queues `command` for the model's (current or next) call.
    public func send(_ command: Command) {
        let waiter = queue.withLock { queue -> CheckedContinuation<Command?, Never>? in
            if let waiter = queue.waiter {
                queue.waiter = nil
                return waiter
            }
            queue.commands.append(command)
            return nil
        }
        waiter?.resume(returning: command)
    }

    /// The next command, or `nil` when the calling task is cancelled.
    private func nextCommand() async -> Command? {
        await withTaskCancellationHandler {
            await withCheckedContinuation { continuation in
                let ready = queue.withLock { queue -> Command?? in
                    if Task.isCancelled { return .some(nil) }
                    if !queue.commands.isEmpty { return .some(queue.commands.removeFirst()) }
                    queue.waiter = continuation
                    return .none
                }
                if let ready { continuation.resume(returning: ready) }
            }
        } onCancel: {
            let waiter = queue.withLock { queue -> CheckedContinuation<Command?, Never>? in
                defer { queue.waiter = nil }
                return queue.waiter
            }
            waiter?.resume(returning: nil)
        }
    }

    /// Calls made so far.
    public var calls: Int { stats.withLock { $0.calls } }
    /// Calls that ended because they were cancelled.
    public var cancellations: Int { stats.withLock { $0.cancellations } }
    /// The requests received.
    public var requests: [ModelRequest] { stats.withLock { $0.requests } }

    /// Returns once `count` calls have started.
    public func waitForCalls(_ count: Int) async {
        await wait(count, \.calls, \.callWaiters)
    }

    /// Returns once `count` calls have ended (answered, failed or cancelled).
    public func waitForEnds(_ count: Int) async {
        await wait(count, \.ended, \.endWaiters)
    }

    private func wait(_ count: Int, _ value: KeyPath<Stats, Int>, _ waiters: WritableKeyPath<Stats, [(Int, CheckedContinuation<Void, Never>)]>) async {
        await withCheckedContinuation { continuation in
            let ready = stats.withLock { stats -> Bool in
                if stats[keyPath: value] >= count { return true }
                stats[keyPath: waiters].append((count, continuation))
                return false
            }
            if ready { continuation.resume() }
        }
    }

    private func bump(_ value: WritableKeyPath<Stats, Int>, _ waiters: WritableKeyPath<Stats, [(Int, CheckedContinuation<Void, Never>)]>, cancelled: Bool = false) {
        let ready: [CheckedContinuation<Void, Never>] = stats.withLock { stats in
            stats[keyPath: value] += 1
            if cancelled { stats.cancellations += 1 }
            let count = stats[keyPath: value]
            let ready = stats[keyPath: waiters].filter { $0.0 <= count }.map(\.1)
            stats[keyPath: waiters].removeAll { $0.0 <= count }
            return ready
        }
        for continuation in ready { continuation.resume() }
    }

    func call(_ request: ModelRequest, observer: any ModelCallObserver) async throws -> ModelResponse {
        stats.withLock { $0.requests.append(request) }
        bump(\.calls, \.callWaiters)
        await observer.attemptStarted(1)
        var content = ""
        while let command = await nextCommand() {
            switch command {
            case .chunk(let text):
                content += text
                await observer.received(text)
            case .retry(let retry):
                await observer.retrying(retry)
            case .complete(let text, let served, let usage):
                if content.isEmpty { await observer.received(text) }
                bump(\.ended, \.endWaiters)
                return ModelResponse(servedModel: served ?? request.model, content: text, usage: usage, finishReason: "STOP", providerRequestID: "fake-\(request.role.rawValue)")
            case .fail(let error):
                bump(\.ended, \.endWaiters)
                throw error
            }
        }
        // Commands run out only when the calling task is cancelled.
        bump(\.ended, \.endWaiters, cancelled: true)
        throw CancellationError()
    }
}
