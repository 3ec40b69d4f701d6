public import TandemJournal

/// A journal entry decoded into its domain event.
public struct DomainEntry: Sendable, Equatable {
    /// The stored entry.
    public let entry: JournalEntry
    /// Its event.
    public let event: DomainEvent

    /// Decodes `entry`.
    /// - Throws: ``DomainEventError`` when the event cannot be decoded.
    public init(_ entry: JournalEntry) throws {
        self.entry = entry
        self.event = try DomainEvent(entry)
    }

    public var seq: UInt64 { entry.seq }
    public var runID: RunID { entry.runID }
}

extension Journal {
    /// Appends `events` of `run` contiguously and returns them decoded, once committed.
    public func append(_ events: [DomainEvent], for run: RunID) async throws -> [DomainEntry] {
        let pending = try events.map { try $0.pendingEntry(for: run) }
        let committed = try await append(pending)
        return zip(committed, events).map { DomainEntry(committed: $0, event: $1) }
    }
}

extension DomainEntry {
    init(committed entry: JournalEntry, event: DomainEvent) {
        self.entry = entry
        self.event = event
    }
}
