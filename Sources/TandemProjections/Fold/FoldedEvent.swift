#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import TandemDomain

/// A journal event type as the folds see it, decoded once per entry from the type's bytes: a
/// run-level event, or one model's event (`ModelRole` + `ModelEventKind`, the names the domain
/// events use). Types this version does not fold are `ignored`.
enum FoldedEvent: Equatable {
    case runStarted
    case clientDisconnected
    case runAborted
    case done
    case model(ModelRole, ModelEventKind)
    case ignored

    init(_ type: ArraySlice<UInt8>) {
        self = type.withUnsafeBytes(Self.classify)
    }

    private static func classify(_ bytes: UnsafeRawBufferPointer) -> FoldedEvent {
        guard !bytes.isEmpty else { return .ignored }
        for role in ModelRole.allCases {
            let prefix = role.typePrefix
            guard bytes.count > prefix.utf8CodeUnitCount, memcmp(bytes.baseAddress!, prefix.utf8Start, prefix.utf8CodeUnitCount) == 0 else { continue }
            let rest = UnsafeRawBufferPointer(rebasing: bytes[prefix.utf8CodeUnitCount...])
            return ModelEventKind.allCases.first { $0.rawValue.utf8.elementsEqual(rest) }.map { .model(role, $0) } ?? .ignored
        }
        switch RunEventKind.allCases.first(where: { $0.rawValue.utf8.elementsEqual(bytes) }) {
        case .runStarted: return .runStarted
        case .clientDisconnected: return .clientDisconnected
        case .runAborted: return .runAborted
        case .done: return .done
        case nil: return .ignored
        }
    }
}

extension ModelRole {
    /// The start of this model's event types (`flash_`, `pro_`).
    fileprivate var typePrefix: StaticString { self == .flash ? "flash_" : "pro_" }
    /// Metric keys of this model's token counters.
    var inputTokensKey: String { self == .flash ? "flash|input" : "pro|input" }
    var outputTokensKey: String { self == .flash ? "flash|output" : "pro|output" }
}
