#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A journal event type as the folds see it, decoded once per entry from the type's bytes: a
/// run-level event, or one model's event. Types this version does not fold are `ignored`.
enum FoldedEvent: Equatable {
    case runStarted
    case clientDisconnected
    case runAborted
    case done
    case model(Model, ModelEvent)
    case ignored

    /// Which of the run's two models an event concerns.
    enum Model: Equatable {
        case flash
        case pro

        /// The label used in metric keys.
        var label: String { self == .flash ? "flash" : "pro" }
        var inputTokensKey: String { self == .flash ? "flash|input" : "pro|input" }
        var outputTokensKey: String { self == .flash ? "flash|output" : "pro|output" }
    }

    /// What happened to the model's call.
    enum ModelEvent: Equatable {
        case started
        case firstToken
        case completed
        case retry
        case timeout
        case failed
        case cancelled
    }

    init(_ type: ArraySlice<UInt8>) {
        self = type.withUnsafeBytes(Self.classify)
    }

    private static func classify(_ bytes: UnsafeRawBufferPointer) -> FoldedEvent {
        func equals(_ literal: StaticString, from offset: Int = 0) -> Bool {
            bytes.count - offset == literal.utf8CodeUnitCount
                && memcmp(bytes.baseAddress! + offset, literal.utf8Start, literal.utf8CodeUnitCount) == 0
        }
        guard !bytes.isEmpty else { return .ignored }
        let model: Model
        let offset: Int
        if bytes.count > 6, memcmp(bytes.baseAddress!, ("flash_" as StaticString).utf8Start, 6) == 0 {
            (model, offset) = (.flash, 6)
        } else if bytes.count > 4, memcmp(bytes.baseAddress!, ("pro_" as StaticString).utf8Start, 4) == 0 {
            (model, offset) = (.pro, 4)
        } else {
            return if equals("run_started") { .runStarted }
                else if equals("done") { .done }
                else if equals("client_disconnected") { .clientDisconnected }
                else if equals("run_aborted") { .runAborted }
                else { .ignored }
        }
        let event: ModelEvent? = if equals("started", from: offset) { .started }
            else if equals("first_token", from: offset) { .firstToken }
            else if equals("completed", from: offset) { .completed }
            else if equals("retry", from: offset) { .retry }
            else if equals("timeout", from: offset) { .timeout }
            else if equals("failed", from: offset) { .failed }
            else if equals("cancelled", from: offset) { .cancelled }
            else { nil }
        return event.map { .model(model, $0) } ?? .ignored
    }
}
