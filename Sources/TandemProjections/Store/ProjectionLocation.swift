import Foundation
import Logging
package import TandemJournal

/// Where the projections live: `<data>/projections/<store>/`, with `CURRENT` naming the store in
/// use. A rebuild writes a new store beside it and swaps `CURRENT` with an atomic rename; the
/// server notices and moves to the new store.
package struct ProjectionLocation: Sendable {
    package let directory: String

    package init(dataDirectory: String) {
        directory = dataDirectory + "/projections"
    }

    private var pointer: String { directory + "/CURRENT" }

    /// The name of the store in use, if any.
    package func currentName() -> String? {
        guard let data = FileManager.default.contents(atPath: pointer) else { return nil }
        let name = String(decoding: data, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
        return name.isEmpty ? nil : name
    }

    package func path(of name: String) -> String { directory + "/" + name }

    /// Claims the right to build and publish a store: one rebuild at a time per data directory
    /// (two at once would each delete the other's store when publishing). Held until released.
    /// - Throws: ``ProjectionError`` `.rebuildInProgress` naming the holder, or the journal's
    ///   error when the lock file cannot be used.
    package func claimRebuild() throws -> DataDirectoryLock {
        do {
            return try DataDirectoryLock(directory: directory, for: .projectionsRebuild)
        } catch let error as JournalError where error.code == .locked {
            throw ProjectionError(.rebuildInProgress, error.message)
        }
    }

    /// A fresh, unused store name.
    package func newName() -> String {
        "store-\(Int64(Date().timeIntervalSince1970 * 1_000_000))-\(UUID().uuidString.prefix(4).lowercased())"
    }

    /// Makes `name` the store in use (atomic: readers see the old or the new name, never a mix),
    /// then removes every other store but `keep`.
    package func publish(_ name: String, keeping keep: String? = nil) throws {
        do {
            try PrivateFiles.createDirectory(directory)
            try PrivateFiles.writeFile(Array((name + "\n").utf8), to: pointer)
        } catch {
            throw ProjectionError(.storage, "cannot publish projection store \(name): \(error)")
        }
        for entry in (try? FileManager.default.contentsOfDirectory(atPath: directory)) ?? []
        where entry.hasPrefix("store-") && entry != name && entry != keep {
            try? FileManager.default.removeItem(atPath: path(of: entry))
        }
    }
}
