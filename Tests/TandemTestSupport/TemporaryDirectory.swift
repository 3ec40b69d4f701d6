import Foundation

/// A fresh directory under the system temp folder, removed when the test is done with it.
public final class TemporaryDirectory: Sendable {
    /// The directory's path.
    public let path: String

    /// Creates a new, empty directory whose name starts with `prefix`.
    /// - Parameter base: the folder to create it in (the system temp folder by default).
    public init(prefix: String = "tandem-test", in base: String? = nil) throws {
        path = (base ?? FileManager.default.temporaryDirectory.path) + "/\(prefix)-\(UUID().uuidString.prefix(8))"
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    }

    deinit {
        try? FileManager.default.removeItem(atPath: path)
    }
}
