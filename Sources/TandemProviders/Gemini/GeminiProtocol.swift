import Foundation
import TandemDomain

/// The Gemini API's streaming protocol (`…:streamGenerateContent?alt=sse`), shared by the Gemini
/// API (key in `x-goog-api-key`) and Vertex AI (bearer token) — only the URL and the auth differ.
struct GeminiProtocol: UpstreamProtocol {
    /// Builds the URL of a model's streaming endpoint.
    let url: @Sendable (_ model: String) -> String
    /// The auth header (`x-goog-api-key: …` or `Authorization: Bearer …`).
    let auth: @Sendable () async throws -> (String, String)

    func request(for model: ModelRequest) async throws -> UpstreamRequest {
        let body: [String: Any] = [
            "contents": [["role": "user", "parts": [["text": model.prompt]]]],
            "generationConfig": [
                "temperature": model.settings.temperature,
                "maxOutputTokens": model.settings.maxOutputTokens,
                "topP": model.settings.topP,
            ],
        ]
        let data = (try? JSONSerialization.data(withJSONObject: body, options: [.sortedKeys])) ?? Data()
        return UpstreamRequest(
            url: url(model.model),
            headers: [("content-type", "application/json"), ("accept", "text/event-stream"), try await auth()],
            body: Array(data)
        )
    }

    func makeDecoder(for model: ModelRequest) -> GeminiDecoder {
        GeminiDecoder(requestedModel: model.model)
    }
}

/// Reads Gemini's `GenerateContentResponse` chunks: text parts, usage, model version, response id,
/// finish reason; a blocked prompt or an empty answer is a failure, not an empty answer.
struct GeminiDecoder: StreamDecoder {
    let requestedModel: String
    private var content = ""
    private var usage = TokenUsage(inputTokens: 0, outputTokens: 0)
    private var version: String?
    private var responseID: String?
    private var finishReason: String?
    private var blockReason: String?

    init(requestedModel: String) {
        self.requestedModel = requestedModel
    }

    mutating func decode(_ data: [UInt8]) throws(ProviderError) -> [String] {
        guard let chunk = (try? JSONSerialization.jsonObject(with: Data(data))) as? [String: Any] else {
            throw ProviderError(errorClass: "upstream_protocol", message: "malformed JSON in the Gemini stream", retryable: false)
        }
        if let error = chunk["error"] as? [String: Any] {
            throw ProviderError(errorClass: "upstream_error", message: "\(error["message"] ?? "error in stream")", retryable: true)
        }
        if let feedback = chunk["promptFeedback"] as? [String: Any], let reason = feedback["blockReason"] as? String {
            blockReason = reason
        }
        if let metadata = chunk["usageMetadata"] as? [String: Any] {
            usage = TokenUsage(
                inputTokens: UpstreamNumbers.tokenCount(metadata["promptTokenCount"]) ?? usage.inputTokens,
                outputTokens: UpstreamNumbers.tokenCount(metadata["candidatesTokenCount"]) ?? usage.outputTokens
            )
        }
        if let modelVersion = chunk["modelVersion"] as? String { version = modelVersion }
        if let id = chunk["responseId"] as? String { responseID = id }
        var texts: [String] = []
        if let candidate = (chunk["candidates"] as? [[String: Any]])?.first {
            if let reason = candidate["finishReason"] as? String { finishReason = reason }
            let parts = (candidate["content"] as? [String: Any])?["parts"] as? [[String: Any]] ?? []
            for part in parts {
                if let text = part["text"] as? String, part["thought"] as? Bool != true { texts.append(text) }
            }
        }
        content += texts.joined()
        return texts
    }

    func finish() throws(ProviderError) -> ModelResponse {
        if let blockReason {
            throw ProviderError(errorClass: "upstream_blocked", message: "the prompt was blocked (\(blockReason))", retryable: false)
        }
        guard !content.isEmpty else {
            let blocked = ["SAFETY", "RECITATION", "BLOCKLIST", "PROHIBITED_CONTENT", "SPII"].contains(finishReason ?? "")
            throw ProviderError(
                errorClass: blocked ? "upstream_blocked" : "upstream_empty",
                message: "the model returned no text (finish reason \(finishReason ?? "none"))", retryable: !blocked
            )
        }
        return ModelResponse(
            servedModel: version ?? requestedModel, content: content, usage: usage, finishReason: finishReason, providerRequestID: responseID
        )
    }
}
