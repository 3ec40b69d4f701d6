import Foundation
import TandemDomain

/// Any OpenAI-compatible `/v1/chat/completions` with `stream: true` (vLLM, Ollama, llama.cpp,
/// LiteLLM, OpenAI).
struct OpenAIProtocol: UpstreamProtocol {
    let baseURL: String
    let apiKey: String?

    func request(for model: ModelRequest) async throws -> UpstreamRequest {
        let body: [String: Any] = [
            "model": model.model,
            "messages": [["role": "user", "content": model.prompt]],
            "stream": true,
            "stream_options": ["include_usage": true],
            "temperature": model.settings.temperature,
            "max_tokens": model.settings.maxOutputTokens,
            "top_p": model.settings.topP,
        ]
        let data = (try? JSONSerialization.data(withJSONObject: body, options: [.sortedKeys])) ?? Data()
        var headers = [("content-type", "application/json"), ("accept", "text/event-stream")]
        if let apiKey, !apiKey.isEmpty { headers.append(("authorization", "Bearer \(apiKey)")) }
        return UpstreamRequest(url: baseURL + "/v1/chat/completions", headers: headers, body: Array(data))
    }

    func makeDecoder(for model: ModelRequest) -> OpenAIDecoder {
        OpenAIDecoder(requestedModel: model.model)
    }
}

/// Reads `chat.completion.chunk` events until `[DONE]`.
struct OpenAIDecoder: StreamDecoder {
    let requestedModel: String
    private var content = ""
    private var usage = TokenUsage(inputTokens: 0, outputTokens: 0)
    private var served: String?
    private var id: String?
    private var finishReason: String?

    init(requestedModel: String) {
        self.requestedModel = requestedModel
    }

    mutating func decode(_ data: [UInt8]) throws(ProviderError) -> [String] {
        if data.elementsEqual("[DONE]".utf8) { return [] }
        guard let chunk = (try? JSONSerialization.jsonObject(with: Data(data))) as? [String: Any] else {
            throw ProviderError(errorClass: "upstream_protocol", message: "malformed JSON in the chat completion stream", retryable: false)
        }
        if let error = chunk["error"] as? [String: Any] {
            throw ProviderError(errorClass: "upstream_error", message: "\(error["message"] ?? "error in stream")", retryable: true)
        }
        if let model = chunk["model"] as? String { served = model }
        if let value = chunk["id"] as? String { id = value }
        if let metadata = chunk["usage"] as? [String: Any] {
            usage = TokenUsage(
                inputTokens: UpstreamNumbers.tokenCount(metadata["prompt_tokens"]) ?? usage.inputTokens,
                outputTokens: UpstreamNumbers.tokenCount(metadata["completion_tokens"]) ?? usage.outputTokens
            )
        }
        guard let choice = (chunk["choices"] as? [[String: Any]])?.first else { return [] }
        if let reason = choice["finish_reason"] as? String { finishReason = reason }
        guard let text = (choice["delta"] as? [String: Any])?["content"] as? String else { return [] }
        content += text
        return [text]
    }

    func finish() throws(ProviderError) -> ModelResponse {
        guard !content.isEmpty else {
            let filtered = finishReason == "content_filter"
            throw ProviderError(
                errorClass: filtered ? "upstream_blocked" : "upstream_empty",
                message: "the model returned no text (finish reason \(finishReason ?? "none"))", retryable: !filtered
            )
        }
        return ModelResponse(servedModel: served ?? requestedModel, content: content, usage: usage, finishReason: finishReason, providerRequestID: id)
    }
}
