public import TandemDomain
import Foundation

/// Turns a run's journaled events into its SSE frames (SPEC §2).
///
/// The same renderer serves the live stream and every replay, so a replayed stream is the live one
/// byte for byte. It folds over the run's events from the first: the shutdown error is sent once
/// however many model calls the shutdown cancelled.
public struct FrameRenderer: Sendable {
    /// The run's id, the payloads' `trace_id`.
    public let traceID: String
    private var shutdownReported = false

    public init(traceID: String) {
        self.traceID = traceID
    }

    static let preliminaryMessage = "⚡ Quick preview - computing verified response..."
    static let finalMessage = "✅ Verified response ready"

    /// The frame `event` (journaled as `seq`) produces, if any.
    public mutating func frame(for event: DomainEvent, seq: UInt64?) -> SSEFrame? {
        switch event {
        case .modelCompleted(let role, let completed):
            let response = ResponsePayload(
                model: completed.model,
                content: completed.content,
                latencyMs: completed.latencyMs,
                isPreliminary: role == .flash,
                confidence: role == .flash ? "medium" : "high",
                usage: completed.usage,
                reasoningSteps: role == .pro ? Self.reasoningSteps(completed.content) : nil
            )
            let message = role == .flash ? Self.preliminaryMessage : Self.finalMessage
            return make(seq, role == .flash ? .preliminary : .final, AnswerPayload(response: response, message: message, traceID: traceID))
        case .modelDelta(let role, let delta):
            return make(seq, .delta, DeltaPayload(model: role, text: delta.text, offset: delta.offset, traceID: traceID))
        case .modelTimeout(let role, _):
            return error(seq, "\(Self.name(role)) model timed out", code: "\(role.rawValue)_timeout", type: "timeout", retryable: true, model: role)
        case .modelFailed(let role, let failed):
            return error(
                seq, "\(Self.name(role)) model failed: \(failed.message)", code: "\(role.rawValue)_error", type: "error",
                retryable: failed.retryable, model: role
            )
        case .modelCancelled(_, let cancelled) where cancelled.reason == .shutdown && !shutdownReported:
            shutdownReported = true
            return error(seq, "Server is shutting down", code: "server_shutdown", type: "cancelled", retryable: true, model: nil)
        case .done(let done):
            return make(seq, .done, DonePayload(traceID: traceID, status: done.status.rawValue, reason: nil))
        case .runAborted(let aborted):
            return make(seq, .done, DonePayload(traceID: traceID, status: RunStatus.error.rawValue, reason: "aborted: \(aborted.reason)"))
        case .runStarted, .modelStarted, .firstToken, .modelRetry, .modelCancelled, .clientDisconnected:
            return nil
        }
    }

    /// The frames sent when the journal fails mid-run: they cannot be journaled, so they carry no id.
    public func streamFailureFrames(message: String) -> [SSEFrame] {
        [
            error(nil, "Stream failed: \(message)", code: "stream_failure", type: "error", retryable: true, model: nil),
            make(nil, .done, DonePayload(traceID: traceID, status: RunStatus.error.rawValue, reason: nil)),
        ]
    }

    /// The first five blank-line-separated paragraphs of `content` (split at each `\n\n` after
    /// `\r\n` became `\n`, trimmed, empty ones skipped). Walks the bytes once and stops after five:
    /// answers are long and every `final` frame of every stream and replay needs this.
    static func reasoningSteps(_ content: String) -> [String] {
        let text = content.utf8.contains(UInt8(ascii: "\r")) ? content.replacingOccurrences(of: "\r\n", with: "\n") : content
        let bytes = Array(text.utf8)
        var steps: [String] = []
        var start = 0
        var index = 0
        func take(_ end: Int) {
            // Trimmed of Unicode White_Space, the set `CharacterSet.whitespacesAndNewlines` holds.
            let scalars = String(decoding: bytes[start..<end], as: UTF8.self).unicodeScalars
            guard let first = scalars.firstIndex(where: { !$0.properties.isWhitespace }),
                  let last = scalars.lastIndex(where: { !$0.properties.isWhitespace }) else { return }
            steps.append(String(scalars[first...last]))
        }
        while index + 1 < bytes.count, steps.count < 5 {
            if bytes[index] == UInt8(ascii: "\n"), bytes[index + 1] == UInt8(ascii: "\n") {
                take(index)
                index += 2
                start = index
            } else {
                index += 1
            }
        }
        if steps.count < 5 { take(bytes.count) }
        return steps
    }

    private static func name(_ role: ModelRole) -> String { role == .flash ? "Flash" : "Pro" }

    private func error(_ seq: UInt64?, _ message: String, code: String, type: String, retryable: Bool, model: ModelRole?) -> SSEFrame {
        make(seq, .error, ErrorPayload(error: message, code: code, type: type, retryable: retryable, model: model, traceID: traceID))
    }

    private func make(_ seq: UInt64?, _ event: FrameEvent, _ payload: some CanonicalWritable) -> SSEFrame {
        // Payloads hold only strings, finite numbers and booleans already journaled.
        SSEFrame(id: seq, event: event, data: payload.canonicalJSON)
    }
}
