#if canImport(Glibc)
import Glibc
#endif
import Logging
import NIOPosix

/// The thread a shipper reads and prepares its batches on (LMDB reads, record folds, row text):
/// one of its own, optionally niced below the thread that starts it, so that on busy cores
/// serving (requests, the journal's commits) goes first and the shipper takes what is left,
/// while on idle cores it runs at full speed. On the cooperative pool the same work held a thread
/// that requests were waiting for.
struct ReaderThread: Sendable {
    private let pool: NIOThreadPool

    /// Runs `body` with a reader thread, `niceness` nicer than the calling thread, that lives as
    /// long as `body` runs.
    static func run<T, E: Error>(niceness: Int32, logger: Logger, _ body: (ReaderThread) async throws(E) -> T) async throws(E) -> T {
        let pool = NIOThreadPool(numberOfThreads: 1)
        pool.start()
        if niceness > 0 {
            do {
                let errorNumber = try await pool.runIfActive { lowerPriority(by: niceness) }
                if errorNumber != 0 {
                    logger.notice("the fleet shipper's reader thread keeps the default priority", metadata: ["errno": "\(errorNumber)"])
                }
            } catch {
                logger.notice("the fleet shipper's reader thread keeps the default priority", metadata: ["error": "\(error)"])
            }
        }
        let result: Result<T, E>
        do throws(E) {
            result = .success(try await body(ReaderThread(pool: pool)))
        } catch {
            result = .failure(error)
        }
        do {
            try await pool.shutdownGracefully()
        } catch {
            logger.error("the fleet shipper's reader thread did not stop", metadata: ["error": "\(error)"])
        }
        return try result.get()
    }

    /// Runs `work` on the reader thread.
    func run<T: Sendable>(_ work: @escaping @Sendable () throws(FleetError) -> T) async throws(FleetError) -> T {
        do {
            return try await pool.runIfActive { try work() }
        } catch let error as FleetError {
            throw error
        } catch {
            throw FleetError(.journal, "The shipper's reader thread stopped: \(error).", underlying: error)
        }
    }

    /// Lowers the calling thread's priority by `niceness` (on Linux the nice value is a thread's,
    /// and `who` 0 names the calling thread); returns 0, or the errno of the failure.
    private static func lowerPriority(by niceness: Int32) -> Int32 {
        #if canImport(Glibc)
        let which = __priority_which_t(PRIO_PROCESS.rawValue)
        // -1 is a valid nice value: only errno tells a failure.
        errno = 0
        let current = getpriority(which, 0)
        guard errno == 0 else { return errno }
        return setpriority(which, 0, min(current + niceness, 19)) == 0 ? 0 : errno
        #else
        return 0
        #endif
    }
}
