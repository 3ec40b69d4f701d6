import Synchronization

/// The whole-journal verifies started over HTTP: at most one at a time, and the last one's result.
///
/// Kept in memory only: a verify result is an observation of this process, not audit state (the
/// journal itself is what it checks), and `tandem journal verify` gives the same answer any time.
final class JournalVerifications: Sendable {
    /// What one verify found; encoded as the body of `POST /api/journal/verify`.
    struct Outcome: Sendable, Equatable, Encodable {
        var ok: Bool
        var entries: UInt64
        var headSeq: UInt64
        var headHash: String
        /// The first bad seq and why, when the journal did not verify.
        var brokenAt: UInt64?
        var reason: String?
        /// When it finished (journal timestamp format) and how long it took.
        var finishedAt: String
        var durationMs: Double

        enum CodingKeys: String, CodingKey {
            case ok, entries, reason
            case headSeq = "head_seq"
            case headHash = "head_hash"
            case brokenAt = "broken_at"
            case finishedAt = "finished_at"
            case durationMs = "duration_ms"
        }
    }

    private struct State {
        var running = false
        var last: Outcome?
    }

    private let state = Mutex(State())

    /// Claims the right to run a verify; `false` while another one runs.
    func begin() -> Bool {
        state.withLock { state in
            guard !state.running else { return false }
            state.running = true
            return true
        }
    }

    /// Records the outcome of the verify claimed by ``begin()`` (`nil` when it could not read the
    /// journal) and lets the next one start.
    func finish(_ outcome: Outcome?) {
        state.withLock { state in
            state.running = false
            if let outcome { state.last = outcome }
        }
    }

    /// Whether a verify is running now.
    var isRunning: Bool { state.withLock { $0.running } }

    /// The last verify's outcome, if one has finished.
    var last: Outcome? { state.withLock { $0.last } }
}
