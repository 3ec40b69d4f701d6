#if canImport(Glibc)
import Glibc
#endif
import Crypto
import Foundation
import TandemJournal

/// The secret that keys `run_started.request_digest`: HMAC-SHA-256 with it, so that the digest of
/// a request is not a function of its (unredacted) text alone — an SSN has 10^9 values, and an
/// unkeyed hash of a context holding one gives it away to anyone who can read the journal.
///
/// One per data dir, in `<data-dir>/request-digest.key` (64 hex digits, mode 0600), created at the
/// first start and never journaled; it lives beside the journal directory, not in it, so a copy
/// of the journal (`mdb_copy`) does not carry it. Equal requests get equal digests as long as the
/// key stays (idempotent retries keep working across restarts); see RUNBOOK for rotation.
public struct RequestDigestKey: Sendable {
    /// The key file's name inside the data dir.
    public static let fileName = "request-digest.key"

    /// The 32 secret bytes (kept as bytes: `SymmetricKey` is not `Sendable` on every platform).
    private let bytes: [UInt8]

    private init(_ bytes: [UInt8]) {
        self.bytes = bytes
    }

    /// Reads the data dir's key, creating it (once, atomically, mode 0600) when there is none.
    /// - Throws: ``RunError`` `.secretUnusable` when the file cannot be read or written, or is damaged.
    public static func loadOrCreate(inDataDirectory directory: String) throws -> RequestDigestKey {
        let path = directory + "/" + fileName
        if let key = try read(path) { return key }
        try PrivateFiles.createDirectory(directory)
        var generator = SystemRandomNumberGenerator()
        let bytes = (0..<32).map { _ in UInt8.random(in: .min ... .max, using: &generator) }
        // Written whole to a private temporary file, then linked into place: a process starting
        // at the same time either sees no key or a whole one, and the second link loses (EEXIST)
        // and reads the winner's.
        let temporary = path + ".tmp-\(getpid())-\(UInt32.random(in: .min ... .max, using: &generator))"
        let descriptor = open(temporary, O_WRONLY | O_CREAT | O_EXCL, 0o600)
        guard descriptor >= 0 else { throw failure("cannot create", temporary) }
        defer { unlink(temporary) }
        let text = Array((hex(bytes) + "\n").utf8)
        let written = text.withUnsafeBytes { write(descriptor, $0.baseAddress, $0.count) }
        let synced = fsync(descriptor) == 0
        close(descriptor)
        guard written == text.count, synced else { throw failure("cannot write", temporary) }
        if link(temporary, path) != 0, errno != EEXIST { throw failure("cannot create", path) }
        guard let key = try read(path) else { throw failure("cannot read", path) }
        return key
    }

    /// The key in `path`, or `nil` when there is no such file.
    private static func read(_ path: String) throws -> RequestDigestKey? {
        guard access(path, F_OK) == 0 else { return nil }
        guard let data = FileManager.default.contents(atPath: path) else { throw failure("cannot read", path) }
        let text = String(decoding: data, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
        guard let bytes = bytes(fromHex: text), bytes.count == 32 else {
            throw RunError.secretUnusable(
                "\(path) is not a request-digest key (64 hex digits): restore it from where you keep it, or delete it to start a new key (idempotent retries of earlier runs then get 409; see RUNBOOK)"
            )
        }
        return RequestDigestKey(bytes)
    }

    /// HMAC-SHA-256 of `bytes` with the key, as 64 lowercase hex digits.
    func authenticate(_ bytes: [UInt8]) -> String {
        hex(Array(HMAC<SHA256>.authenticationCode(for: bytes, using: SymmetricKey(data: self.bytes))))
    }

    private static func failure(_ what: String, _ path: String) -> RunError {
        RunError.secretUnusable("\(what) the request-digest key \(path): \(String(cString: strerror(errno)))")
    }

    private static func bytes(fromHex text: String) -> [UInt8]? {
        let digits = Array(text.utf8)
        guard digits.count % 2 == 0 else { return nil }
        var bytes: [UInt8] = []
        bytes.reserveCapacity(digits.count / 2)
        var index = 0
        while index < digits.count {
            guard let high = nibble(digits[index]), let low = nibble(digits[index + 1]) else { return nil }
            bytes.append(high << 4 | low)
            index += 2
        }
        return bytes
    }

    private static func nibble(_ digit: UInt8) -> UInt8? {
        switch digit {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): digit - UInt8(ascii: "0")
        case UInt8(ascii: "a")...UInt8(ascii: "f"): digit - UInt8(ascii: "a") + 10
        case UInt8(ascii: "A")...UInt8(ascii: "F"): digit - UInt8(ascii: "A") + 10
        default: nil
        }
    }
}

private func hex(_ bytes: [UInt8]) -> String {
    let digits = Array("0123456789abcdef".utf8)
    var out: [UInt8] = []
    out.reserveCapacity(bytes.count * 2)
    for byte in bytes {
        out.append(digits[Int(byte >> 4)])
        out.append(digits[Int(byte & 0x0F)])
    }
    return String(decoding: out, as: UTF8.self)
}
