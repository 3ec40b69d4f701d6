public import TandemJournal

/// An error of the runs module: why a run was not admitted, or cannot be followed.
///
/// A struct around a private code so new cases never break callers (the `ServiceGroupError`
/// pattern); compare with the static members, e.g. `error.code == .shuttingDown`. When the journal
/// is the cause, ``journalError`` holds its error. The server maps each code to one refusal.
public struct RunError: Error, Sendable, Equatable, CustomStringConvertible {
    /// The kind of failure, stable across releases.
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        fileprivate enum Base: String, Sendable {
            case conflict
            case overloaded
            case shuttingDown
            case journalUnavailable
        }

        fileprivate let base: Base

        /// The run id exists with a different request: use a new run id.
        public static let conflict = Code(base: .conflict)
        /// Too many runs or followers at once: retry shortly.
        public static let overloaded = Code(base: .overloaded)
        /// The server is shutting down and takes no new runs: retry elsewhere or after the restart.
        public static let shuttingDown = Code(base: .shuttingDown)
        /// The journal cannot record or read the run: no run was started.
        public static let journalUnavailable = Code(base: .journalUnavailable)

        public var description: String { base.rawValue }
    }

    /// The kind of failure.
    public let code: Code
    /// A human sentence: what happened (for ``Code/journalUnavailable``, the cause's description).
    public let message: String
    /// The journal's error, when the journal is the cause.
    public let journalError: JournalError?

    private init(_ code: Code, _ message: String, journalError: JournalError? = nil) {
        self.code = code
        self.message = message
        self.journalError = journalError
    }

    public var description: String { message }

    /// The run id exists with a different request.
    public static let conflict = RunError(.conflict, "a run with this run_id exists for a different request")
    /// Too many runs (or followers) at once.
    public static let overloaded = RunError(.overloaded, "too many runs in progress")
    /// The server is shutting down: no new run is taken.
    public static let shuttingDown = RunError(.shuttingDown, "the server is shutting down")

    /// The journal could not record or read the run because of `cause`.
    public static func journal(_ cause: any Error) -> RunError {
        guard let journalError = cause as? JournalError else { return RunError(.journalUnavailable, "\(cause)") }
        return RunError(.journalUnavailable, journalError.description, journalError: journalError)
    }

    /// A run's `run_started` could not be journaled because of `cause`. A closed journal means the
    /// server is stopping (only a shutdown closes it): that is ``shuttingDown``.
    public static func notStarted(_ cause: any Error) -> RunError {
        guard let journalError = cause as? JournalError, journalError.code == .closed else { return .journal(cause) }
        return RunError(.shuttingDown, journalError.message, journalError: journalError)
    }
}
