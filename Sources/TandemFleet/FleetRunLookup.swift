import Synchronization
public import TandemDomain
public import TandemJournal

/// Reads of other nodes' runs for HTTP requests (`GET /api/runs/{id}` and friends), bounded so
/// that no request can start unbounded work against the fleet store: at most ``maxConcurrent``
/// reads at once (more are refused at once), and for a short time after the store failed to
/// answer, or said a run is unknown, the same answer again without asking it.
public final class FleetRunLookup: Sendable {
    private struct State {
        var inFlight = 0
        var started = 0
        /// Run ids the store did not have, until when (on the clock) that answer is reused.
        var unknown: [String: Duration] = [:]
        /// The last failure to reach the store, and until when it is the answer.
        var failure: (error: FleetError, until: Duration)?
    }

    private let store: FleetStore
    private let clock: any MonotonicClock
    private let state = Mutex(State())
    /// Reads allowed at once.
    public let maxConcurrent: Int
    /// How long "unknown" and "unreachable" answers are reused.
    public let negativeLifetime: Duration
    /// How long one read may take.
    public let readLimit: Duration
    /// Reads running now.
    var readsInFlight: Int { state.withLock { $0.inFlight } }
    /// Reads started since this lookup was made.
    var readsStarted: Int { state.withLock { $0.started } }
    /// Unknown run ids remembered at most (beyond, the expired ones go, then all).
    static let maxRemembered = 10_000

    public init(
        store: FleetStore, clock: any MonotonicClock, maxConcurrent: Int = 4, negativeLifetime: Duration = .seconds(2),
        readLimit: Duration = .seconds(2)
    ) {
        self.store = store
        self.clock = clock
        self.maxConcurrent = maxConcurrent
        self.negativeLifetime = negativeLifetime
        self.readLimit = readLimit
    }

    /// The node that ran `runID` and its entries; `nil` when the store does not have it.
    /// - Throws: ``FleetError``: the store's failure (or the last one, reused), or
    ///   ``FleetError/busy(_:)`` when ``maxConcurrent`` reads are running.
    public func run(_ runID: String) async throws(FleetError) -> (nodeID: String, entries: [JournalEntry])? {
        enum Admission {
            case unknown
            case failed(FleetError)
            case busy
            case read
        }
        let now = clock.elapsed
        let admission = state.withLock { state -> Admission in
            if let failure = state.failure, failure.until > now { return .failed(failure.error) }
            if let until = state.unknown[runID], until > now { return .unknown }
            guard state.inFlight < maxConcurrent else { return .busy }
            state.inFlight += 1
            state.started &+= 1
            return .read
        }
        switch admission {
        case .unknown: return nil
        case .failed(let error): throw error
        case .busy: throw .busy(maxConcurrent)
        case .read: break
        }
        defer { state.withLock { $0.inFlight -= 1 } }
        do {
            let found = try await store.run(runID, limit: readLimit)
            let until = clock.elapsed + negativeLifetime
            state.withLock { state in
                state.failure = nil
                if found == nil { remember(runID, until: until, in: &state) }
            }
            return found
        } catch {
            if error.code == .unavailable || error.code == .authenticationFailed {
                let until = clock.elapsed + negativeLifetime
                state.withLock { $0.failure = (error, until) }
            }
            throw error
        }
    }

    private func remember(_ runID: String, until: Duration, in state: inout State) {
        if state.unknown.count >= Self.maxRemembered {
            let now = clock.elapsed
            state.unknown = state.unknown.filter { $0.value > now }
            if state.unknown.count >= Self.maxRemembered { state.unknown.removeAll() }
        }
        state.unknown[runID] = until
    }
}
