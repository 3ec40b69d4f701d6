import NIOPosix

/// Where blocking journal work runs (a whole-journal verify, a run's chain check): a bounded
/// `NIOThreadPool` — never an event loop, never Swift's cooperative pool, never the global
/// Dispatch queue (which grows a thread per blocked item) — so no number of requests can occupy
/// more threads than the pool has.
struct BlockingPool: Sendable {
    private let pool: NIOThreadPool

    /// NIO's shared pool (one thread per core, started on first use, never shut down).
    init(pool: NIOThreadPool = .singleton) {
        self.pool = pool
    }

    /// The result of `work`, computed on a pool thread. Not cancellable: `work` runs to its end
    /// even if the caller is cancelled.
    /// - Throws: what `work` throws, or NIO's error when the pool is shut down.
    func run<T: Sendable>(_ work: @escaping @Sendable () throws -> T) async throws -> T {
        try await pool.runIfActive(work)
    }
}
