import Foundation
public import Hummingbird
import HTTPTypes
import Logging
import NIOCore
import ServiceLifecycle
import Synchronization
import TandemJournal

/// A real HTTP server on loopback that speaks the Gemini (`:streamGenerateContent?alt=sse`) and
/// OpenAI (`/v1/chat/completions`) streaming protocols, and misbehaves on request: delays, stalls
/// after the headers, trickles, malformed JSON, a cut connection, 429 with `Retry-After`, 500.
/// It records each request and when the client closed each connection.
public final class FakeUpstream: Sendable {
    /// What the next requests get.
    public enum Behaviour: Sendable {
        /// Streams `chunks` of text (one SSE event each), then usage and the end.
        case answer(chunks: [String], version: String = "fake-model-001")
        /// Sends the headers, then nothing until the client goes away.
        case stallAfterHeaders
        /// Streams the chunks with `gap` of real time between them.
        case trickle(chunks: [String], gap: Duration)
        /// Sends a chunk that is not JSON.
        case malformed
        /// Sends one chunk, then closes the connection mid-stream.
        case cut
        /// Answers with `status` (and `Retry-After` seconds when given).
        case status(Int, retryAfter: Int?)
        /// A blocked prompt (Gemini `promptFeedback.blockReason`).
        case blocked
        /// Waits `delay` of real time before answering (headers included) with `chunks`.
        case delayHeaders(Duration, chunks: [String])
        /// Streams `chunks` with usage whose token counts are the given JSON number texts
        /// (`"9223372036854775807"`, `"-5"`, `"1e30"`): what a broken or hostile upstream may send.
        case answerWithUsage(chunks: [String], inputTokens: String, outputTokens: String)
        /// Streams `chunks` as ``answer(chunks:version:)`` does, but writes each event's bytes in two
        /// writes cut inside its first multi-byte character.
        case splitCharacters(chunks: [String])
        /// Streams `chunks`, then stalls mid-answer until the client goes away.
        case stallMidAnswer(chunks: [String])
        /// Sends nothing, headers included, until ``stop()``: an upstream that never answers.
        case holdHeaders
    }

    private struct State {
        var script: [Behaviour] = []
        var fallback: Behaviour = .answer(chunks: ["Hello", " world"])
        var requests: [(path: String, headers: [String: String], body: String)] = []
        var closes: [ContinuousClock.Instant] = []
        var tokenRequests: [String] = []
        var inFlight = 0
        var maxInFlight = 0
        /// Tests waiting for requests or closes to arrive.
        var waiters = WaiterList<Awaited, Void>()

        /// Takes the waiters that what was recorded so far lets go.
        mutating func due() -> Wakeups<Awaited, Void> {
            let (requests, closes) = (requests.count, closes.count)
            return waiters.take { awaited in
                switch awaited {
                case .requests(let count): requests >= count
                case .closes(let count): closes >= count
                }
            }
        }
    }

    /// What a test waits for.
    private enum Awaited: Sendable {
        case requests(Int)
        case closes(Int)
    }

    private let state = Mutex(State())
    /// Lets go of the requests that ``Behaviour/holdHeaders`` holds.
    private let stopping = FirstOutcome<Void>()
    public let port: Int
    private let group: ServiceGroup
    private let task: Task<Void, any Error>

    /// Starts a fake upstream on an ephemeral port.
    public static func start() async throws -> FakeUpstream {
        let (ports, sink) = AsyncStream.makeStream(of: Int.self)
        let router = Router()
        let holder = Holder()
        router.post("/v1beta/models/{call}") { request, context in
            try await holder.upstream!.respond(request, context: context, protocol: .gemini)
        }
        router.post("/v1/chat/completions") { request, context in
            try await holder.upstream!.respond(request, context: context, protocol: .openAI)
        }
        router.post("/v1/projects/{project}/locations/{location}/publishers/google/models/{call}") { request, context in
            try await holder.upstream!.respond(request, context: context, protocol: .gemini)
        }
        router.post("/token") { request, _ in
            try await holder.upstream!.issueToken(request)
        }
        var logger = Logger(label: "fake-upstream")
        logger.logLevel = .critical
        let app = Application(
            router: router, configuration: .init(address: .hostname("127.0.0.1", port: 0)),
            onServerRunning: { sink.yield($0.localAddress?.port ?? 0) }, logger: logger
        )
        let group = ServiceGroup(configuration: .init(services: [app], logger: logger))
        let task = Task { try await group.run() }
        var iterator = ports.makeAsyncIterator()
        let port = await iterator.next() ?? 0
        let upstream = FakeUpstream(port: port, group: group, task: task)
        holder.upstream = upstream
        return upstream
    }

    private init(port: Int, group: ServiceGroup, task: Task<Void, any Error>) {
        self.port = port
        self.group = group
        self.task = task
    }

    public var baseURL: String { "http://127.0.0.1:\(port)" }

