import TandemDomain
public import TandemProviders

/// What a Flash failure does to Pro.
public enum FlashFailurePolicy: String, Sendable, CaseIterable {
    /// Pro keeps running and still delivers the verified answer (default).
    case `continue`
    /// The old service's behaviour: cancel Pro and end the run with Flash's failure.
    case cancelPro = "cancel_pro"
}

/// The deadlines of one model call. `total` always applies; the others only when set.
public struct ModelDeadlines: Sendable, Equatable {
    /// The whole call, from its start.
    public var total: Duration
    /// From the start of the call to the first streamed text.
    public var firstToken: Duration?
    /// The longest gap between two pieces of streamed text.
    public var idle: Duration?

    public init(total: Duration, firstToken: Duration? = nil, idle: Duration? = nil) {
        self.total = total
        self.firstToken = firstToken
        self.idle = idle
    }
}

/// How runs are carried out: models, deadlines, policies and limits.
public struct RunSettings: Sendable {
    public var flashModel: String
    public var proModel: String
    public var flashDeadlines: ModelDeadlines
    public var proDeadlines: ModelDeadlines
    public var flashGeneration: GenerationSettings
    public var proGeneration: GenerationSettings
    public var onFlashFailure: FlashFailurePolicy
    /// Redact secrets and personal data before journaling (`TANDEM_REDACT`).
    public var redact: Bool
    /// Runs allowed at once; more get 503 `overloaded`.
    public var maxConcurrentRuns: Int
    /// How long running runs may finish after a shutdown starts before they are cancelled.
    public var shutdownGrace: Duration
    /// Streams read back from the journal (replays, resumes, follows) allowed at once; more get
    /// 503 `overloaded` (`TANDEM_MAX_FOLLOWERS`).
    public var maxFollowers: Int
    /// How a deltas run coalesces streamed text (`TANDEM_DELTA_WINDOW_MS`, `TANDEM_DELTA_MAX_BYTES`).
    public var deltaLimits: DeltaLimits
    /// How long a run may hold back progress that sends no frame (a model call's first attempt
    /// started, its first token), so that it shares a commit instead of costing one each
    /// (`TANDEM_PROGRESS_HOLD_MS`; zero journals it at once). It is journaled with the run's next
    /// other input (an answer, a failure, a retry, a stop), or once this has passed since the
    /// first of it arrived, whichever comes first.
    public var progressHold: Duration
    /// Awaited with the last seq of each commit of a run before that commit's frames go out, by
    /// the run and by every reader of its frames (followers, replays, resumes);
    /// `TANDEM_FLEET_DURABILITY=sync` waits there until the entries are in the fleet store.
    /// Returns whether they are; `false` (the waiting task was cancelled) keeps the frames back.
    public var beforeFrames: (@Sendable (UInt64) async -> Bool)?

    public init(
        flashModel: String = "gemini-2.5-flash",
        proModel: String = "gemini-2.5-pro",
        flashDeadlines: ModelDeadlines = ModelDeadlines(total: .seconds(5)),
        proDeadlines: ModelDeadlines = ModelDeadlines(total: .seconds(45)),
        flashGeneration: GenerationSettings = .flash,
        proGeneration: GenerationSettings = .pro,
        onFlashFailure: FlashFailurePolicy = .continue,
        redact: Bool = true,
        maxConcurrentRuns: Int = 10_000,
        shutdownGrace: Duration = .seconds(30),
        maxFollowers: Int = 10_000,
        deltaLimits: DeltaLimits = DeltaLimits(),
        progressHold: Duration = RunSettings.defaultProgressHold
    ) {
        self.flashModel = flashModel
        self.proModel = proModel
        self.flashDeadlines = flashDeadlines
        self.proDeadlines = proDeadlines
        self.flashGeneration = flashGeneration
        self.proGeneration = proGeneration
        self.onFlashFailure = onFlashFailure
        self.redact = redact
        self.maxConcurrentRuns = maxConcurrentRuns
        self.shutdownGrace = shutdownGrace
        self.maxFollowers = maxFollowers
        self.deltaLimits = deltaLimits
        self.progressHold = progressHold
    }

    /// ``progressHold`` unless configured: longer than a fast model takes to its first answer, so
    /// its progress rides along with it, and short enough that a slow call's start is in the
    /// journal at once to a person watching.
    public static let defaultProgressHold: Duration = .milliseconds(100)

    func model(_ role: ModelRole) -> String { role == .flash ? flashModel : proModel }
    func deadlines(_ role: ModelRole) -> ModelDeadlines { role == .flash ? flashDeadlines : proDeadlines }
    func generation(_ role: ModelRole) -> GenerationSettings { role == .flash ? flashGeneration : proGeneration }
}
