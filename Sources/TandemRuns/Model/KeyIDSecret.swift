import Crypto
import Foundation
import TandemJournal

/// The secret under which `client.key_id` is computed (SPEC §11 "Keys"): the id of an API key is
/// HMAC-SHA-256(secret, key), cut to 16 hex digits — never an unkeyed hash, which anyone holding
/// the journal could test a dictionary of likely keys against offline.
///
/// From `TANDEM_KEY_ID_SECRET_FILE` when set (a fleet shares one file, so one key has one id on
/// every node); else derived from the data dir's own request-digest key, so a data dir needs no
/// second secret file and the two secrets are never equal (the derivation is one-way).
public struct KeyIDSecret: Sendable {
    /// The fewest bytes a secret file must hold.
    public static let minimumFileBytes = 16

    private let bytes: [UInt8]

    private init(bytes: [UInt8]) {
        self.bytes = bytes
    }

    /// A secret no one else holds (ids are stable only for this value's life): for tests, and for
    /// a server built without a data dir's secret.
    public static func random() -> KeyIDSecret {
        var generator = SystemRandomNumberGenerator()
        return KeyIDSecret(bytes: (0..<32).map { _ in UInt8.random(in: .min ... .max, using: &generator) })
    }

    /// The secret derived from a data dir's request-digest key (HMAC of a fixed label under it).
    public static func derived(from key: RequestDigestKey) -> KeyIDSecret {
        KeyIDSecret(bytes: Array(key.authenticate(Array("tandem key-id secret v1".utf8)).utf8))
    }

    /// The secret held in `path` (its bytes, surrounding whitespace removed).
    /// - Throws: ``RunError`` `.secretUnusable` when the file cannot be read or holds fewer than
    ///   ``minimumFileBytes`` bytes.
    public static func contents(ofFile path: String) throws -> KeyIDSecret {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw RunError.secretUnusable("TANDEM_KEY_ID_SECRET_FILE names \(path), which cannot be read")
        }
        let text = String(decoding: data, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
        guard text.utf8.count >= minimumFileBytes else {
            throw RunError.secretUnusable(
                "TANDEM_KEY_ID_SECRET_FILE (\(path)) holds fewer than \(minimumFileBytes) bytes; put a long random secret in it (e.g. openssl rand -hex 32)"
            )
        }
        return KeyIDSecret(bytes: Array(text.utf8))
    }

    /// The secret `serve` uses: the file's when `file` is set, else the one derived from the data
    /// dir's request-digest key (created if missing).
    /// - Throws: ``RunError`` `.secretUnusable` when the file or the data dir's key cannot be read.
    public static func resolve(file: String?, dataDirectory: String) throws -> KeyIDSecret {
        if let file { return try contents(ofFile: file) }
        return derived(from: try RequestDigestKey.loadOrCreate(inDataDirectory: dataDirectory))
    }

    /// The id of `key`: 16 hex digits of HMAC-SHA-256 under this secret, safe to log and journal.
    /// Computed once per configured key at start-up, not per request.
    public func id(of key: String) -> String {
        let code = HMAC<SHA256>.authenticationCode(for: Array(key.utf8), using: SymmetricKey(data: bytes))
        return code.prefix(8).map { String(format: "%02x", $0) }.joined()
    }
}
