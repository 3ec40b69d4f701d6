import Crypto

/// The hash chain's arithmetic: SHA-256 of a line, as 32 bytes or 64 lowercase hex digits.
public enum ChainHash {
    /// The `prev` of the first entry: 64 zeros.
    public static let genesis: [UInt8] = Array(repeating: UInt8(ascii: "0"), count: 64)

    /// The SHA-256 of `bytes` as 64 lowercase hex ASCII bytes.
    public static func hexBytes(of bytes: UnsafeRawBufferPointer) -> [UInt8] {
        var out = [UInt8](repeating: 0, count: 64)
        writeHex(of: bytes, into: &out)
        return out
    }

    /// Overwrites `hex` with the SHA-256 of `bytes` in lowercase hex, without allocating when it
    /// holds 64 bytes of its own (not shared with another array).
    static func writeHex(of bytes: UnsafeRawBufferPointer, into hex: inout [UInt8]) {
        if hex.count != 64 { hex = [UInt8](repeating: 0, count: 64) }
        let digest = digest(of: bytes)
        hex.withUnsafeMutableBufferPointer { out in
            digest.withUnsafeBytes { digest in
                for (index, byte) in digest.enumerated() {
                    out[2 * index] = hexDigit(byte >> 4)
                    out[2 * index + 1] = hexDigit(byte & 0x0f)
                }
            }
        }
    }

    /// The SHA-256 of `bytes` as 64 lowercase hex ASCII bytes.
    public static func hexBytes(of bytes: [UInt8]) -> [UInt8] {
        bytes.withUnsafeBytes { hexBytes(of: $0) }
    }

    /// The SHA-256 of `bytes` as a 64-character lowercase hex string.
    public static func hex(of bytes: [UInt8]) -> String {
        String(decoding: hexBytes(of: bytes), as: UTF8.self)
    }

    private static func digest(of bytes: UnsafeRawBufferPointer) -> SHA256.Digest {
        var hasher = SHA256()
        hasher.update(bufferPointer: bytes)
        return hasher.finalize()
    }

    /// The lowercase hex digit of `nibble` (0…15), computed: a table would be a global, read
    /// through a once-check per digit on the hot paths (every append and every verified line).
    @inline(__always)
    private static func hexDigit(_ nibble: UInt8) -> UInt8 {
        nibble < 10 ? UInt8(ascii: "0") &+ nibble : UInt8(ascii: "a") &+ (nibble &- 10)
    }
}
