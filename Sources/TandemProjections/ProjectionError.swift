package import TandemStorage

/// An error of the projections: what happened, and what a caller or operator can do.
///
/// A struct around a private code so new cases never break callers. A failure of the projection
/// store's storage keeps the ``StorageError`` as its ``cause`` and its message as the one a user
/// sees; the journal's own failures reach callers as ``TandemJournal/JournalError``.
public struct ProjectionError: Error, Sendable, Equatable, CustomStringConvertible {
    /// The kind of failure, stable across releases.
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        fileprivate enum Base: String, Sendable {
            case lagging
            case rebuildInProgress
            case formatMismatch
            case storage
        }

        fileprivate let base: Base

        /// The projections could not be brought up to the journal's head in time.
        public static let lagging = Code(base: .lagging)
        /// Another rebuild of the same data directory's projections is running.
        public static let rebuildInProgress = Code(base: .rebuildInProgress)
        /// The projection store has another format version (it is rebuilt from the journal).
        public static let formatMismatch = Code(base: .formatMismatch)
        /// The projection store could not be opened, read, written or published.
        public static let storage = Code(base: .storage)

        public var description: String { base.rawValue }
    }

    /// The kind of failure.
    public let code: Code
    /// A human sentence: what happened and what to do.
    public let message: String
    /// The storage failure behind this error, when storage is the cause.
    package let cause: StorageError?

    /// An error of kind `code` saying `message`.
    public init(_ code: Code, _ message: String) {
        self.code = code
        self.message = message
        self.cause = nil
    }

    /// The projections' error for a failure of the projection store's storage, saying what it says.
    package init(_ cause: StorageError) {
        code = cause.code == .formatMismatch ? .formatMismatch : .storage
        message = cause.message
        self.cause = cause
    }

    public var description: String { message }
}
