/// An event waiting to be appended: everything of a journal line except what the journal assigns
/// (`seq`, `ts`, `prev`).
public struct PendingEntry: Sendable, Equatable {
    /// How an entry changes the set of runs the journal considers open (see ``Journal/openRuns()``).
    public enum Lifecycle: Sendable, Equatable {
        /// The entry neither opens nor closes its run.
        case none
        /// The entry is the first of its run.
        case opensRun
        /// The entry is the last of its run.
        case closesRun
    }

    /// The run the entry belongs to.
    public let runID: RunID
    /// The event type, `[a-z_]{1,64}`.
    public let type: String
    /// The event payload: one canonical JSON object, no line breaks.
    public let data: [UInt8]
    /// Whether the entry opens or closes its run.
    public let lifecycle: Lifecycle

    /// Checks that `type` and `data` can stand in a canonical journal line.
    /// - Throws: ``JournalError`` `.invalidEntry` when they cannot.
    public init(runID: RunID, type: String, data: [UInt8], lifecycle: Lifecycle = .none) throws {
        guard (1...64).contains(type.utf8.count),
            type.utf8.allSatisfy({ ($0 >= UInt8(ascii: "a") && $0 <= UInt8(ascii: "z")) || $0 == UInt8(ascii: "_") })
        else {
            throw JournalError(.invalidEntry, "event type '\(type)' must be 1-64 characters of [a-z_]")
        }
        guard data.first == UInt8(ascii: "{"), data.last == UInt8(ascii: "}"), !Self.hasLineBreak(data) else {
            throw JournalError(.invalidEntry, "event data of '\(type)' must be one JSON object on one line")
        }
        self.runID = runID
        self.type = type
        self.data = data
        self.lifecycle = lifecycle
    }

    /// Whether `bytes` hold a CR or LF, in one pass over them.
    private static func hasLineBreak(_ bytes: [UInt8]) -> Bool {
        bytes.withUnsafeBufferPointer { buffer in
            var found = false
            for byte in buffer { found = found || byte == UInt8(ascii: "\n") || byte == UInt8(ascii: "\r") }
            return found
        }
    }
}
