public import TandemDomain

/// Built-in simulated models for demos, tests and load tests (`TANDEM_PROVIDER=scripted`).
///
/// Answers are made up from the question and labelled as simulated; each model "thinks" for its
/// configured latency on the injected clock, streaming its answer in ``Behaviour/pieces`` pieces
/// spread over it, and stops at once when cancelled. Nothing here talks to a network.
public struct ScriptedProvider: ModelProvider {
    /// How one simulated model behaves.
    public struct Behaviour: Sendable {
        /// Time from the call to the whole answer.
        public var latency: Duration
        /// How many pieces the answer streams in (`TANDEM_SCRIPTED_PIECES`, at least 1): piece `k`
        /// of `n` arrives at `k/n` of the latency. With one, the first paragraph arrives after its
        /// share of the latency and the rest at its end, as before pieces existed.
        public var pieces: Int

        public init(latency: Duration, pieces: Int = 1) {
            self.latency = latency
            self.pieces = max(1, pieces)
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
        let content = paragraphs.joined(separator: "\n\n")
        // Timers due at fixed points of the call, so that timer slack does not add up. The pieces
        // concatenate to the content, as an upstream's streamed text does.
        let start = clock.elapsed
        func think(until deadline: Duration) async throws {
            if behaviour.latency > .zero { try await clock.sleep(untilElapsed: start + deadline) } else { try Task.checkCancellation() }
        }
        if behaviour.pieces == 1 {
            try await think(until: behaviour.latency / (paragraphs.count + 1))
            await observer.received(paragraphs[0])
            try await think(until: behaviour.latency)
            if paragraphs.count > 1 { await observer.received("\n\n" + paragraphs.dropFirst().joined(separator: "\n\n")) }
        } else {
            let pieces = Self.split(content, into: behaviour.pieces)
            for (index, piece) in pieces.enumerated() {
                try await think(until: behaviour.latency * (index + 1) / pieces.count)
                await observer.received(piece)
            }
        }
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

    /// `text` cut into `count` pieces of about equal length at character boundaries (fewer when
    /// it has fewer characters); they concatenate to `text`.
    static func split(_ text: String, into count: Int) -> [String] {
        let characters = Array(text)
        let pieces = min(count, characters.count)
        guard pieces > 1 else { return [text] }
        return (0..<pieces).map { index in
            String(characters[(characters.count * index / pieces)..<(characters.count * (index + 1) / pieces)])
        }
    }

    /// A rough token count (words), as simulated usage.
    static func tokens(in text: String) -> Int {
        var text = text
        return text.withUTF8 { bytes in
            var words = 0
            var inWord = false
            for byte in bytes {
                let isSeparator = byte == UInt8(ascii: " ") || byte == UInt8(ascii: "\n")
                if !isSeparator, !inWord { words += 1 }
                inWord = !isSeparator
            }
            return words
        }
    }
}
