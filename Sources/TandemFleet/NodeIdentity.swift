import Foundation

/// A node's identity in the fleet store: `TANDEM_NODE_ID`, or the id generated at first start and
/// kept in the data dir (`<data dir>/node_id`), so a restarted node ships under the same name.
public enum NodeIdentity {
    /// The file inside the data dir that holds the node id.
    public static let fileName = "node_id"

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
        let value = generator.next() & 0xffff_ffff_ffff
        let hex = String(value, radix: 16)
        return "node-" + String(repeating: "0", count: 12 - hex.count) + hex
    }

    /// Writes the id atomically (a temporary file renamed over the final name).
    private static func store(_ id: String, in dataDirectory: String) throws(FleetError) {
        do {
            try FileManager.default.createDirectory(atPath: dataDirectory, withIntermediateDirectories: true)
            try Data((id + "\n").utf8).write(to: URL(fileURLWithPath: dataDirectory + "/" + fileName), options: .atomic)
        } catch {
            throw .nodeIdentityFile("\(dataDirectory)/\(fileName) cannot be written: \(error.localizedDescription)")
        }
    }
}
