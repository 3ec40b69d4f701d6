/// The identifier of one dual-model run: 1–64 characters of `[A-Za-z0-9_-]`.
///
/// The journal indexes entries by it; the restricted alphabet means it never needs escaping in a
/// journal line, a URL path or a log line.
public struct RunID: Hashable, Sendable, Comparable, CustomStringConvertible {
    /// The identifier's text.
    public let rawValue: String

    /// Validates `rawValue`; `nil` when it is empty, longer than 64 or has other characters.
    public init?(_ rawValue: String) {
        guard Self.isValid(rawValue.utf8) else { return nil }
        self.rawValue = rawValue
    }

    init(validatedRawValue: String) {
        self.rawValue = validatedRawValue
    }

    /// Whether `bytes` form a valid run identifier.
    public static func isValid(_ bytes: some Collection<UInt8>) -> Bool {
        (1...64).contains(bytes.count) && bytes.allSatisfy(isAllowed)
    }

    /// Whether `byte` may appear in a run identifier.
    static func isAllowed(_ byte: UInt8) -> Bool {
        switch byte {
        case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"),
            UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "_"), UInt8(ascii: "-"):
            true
        default:
            false
        }
    }

    public var description: String { rawValue }

    public static func < (lhs: RunID, rhs: RunID) -> Bool { lhs.rawValue < rhs.rawValue }
}