    /// Behaviours for the next requests, in order; after them, `fallback`.
    public func script(_ behaviours: [Behaviour], fallback: Behaviour = .answer(chunks: ["Hello", " world"])) {
        state.withLock {
            $0.script = behaviours
            $0.fallback = fallback
        }
    }

    public var requests: [(path: String, headers: [String: String], body: String)] { state.withLock { $0.requests } }

    /// Returns once `count` model requests have been received (or the calling task is cancelled).
    public func waitForRequests(_ count: Int) async {
        await state.wait(in: \.waiters, tag: .requests(count), onCancel: ()) { $0.requests.count >= count ? () : nil }
    }

    /// Returns once clients have closed `count` connections whose response was still streaming
    /// (or the calling task is cancelled).
    public func waitForCloses(_ count: Int) async {
        await state.wait(in: \.waiters, tag: .closes(count), onCancel: ()) { $0.closes.count >= count ? () : nil }
    }
    /// When the client closed connections whose response was still streaming.
    public var closes: [ContinuousClock.Instant] { state.withLock { $0.closes } }

    /// The most model requests that were being answered at the same time (from receipt to the
    /// end of the response).
    public var maxConcurrentRequests: Int { state.withLock { $0.maxInFlight } }

    /// Bodies of the OAuth token requests received.
    public var tokenRequests: [String] { state.withLock { $0.tokenRequests } }

