import Foundation
package import Logging
package import TandemJournal

/// Folds the journal from seq 1 into a fresh projection store.
package enum ProjectionRebuild {
    /// What a rebuild did.
    package struct Outcome: Sendable {
        package var store: ProjectionStore
        package var events: UInt64
        package var seconds: Double
    }

    /// Rebuilds into a new store named `name` in `location`, through `through` (default: the head
    /// at the start). Does not publish it.
    /// - Parameter progress: called every 65,536 entries with (applied, target).
    package static func rebuild(
        journal: Journal, location: ProjectionLocation, name: String, through: UInt64? = nil,
        progress: (UInt64, UInt64) -> Void = { _, _ in }
    ) throws -> Outcome {
        let target = try through ?? journal.head().seq
        // A store being rebuilt is invisible until published, so its commits need no fsync: one
        // sync at the end, before it can be published, makes it durable.
        let store = try ProjectionStore(directory: location.path(of: name), name: name, readOnly: false, syncCommits: false)
        var folder = try ProjectionFolder(store: store)
        let started = ContinuousClock.now
        var count: UInt64 = 0
        var pending: [JournalEntry] = []
        func drain() throws {
            for entry in pending { try folder.apply(entry, store: store) }
            pending.removeAll(keepingCapacity: true)
        }
        try journal.scan(from: 1, through: target) { _, line in
            pending.append(try JournalEntry(line: Array(line)))
            count += 1
            if pending.count == 4_096 { try drain() }
            if count & 0xFFFF == 0 {
                try drain()
                progress(count, target)
            }
            if count % 262_144 == 0 { try folder.flush(to: store) }
            return true
        }
        try drain()
        try folder.flush(to: store)
        try store.environment.sync()
        progress(count, target)
        return Outcome(store: store, events: count, seconds: started.duration(to: .now).seconds)
    }
}
