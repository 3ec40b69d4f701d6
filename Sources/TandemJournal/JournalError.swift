package import TandemStorage

/// An error the journal reports: what happened, and what an operator can do about it.
///
/// Built as a struct around a private code so that new cases never break callers
/// (the `ServiceGroupError` pattern). Compare with the static members, e.g.
/// `error.code == .mapFull`. A failure of the journal's storage keeps the ``StorageError`` as its
/// ``cause`` and its message as the one a user sees.
public struct JournalError: Error, Sendable, Equatable, CustomStringConvertible {
    /// The kind of failure, stable across releases.
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        fileprivate enum Base: String, Sendable {
            case environment
            case formatMismatch
            case mapFull
            case diskFull
            case invalidEntry
            case invalidRunID
            case closed
            case corrupted
            case io
            case locked
        }

        fileprivate let base: Base

        /// LMDB could not open or operate on the environment.
        public static let environment = Code(base: .environment)
        /// The data directory holds a journal of another format version.
        public static let formatMismatch = Code(base: .formatMismatch)
        /// The memory map is full and may not grow further.
        public static let mapFull = Code(base: .mapFull)
        /// The file system has no space left for the journal.
        public static let diskFull = Code(base: .diskFull)
        /// An entry handed to or read from the journal is not well-formed.
        public static let invalidEntry = Code(base: .invalidEntry)
        /// A run identifier does not match `[A-Za-z0-9_-]{1,64}`.
        public static let invalidRunID = Code(base: .invalidRunID)
        /// The journal was closed; nothing more can be appended.
        public static let closed = Code(base: .closed)
        /// Stored entries break the sequence or the hash chain.
        public static let corrupted = Code(base: .corrupted)
        /// A file-system operation failed.
        public static let io = Code(base: .io)
        /// Another process owns the data directory (a running `tandem serve`).
        public static let locked = Code(base: .locked)

        public var description: String { base.rawValue }
    }

    /// The kind of failure.
    public let code: Code
    /// A human sentence: what happened and what to do.
    public let message: String
    /// The journal sequence number concerned, when there is one.
    public let seq: UInt64?
    /// The storage failure behind this error, when storage is the cause.
    package let cause: StorageError?

    /// An error of kind `code` saying `message`.
    public init(_ code: Code, _ message: String, seq: UInt64? = nil) {
        self.code = code
        self.message = message
        self.seq = seq
        self.cause = nil
    }

    /// The journal's error for a failure of its storage, of the matching kind, saying what it says.
    package init(_ cause: StorageError) {
        code = switch cause.code {
        case .mapFull: .mapFull
        case .diskFull: .diskFull
        case .formatMismatch: .formatMismatch
        case .io: .io
        default: .environment
        }
        message = cause.message
        seq = nil
        self.cause = cause
    }

    public var description: String {
        if let seq { return "\(message) (seq \(seq))" }
        return message
    }
}
