import Crypto
import Foundation

/// A node's identity in the fleet store: `TANDEM_NODE_ID`, or the id generated at first start and
/// kept in the data dir (`<data dir>/node_id`), so a restarted node ships under the same name;
/// and the secret that proves it (`<data dir>/node_secret`, whose SHA-256 the store keeps), so
/// that another process with the same id cannot ship as this node (SPEC §11).
public enum NodeIdentity {
    /// The file inside the data dir that holds the node id.
    public static let fileName = "node_id"
    /// The file inside the data dir that holds the node secret (0600).
    public static let secretFileName = "node_secret"

    /// The SHA-256 (hex) of `dataDirectory`'s node secret: 32 random bytes (hex) made and stored
    /// on first use. A data dir that is lost takes its secret with it: a node that comes back
    /// with a new data dir gets a new id (unless `TANDEM_NODE_ID` names the old one, which the
    /// store then refuses as `node_id_in_use`).
    /// - Throws: ``FleetError/nodeIdentityFile(_:)`` when the file cannot be read, written or holds no secret.
    public static func secretHash(in dataDirectory: String) throws(FleetError) -> String {
        let path = dataDirectory + "/" + secretFileName
        let secret: String
        if FileManager.default.fileExists(atPath: path) {
            guard let data = FileManager.default.contents(atPath: path) else { throw .nodeIdentityFile("\(path) cannot be read") }
            secret = String(decoding: data, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
            guard secret.utf8.count == 64, secret.utf8.allSatisfy({ isHexDigit($0) }) else {
                throw .nodeIdentityFile("\(path) does not hold a node secret (64 hex digits); restore it from a backup of the data dir")
            }
        } else {
            var generator = SystemRandomNumberGenerator()
            secret = (0..<4).map { _ in hex(generator.next()) }.joined()
            try write(secret + "\n", to: path)
        }
        return SHA256.hash(data: Array(secret.utf8)).map { hex(UInt64($0), digits: 2) }.joined()
    }

    private static func isHexDigit(_ byte: UInt8) -> Bool {
        (byte >= UInt8(ascii: "0") && byte <= UInt8(ascii: "9")) || (byte >= UInt8(ascii: "a") && byte <= UInt8(ascii: "f"))
    }

    /// `value` as lowercase hex, zero-padded to `digits`.
    private static func hex(_ value: UInt64, digits: Int = 16) -> String {
        let text = String(value, radix: 16)
        return String(repeating: "0", count: max(0, digits - text.count)) + text
    }

    /// Whether `id` is a usable node id: 1–64 of `[A-Za-z0-9_.-]`.
    public static func isValid(_ id: String) -> Bool {
        !id.isEmpty && id.utf8.count <= 64 && id.utf8.allSatisfy { byte in
            (byte >= UInt8(ascii: "a") && byte <= UInt8(ascii: "z")) || (byte >= UInt8(ascii: "A") && byte <= UInt8(ascii: "Z"))
                || (byte >= UInt8(ascii: "0") && byte <= UInt8(ascii: "9"))
                || byte == UInt8(ascii: "_") || byte == UInt8(ascii: ".") || byte == UInt8(ascii: "-")
        }
    }

    /// The id stored in `dataDirectory`, or `nil` when none is stored yet.
    /// - Throws: ``FleetError`` when the file exists but cannot be read or holds no valid id.
    public static func stored(in dataDirectory: String) throws(FleetError) -> String? {
        let path = dataDirectory + "/" + fileName
        guard FileManager.default.fileExists(atPath: path) else { return nil }
        guard let data = FileManager.default.contents(atPath: path) else {
            throw .nodeIdentityFile("\(path) cannot be read")
        }
        let id = String(decoding: data, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
        guard isValid(id) else { throw .nodeIdentityFile("\(path) does not hold a valid node id") }
        return id
    }

    /// The node id of `dataDirectory`: the stored one, else `configured`, else a generated one, which
    /// is then stored. A `configured` id that differs from the stored one is refused.
    /// - Throws: ``FleetError/nodeIdentityMismatch(configured:stored:)``, ``FleetError/invalidNodeID(_:)``
    ///   or ``FleetError/nodeIdentityFile(_:)``.
    public static func resolve(configured: String?, dataDirectory: String) throws(FleetError) -> String {
        if let configured, !isValid(configured) { throw .invalidNodeID(configured) }
        if let stored = try stored(in: dataDirectory) {
            if let configured, configured != stored {
                throw .nodeIdentityMismatch(configured: configured, stored: stored)
            }
            return stored
        }
        let id = configured ?? generate()
        try store(id, in: dataDirectory)
        return id
    }

    /// `node-` and 12 random lowercase hex digits.
    static func generate() -> String {
        var generator = SystemRandomNumberGenerator()
        return "node-" + hex(generator.next() & 0xffff_ffff_ffff, digits: 12)
    }

    private static func store(_ id: String, in dataDirectory: String) throws(FleetError) {
        try write(id + "\n", to: dataDirectory + "/" + fileName)
    }

    /// Writes `text` to `path` atomically (a 0600 temporary file renamed over the final name).
    private static func write(_ text: String, to path: String) throws(FleetError) {
        let directory = (path as NSString).deletingLastPathComponent
        let temporary = path + ".tmp"
        do {
            try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
            try? FileManager.default.removeItem(atPath: temporary)
            guard FileManager.default.createFile(atPath: temporary, contents: Data(text.utf8), attributes: [.posixPermissions: 0o600]) else {
                throw CocoaError(.fileWriteUnknown)
            }
            if FileManager.default.fileExists(atPath: path) {
                _ = try FileManager.default.replaceItemAt(URL(fileURLWithPath: path), withItemAt: URL(fileURLWithPath: temporary))
            } else {
                try FileManager.default.moveItem(atPath: temporary, toPath: path)
            }
        } catch {
            throw .nodeIdentityFile("\(path) cannot be written: \(error.localizedDescription)")
        }
    }
}
