import Crypto

/// The hash chain's arithmetic: SHA-256 of a line, as 32 bytes or 64 lowercase hex digits.
public enum ChainHash {
    /// The `prev` of the first entry: 64 zeros.
    public static let genesis: [UInt8] = Array(repeating: UInt8(ascii: "0"), count: 64)

    /// The SHA-256 of `bytes` as 64 lowercase hex ASCII bytes.
    public static func hexBytes(of bytes: UnsafeRawBufferPointer) -> [UInt8] {
        let digest = digest(of: bytes)
        var out = [UInt8]()
        out.reserveCapacity(64)
        for byte in digest {
            out.append(hexDigits[Int(byte >> 4)])
            out.append(hexDigits[Int(byte & 0x0f)])
        }
        return out
    }

    /// Overwrites `hex` (64 bytes) with the SHA-256 of `bytes` in lowercase hex, without allocating.
    static func writeHex(of bytes: UnsafeRawBufferPointer, into hex: inout [UInt8]) {
        let digest = digest(of: bytes)
        hex.withUnsafeMutableBufferPointer { out in
            var index = 0
            for byte in digest {
                out[index] = hexDigits[Int(byte >> 4)]
                out[index + 1] = hexDigits[Int(byte & 0x0f)]
                index += 2
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

    private static let hexDigits: [UInt8] = Array("0123456789abcdef".utf8)
}
