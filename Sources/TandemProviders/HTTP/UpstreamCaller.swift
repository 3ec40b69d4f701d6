import AsyncHTTPClient
import Foundation
import NIOCore
import NIOHTTP1
import TandemDomain

/// What one upstream protocol contributes: the HTTP request, and how to read its event stream.
protocol UpstreamProtocol: Sendable {
    associatedtype Decoder: StreamDecoder
    func request(for model: ModelRequest) async throws -> UpstreamRequest
    func makeDecoder(for model: ModelRequest) -> Decoder
}

/// Reads an upstream's SSE events into an answer.
protocol StreamDecoder {
    /// Decodes one event's data; returns the text it adds to the answer.
    mutating func decode(_ data: [UInt8]) throws(ProviderError) -> [String]
    /// The whole answer once the stream ended.
    func finish() throws(ProviderError) -> ModelResponse
}

/// An HTTP request to an upstream.
struct UpstreamRequest: Sendable {
    var url: String
    var headers: [(String, String)]
    var body: [UInt8]
}

/// Calls an upstream over one shared `HTTPClient`: attempts, retries with backoff, the circuit
/// breaker, progress to the observer, and errors classified (`upstream_http_4xx`,
/// `upstream_http_5xx`, `upstream_rate_limited`, `upstream_connection`, `upstream_protocol`, …).
///
/// The call runs in the caller's task: cancelling it cancels the HTTP request, which closes the
/// upstream connection.
struct UpstreamCaller<P: UpstreamProtocol>: Sendable {
    let upstream: P
    let client: HTTPClient
    let retry: RetryPolicy
    let breakers: [ModelRole: CircuitBreaker]
    let clock: any MonotonicClock

    func call(_ model: ModelRequest, observer: any ModelCallObserver) async throws -> ModelResponse {
        let breaker = breakers[model.role]
        let admission = breaker?.allow() ?? .call
        if case .refused = admission, let breaker {
            throw ProviderError(
                errorClass: "circuit_open",
                message: "the \(model.role.rawValue) upstream failed \(breaker.threshold) times in a row; failing fast for \(breaker.coolDown)",
                retryable: true
            )
        }
        // Every way the call ends reaches the breaker: a half-open trial that recorded nothing
        // would refuse every later call until restart.
        do {
            let response = try await attempts(model, observer: observer)
            breaker?.recordSuccess()
            return response
        } catch let error as ProviderError {
            breaker?.recordFailure()
            throw error
        } catch {
            breaker?.release(admission)
            throw error
        }
    }

    /// Attempts the call until it succeeds, fails for good (a ``ProviderError``), or is cancelled
    /// (`CancellationError`).
    private func attempts(_ model: ModelRequest, observer: any ModelCallObserver) async throws -> ModelResponse {
        var attempt = 1
        while true {
            await observer.attemptStarted(attempt)
            var streamedText = false
            do {
                return try await attemptOnce(model, observer: observer, streamedText: &streamedText)
            } catch let error as ProviderError {
                if Task.isCancelled { throw CancellationError() }
                let delay = error.retryable && !streamedText
                    ? retry.delay(after: attempt, retryAfter: error.retryAfter, now: clock.elapsed, deadline: model.deadline)
                    : nil
                guard let delay else { throw error }
                await observer.retrying(ModelRetry(
                    attempt: attempt, delayMs: CanonicalJSON.milliseconds(delay.milliseconds), errorClass: error.errorClass,
                    httpStatus: error.httpStatus
                ))
                try await clock.sleep(for: delay)
                attempt += 1
            }
        }
    }

    private func attemptOnce(_ model: ModelRequest, observer: any ModelCallObserver, streamedText: inout Bool) async throws -> ModelResponse {
        let upstreamRequest = try await upstream.request(for: model)
        var request = HTTPClientRequest(url: upstreamRequest.url)
        request.method = .POST
        for (name, value) in upstreamRequest.headers { request.headers.add(name: name, value: value) }
        request.body = .bytes(ByteBuffer(bytes: upstreamRequest.body))
        let response: HTTPClientResponse
        do {
            response = try await client.execute(request, deadline: .distantFuture)
        } catch {
            if Task.isCancelled { throw CancellationError() }
            throw ProviderError(errorClass: "upstream_connection", message: "could not reach the upstream: \(error)", retryable: true)
        }
        guard response.status == .ok else {
            throw await Self.failure(response)
        }
        var parser = SSEParser()
        var decoder = upstream.makeDecoder(for: model)
        do {
            for try await chunk in response.body {
                for data in parser.feed(chunk.readableBytesView) {
                    for text in try decoder.decode(data) where !text.isEmpty {
                        streamedText = true
                        await observer.received(text)
                    }
                }
            }
        } catch let error as ProviderError {
            throw error
        } catch {
            if Task.isCancelled { throw CancellationError() }
            throw ProviderError(errorClass: "upstream_connection", message: "the upstream stream broke off: \(error)", retryable: true)
        }
        if let data = parser.finish() {
            for text in try decoder.decode(data) where !text.isEmpty {
                streamedText = true
                await observer.received(text)
            }
        }
        return try decoder.finish()
    }

    /// The error of a non-200 answer, with the upstream's own message when it sent one.
    private static func failure(_ response: HTTPClientResponse) async -> ProviderError {
        let status = Int(response.status.code)
        let body = (try? await response.body.collect(upTo: 64 * 1024)).map { String(buffer: $0) } ?? ""
        var message = "HTTP \(status)"
        if let json = try? JSONSerialization.jsonObject(with: Data(body.utf8)) as? [String: Any] {
            if let error = json["error"] as? [String: Any], let text = error["message"] as? String {
                message += ": \(text)"
            } else if let text = json["error"] as? String {
                message += ": \(text)"
            }
        } else if !body.isEmpty {
            message += ": \(body.prefix(200))"
        }
        let retryAfter = UpstreamNumbers.retryAfter(response.headers.first(name: "retry-after"))
        switch status {
        case 429:
            return ProviderError(errorClass: "upstream_rate_limited", message: message, httpStatus: status, retryable: true, retryAfter: retryAfter)
        case 500...599:
            return ProviderError(errorClass: "upstream_http_5xx", message: message, httpStatus: status, retryable: true, retryAfter: retryAfter)
        default:
            return ProviderError(errorClass: "upstream_http_4xx", message: message, httpStatus: status, retryable: false)
        }
    }
}
