/// An error of the projections: what happened, and what a caller or operator can do.
///
/// A struct around a private code so new cases never break callers; the journal's own failures
/// reach callers as ``TandemJournal/JournalError``.
public struct ProjectionError: Error, Sendable, Equatable, CustomStringConvertible {
    /// The kind of failure, stable across releases.
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        fileprivate enum Base: String, Sendable {
            case lagging
            case rebuildInProgress
        }

        fileprivate let base: Base

        /// The projections could not be brought up to the journal's head in time.
        public static let lagging = Code(base: .lagging)
        /// Another rebuild of the same data directory's projections is running.
        public static let rebuildInProgress = Code(base: .rebuildInProgress)

        public var description: String { base.rawValue }
    }

    /// The kind of failure.
    public let code: Code
    /// A human sentence: what happened and what to do.
    public let message: String

    /// An error of kind `code` saying `message`.
    public init(_ code: Code, _ message: String) {
        self.code = code
        self.message = message
    }

    public var description: String { message }
}
