public import TandemDomain

/// Built-in simulated models for demos, tests and load tests (`TANDEM_PROVIDER=scripted`).
///
/// Answers are made up from the question and labelled as simulated; each model "thinks" for its
/// configured latency on the injected clock (its first chunk comes after a share of it, the rest
/// at its end), and stops at once when cancelled. Nothing here talks to a network.
public struct ScriptedProvider: ModelProvider {
    /// How one simulated model behaves.
    public struct Behaviour: Sendable {
        /// Time from the call to the whole answer.
        public var latency: Duration

        public init(latency: Duration) {
            self.latency = latency
        }
    }

    public let name = "scripted"
    private let flash: Behaviour
    private let pro: Behaviour
    private let clock: any MonotonicClock

    /// A simulator whose Flash and Pro behave as given, timed by `clock`.
    public init(flash: Behaviour, pro: Behaviour, clock: any MonotonicClock) {
        self.flash = flash
        self.pro = pro
        self.clock = clock
    }

    public func generate(_ request: ModelRequest, observer: any ModelCallObserver) async throws -> ModelResponse {
        let behaviour = request.role == .flash ? flash : pro
        await observer.attemptStarted(1)
        let paragraphs = Self.answer(to: request)
        // The first chunk after its share of the latency, the rest when the latency is up: two
        // timers per call, due at fixed points of the call so that timer slack does not add up.
        // (The stream's frames are the whole answers; chunks in between would change nothing a
        // client sees, and a simulated model's timers are not the server's cost to measure.)
        let start = clock.elapsed
        func think(until deadline: Duration) async throws {
            if behaviour.latency > .zero { try await clock.sleep(untilElapsed: start + deadline) } else { try Task.checkCancellation() }
        }
        try await think(until: behaviour.latency / (paragraphs.count + 1))
        await observer.received(paragraphs[0])
        try await think(until: behaviour.latency)
        for paragraph in paragraphs.dropFirst() { await observer.received(paragraph) }
        let content = paragraphs.joined(separator: "\n\n")
        return ModelResponse(
            servedModel: request.model,
            content: content,
            usage: TokenUsage(inputTokens: Self.tokens(in: request.query), outputTokens: Self.tokens(in: content)),
            finishReason: "STOP",
            providerRequestID: "scripted-\(request.runID)-\(request.role.rawValue)"
        )
    }

    /// The simulated answer, in paragraphs.
    static func answer(to request: ModelRequest) -> [String] {
        let topic = request.query.count > 80 ? String(request.query.prefix(80)) + "…" : request.query
        switch request.role {
        case .flash:
            return ["[simulated \(request.model)] Quick take on: \(topic)"]
        case .pro:
            return [
                "[simulated \(request.model)] Verified answer to: \(topic)",
                "Step 1: restate the question and its context.",
                "Step 2: check the preliminary reasoning against known facts.",
                "Step 3: settle on the answer and its confidence.",
            ]
        }
    }

    /// A rough token count (words), as simulated usage.
    static func tokens(in text: String) -> Int {
        var words = 0
        var inWord = false
        for byte in text.utf8 {
            let isSeparator = byte == UInt8(ascii: " ") || byte == UInt8(ascii: "\n")
            if !isSeparator, !inWord { words += 1 }
            inWord = !isSeparator
        }
        return words
    }
}