    /// An OAuth token endpoint: answers any JWT-bearer grant with a fresh token.
    private func issueToken(_ request: Request) async throws -> Response {
        var request = request
        let body = String(buffer: try await request.collectBody(upTo: 1 << 20))
        let count = state.withLock { state -> Int in
            state.tokenRequests.append(body)
            return state.tokenRequests.count
        }
        guard body.contains("grant_type=urn%3Aietf%3Aparams%3Aoauth%3Agrant-type%3Ajwt-bearer") else {
            return Response(status: .badRequest, body: .init(byteBuffer: ByteBuffer(string: #"{"error":"unsupported_grant_type"}"#)))
        }
        var headers = HTTPFields()
        headers[.contentType] = "application/json"
        return Response(status: .ok, headers: headers, body: .init(byteBuffer: ByteBuffer(string: #"{"access_token":"minted-\#(count)","expires_in":3600,"token_type":"Bearer"}"#)))
    }

    public func stop() async {
        stopping.offer(())
        await group.triggerGracefulShutdown()
        _ = try? await task.value
    }

    // MARK: Responding

    enum WireProtocol { case gemini, openAI }

    private func respond(_ request: Request, context: some RequestContext, protocol wire: WireProtocol) async throws -> Response {
        var request = request
        let body = try await request.collectBody(upTo: 1 << 20)
        var headers: [String: String] = [:]
        for field in request.headers { headers[field.name.canonicalName] = field.value }
        let (behaviour, arrived) = state.withLock { state -> (Behaviour, Wakeups<Awaited, Void>) in
            state.requests.append((request.uri.path, headers, String(buffer: body)))
            state.inFlight += 1
            state.maxInFlight = max(state.maxInFlight, state.inFlight)
            return (state.script.isEmpty ? state.fallback : state.script.removeFirst(), state.due())
        }
        arrived.resume(returning: ())
        let answered: @Sendable () -> Void = { [self] in state.withLock { $0.inFlight -= 1 } }
        var responseHeaders = HTTPFields()
        responseHeaders[.contentType] = "text/event-stream"
        // Watching for the client leaving consumes the connection: it closes after the stream.
        responseHeaders[.connection] = "close"
        // The scripted delay itself (real time by definition), not a wait for something to happen.
        if case .delayHeaders(let delay, _) = behaviour { try await Task.sleep(for: delay) }
        switch behaviour {
        case .holdHeaders:
            await stopping.value(onCancel: ())
            answered()
            return Response(status: .serviceUnavailable)
        case .status(let code, let retryAfter):
            var fields = HTTPFields()
            fields[.contentType] = "application/json"
            if let retryAfter { fields[.retryAfter] = "\(retryAfter)" }
            answered()
            let json = #"{"error":{"code":\#(code),"message":"fake upstream says \#(code) for key AIzaFAKEKEY0123456789abcdefghijklmnopq"}}"#
            return Response(status: .init(code: code), headers: fields, body: .init(byteBuffer: ByteBuffer(string: json)))
        default:
            break
        }
        let frames = Self.frames(for: behaviour, wire)
        let requestBody = request.body
        let clientGone = FirstOutcome<Void>()
        return Response(status: .ok, headers: responseHeaders, body: ResponseBody { [self] writer in
            try await requestBody.consumeWithInboundCloseHandler { _ in
                switch behaviour {
                case .stallAfterHeaders:
                    try await writer.write(ByteBuffer(string: ": waiting\n\n"))
                    // Stall until the client goes away (then end, so the server can shut down).
                    await clientGone.value(onCancel: ())
                    try Task.checkCancellation()
                case .trickle(_, let gap):
                    for frame in frames {
                        try await writer.write(ByteBuffer(string: frame))
                        // The scripted gap itself: real time between pieces, as an upstream sends them.
                        try await Task.sleep(for: gap)
                    }
                case .cut:
                    try await writer.write(ByteBuffer(string: frames[0]))
                    throw CancellationError()  // drops the connection without finishing the body
                case .splitCharacters:
                    for frame in frames {
                        let bytes = Array(frame.utf8)
                        // Inside the first multi-byte character: after its lead byte.
                        let cut = (bytes.firstIndex { $0 >= 0xC0 } ?? bytes.count - 1) + 1
                        try await writer.write(ByteBuffer(bytes: bytes[..<cut]))
                        try await writer.write(ByteBuffer(bytes: bytes[cut...]))
                    }
                case .stallMidAnswer:
                    // The answer's events without its last (usage and finish), then nothing.
                    for frame in frames.dropLast() { try await writer.write(ByteBuffer(string: frame)) }
                    await clientGone.value(onCancel: ())
                    try Task.checkCancellation()
                default:
                    for frame in frames { try await writer.write(ByteBuffer(string: frame)) }
                }
            } onInboundClosed: { [self] in
                state.withLock { state in
                    state.closes.append(.now)
                    return state.due()
                }.resume(returning: ())
                clientGone.offer(())
            }
            answered()
            try await writer.finish(nil)
        })
    }

    private static func frames(for behaviour: Behaviour, _ wire: WireProtocol) -> [String] {
        switch behaviour {
        case .malformed:
            return ["data: {\"candidates\": [oops\n\n"]
        case .blocked:
            return [#"data: {"promptFeedback":{"blockReason":"SAFETY"},"usageMetadata":{"promptTokenCount":3}}"# + "\n\n"]
        case .answer(let chunks, let version):
            return wire == .gemini ? gemini(chunks, version) : openAI(chunks, version)
        case .answerWithUsage(let chunks, let input, let output):
            // The usage numbers are spliced in as text: JSONSerialization cannot write all of them.
            let frames = wire == .gemini ? gemini(chunks, "fake-model-001") : openAI(chunks, "fake-model-001")
            let (inputKey, outputKey) = wire == .gemini ? ("promptTokenCount", "candidatesTokenCount") : ("prompt_tokens", "completion_tokens")
            return frames.map { frame in
                frame.replacingOccurrences(of: #""\#(inputKey)":7"#, with: #""\#(inputKey)":\#(input)"#)
                    .replacingOccurrences(of: #""\#(outputKey)":\#(chunks.count * 2)"#, with: #""\#(outputKey)":\#(output)"#)
            }
        case .trickle(let chunks, _), .delayHeaders(_, let chunks), .splitCharacters(let chunks), .stallMidAnswer(let chunks):
            return wire == .gemini ? gemini(chunks, "fake-model-001") : openAI(chunks, "fake-model-001")
        case .cut:
            return wire == .gemini ? gemini(["partial", " rest"], "fake-model-001") : openAI(["partial", " rest"], "fake-model-001")
        default:
            return []
        }
    }

    private static func gemini(_ chunks: [String], _ version: String) -> [String] {
        var frames = chunks.map { text in
            "data: " + json(["candidates": [["content": ["role": "model", "parts": [["text": text]]]]], "modelVersion": version, "responseId": "resp-1"]) + "\n\n"
        }
        frames.append("data: " + json([
            "candidates": [["content": ["role": "model", "parts": [["text": ""]]], "finishReason": "STOP"]],
            "usageMetadata": ["promptTokenCount": 7, "candidatesTokenCount": chunks.count * 2, "totalTokenCount": 7 + chunks.count * 2],
            "modelVersion": version, "responseId": "resp-1",
        ]) + "\n\n")
        return frames
    }

    private static func openAI(_ chunks: [String], _ version: String) -> [String] {
        var frames = chunks.map { text in
            "data: " + json(["id": "chatcmpl-1", "object": "chat.completion.chunk", "model": version, "choices": [["index": 0, "delta": ["content": text]]]]) + "\n\n"
        }
        frames.append("data: " + json(["id": "chatcmpl-1", "model": version, "choices": [["index": 0, "delta": [:], "finish_reason": "stop"]]]) + "\n\n")
        frames.append("data: " + json(["id": "chatcmpl-1", "model": version, "choices": [], "usage": ["prompt_tokens": 7, "completion_tokens": chunks.count * 2]]) + "\n\n")
        frames.append("data: [DONE]\n\n")
        return frames
    }

    private static func json(_ object: [String: Any]) -> String {
        String(decoding: (try? JSONSerialization.data(withJSONObject: object, options: [.sortedKeys])) ?? Data(), as: UTF8.self)
    }
}

/// Lets the router's closures reach the upstream object created after them.
private final class Holder: @unchecked Sendable {
    // `@unchecked Sendable`: `upstream` is set once, before the server answers its first request.
    var upstream: FakeUpstream?
}
