import TandemJournal

/// An error of the runs module: why a run was not admitted, or cannot be followed.
///
/// A struct around a private code so new cases never break callers (the `ServiceGroupError`
/// pattern); compare with the static members, e.g. `error.code == .shuttingDown`. The server maps
/// each code to one refusal, switching over ``Code/kind`` (a new code does not compile there
/// until it has one).
public struct RunError: Error, Sendable, Equatable, CustomStringConvertible {
    /// The kind of failure, stable across releases.
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        /// The codes, for an exhaustive switch inside the package.
        package enum Kind: String, Sendable {
            case conflict
            case overloaded
            case shuttingDown
            case journalUnavailable
            case secretUnusable
        }

        package let kind: Kind

        /// The run id exists with a different request: use a new run id.
        public static let conflict = Code(kind: .conflict)
        /// Too many runs or followers at once: retry shortly.
        public static let overloaded = Code(kind: .overloaded)
        /// The server is shutting down and takes no new runs: retry elsewhere or after the restart.
        public static let shuttingDown = Code(kind: .shuttingDown)
        /// The journal cannot record or read the run: no run was started.
        public static let journalUnavailable = Code(kind: .journalUnavailable)
        /// A secret file of the data dir (the request-digest key, the key-id secret) cannot be
        /// read, written or used: `serve` does not start. Never the answer to a request.
        public static let secretUnusable = Code(kind: .secretUnusable)

        public var description: String { kind.rawValue }
    }

    /// The kind of failure.
    public let code: Code
    /// A human sentence: what happened (for ``Code/journalUnavailable``, the cause's description).
    public let message: String
    private init(_ code: Code, _ message: String) {
        self.code = code
        self.message = message
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
        RunError(.journalUnavailable, "\(cause)")
    }

    /// A run's `run_started` could not be journaled because of `cause`. A closed journal means the
    /// server is stopping (only a shutdown closes it): that is ``shuttingDown``.
    public static func notStarted(_ cause: any Error) -> RunError {
        guard let journalError = cause as? JournalError, journalError.code == .closed else { return .journal(cause) }
        return RunError(.shuttingDown, journalError.message)
    }

    /// A secret file cannot be read, written or used; `message` names the file and what to do.
    package static func secretUnusable(_ message: String) -> RunError {
        RunError(.secretUnusable, message)
    }
}
