import Synchronization
import TandemJournal

/// The run chain checks in progress (`GET /api/runs/{run_id}/verify`), single-flight per run:
/// requests for a run whose check is running wait for that check's result instead of starting
/// another, so N concurrent requests for one long run cost one read of it.
final class RunVerifications: Sendable {
    private struct State {
        var running: [RunID: Task<RunChainReport, any Error>] = [:]
        var requests = 0
        var checks = 0
    }

    private let state = Mutex(State())
    private let pool: BlockingPool

    init(pool: BlockingPool) {
        self.pool = pool
    }

    /// Requests made so far, and the checks they started (each one read of its run on the pool);
    /// the other requests joined a check already running.
    var counts: (requests: Int, checks: Int) {
        state.withLock { ($0.requests, $0.checks) }
    }

    /// The chain report of `run`, from the check in progress or from a new one on the pool.
    /// - Throws: the journal's error when the run cannot be read.
    func report(of run: RunID, in journal: Journal) async throws -> RunChainReport {
        let pool = pool
        let task = state.withLock { state in
            state.requests += 1
            if let task = state.running[run] { return task }
            let task = Task { try await pool.run { try journal.verifyLinks(of: journal.entries(of: run)) } }
            state.running[run] = task
            state.checks += 1
            return task
        }
        defer { state.withLock { if $0.running[run] == task { $0.running[run] = nil } } }
        return try await task.value
    }
}
