public import TandemDomain

/// The `status` of a ``DualRunRecord`` (SPEC §4), as the API, the CLI and the stores spell it
/// (raw values are the wire strings): `running` until the run closes, then its `done` event's
/// ``TandemDomain/RunStatus``, or `aborted` when it was closed by `run_aborted`.
public enum RunRecordStatus: String, Sendable, CaseIterable {
    case running
    case ok
    case partial
    case timeout
    case error
    case cancelled
    case aborted

    /// The record status of a run closed by a `done` whose `status` field is `field`: a status
    /// `done` may carry, else `error` (a `done` the journal holds still closes its run).
    public init(doneStatus field: String?) {
        self = field.flatMap(RunStatus.init(rawValue:)).map(RunRecordStatus.init) ?? .error
    }

    /// The record status of a run that closed with `done` carrying `status`.
    public init(_ status: RunStatus) {
        switch status {
        case .ok: self = .ok
        case .partial: self = .partial
        case .timeout: self = .timeout
        case .error: self = .error
        case .cancelled: self = .cancelled
        }
    }
}

/// Where one model's call of a run stands in its ``ModelTrace`` (raw values are the wire strings).
public enum ModelOutcome: String, Sendable, CaseIterable {
    /// No `*_started` yet.
    case pending
    case running
    case completed
    case timeout
    case failed
    case cancelled
}
