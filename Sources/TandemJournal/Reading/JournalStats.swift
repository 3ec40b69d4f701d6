import Foundation

/// Size and extent of a journal, for `tandem journal stats` and `/health`.
public struct JournalStats: Sendable, Equatable {
    /// Number of entries.
    public var entries: UInt64
    /// Sum of the line lengths in bytes.
    public var lineBytes: UInt64
    /// The head seq and hash.
    public var head: JournalHead
    /// `ts` of the first and of the last entry.
    public var firstTimestamp: String?
    public var lastTimestamp: String?
    /// Size of `data.mdb` on disk, and of the memory map.
    public var fileBytes: UInt64
    public var mapBytes: UInt64
    /// Runs opened and not yet closed.
    public var openRuns: Int
}

extension Journal {
    /// Counts entries and bytes with one pass over the journal.
    public func stats() throws -> JournalStats {
        let head = try head()
        var count: UInt64 = 0
        var bytes: UInt64 = 0
        try scan(from: 1) { _, line in
            count += 1
            bytes += UInt64(line.count)
            return true
        }
        let attributes = try? FileManager.default.attributesOfItem(atPath: configuration.journalDirectory + "/data.mdb")
        let fileBytes = (attributes?[.size] as? NSNumber)?.uint64Value ?? 0
        return JournalStats(
            entries: count,
            lineBytes: bytes,
            head: head,
            firstTimestamp: try entry(1)?.timestamp,
            lastTimestamp: head.seq > 0 ? try entry(head.seq)?.timestamp : nil,
            fileBytes: fileBytes,
            mapBytes: UInt64(storage.mapSize),
            openRuns: try openRuns().count
        )
    }
}
