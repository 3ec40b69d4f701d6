import Foundation

/// The one JSON encoding tandem journals and hashes: keys sorted, no spaces, `/` unescaped,
/// non-ASCII as raw UTF-8. The same value always gives the same bytes.
public enum CanonicalJSON {
    /// Encodes `value` canonically.
    /// - Throws: `EncodingError` for values JSON cannot hold (non-finite numbers).
    public static func encode(_ value: some Encodable) throws -> [UInt8] {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return Array(try encoder.encode(value))
    }

    /// Decodes `T` from JSON bytes.
    public static func decode<T: Decodable>(_ type: T.Type, from bytes: some Collection<UInt8>) throws -> T {
        try JSONDecoder().decode(type, from: Data(bytes))
    }

    /// Rounds a millisecond figure to 2 decimals, the precision journaled and served.
    public static func milliseconds(_ value: Double) -> Double {
        (value * 100).rounded() / 100
    }
}
