import Foundation
#if canImport(Glibc)
import Glibc
#endif
import Logging
import Synchronization
import Testing

@testable import TandemFleet

/// The shipper's reader thread.
@Suite("Shipper reader thread")
struct ReaderThreadTests {
    /// The nice value of the calling thread, from `/proc/thread-self/stat` (field 19).
    private static func currentNiceness() throws -> Int32? {
        let stat = try String(contentsOfFile: "/proc/thread-self/stat", encoding: .utf8)
        guard let close = stat.lastIndex(of: ")") else { return nil }
        let fields = stat[stat.index(after: close)...].split(separator: " ")
        return fields.count > 16 ? Int32(fields[16]) : nil
    }

    @Test(
        "work runs on a thread niced 5 below the thread that starts it, which keeps its own niceness; the thread stops with its scope",
        .timeLimit(.minutes(1))
    )
    func lowerPriorityThread() async throws {
        try #require(FileManager.default.fileExists(atPath: "/proc/thread-self/stat"), "needs Linux's /proc")
        // The starter is a thread of the test's own at niceness 3, not a pool thread at the
        // process's niceness: a reader niced to an absolute 5, or relative to anything but its
        // starter, is seen.
        let starter = try NicedThreadExecutor(niceness: 3)
        defer { starter.stop() }
        let (starterBefore, readerNiceness, starterAfter, reader) = try await withTaskExecutorPreference(starter) {
            let before = try Self.currentNiceness()
            let (readerNiceness, reader) = try await ReaderThread.run(niceness: 5, logger: Logger(label: "test")) { reader in
                (try await reader.run { () throws(FleetError) in (try? Self.currentNiceness()) ?? nil }, reader)
            }
            return (before, readerNiceness, try Self.currentNiceness(), reader)
        }
        #expect(starterBefore == 3)
        #expect(readerNiceness == 8)
        #expect(starterAfter == 3)
        await #expect(throws: FleetError.self) { try await reader.run { () throws(FleetError) in 1 } }
    }

    @Test("an error of the work reaches the caller as it is")
    func errorsPassThrough() async throws {
        await #expect(throws: FleetError.database("unreadable")) {
            try await ReaderThread.run(niceness: 0, logger: Logger(label: "test")) { reader async throws(FleetError) in
                try await reader.run { () throws(FleetError) -> Int in throw .database("unreadable") }
            }
        }
    }
}

/// A task executor with one thread of its own at a niceness the test chooses: async code under
/// `withTaskExecutorPreference` runs there, so "the thread that starts the reader" is known.
///
/// `@unchecked Sendable`: `jobs` and `stopped` are only read and written with `condition` locked.
private final class NicedThreadExecutor: TaskExecutor, @unchecked Sendable {
    private let condition = NSCondition()
    private var jobs: [UnownedJob] = []
    private var stopped = false

    struct CannotNice: Error {
        let errno: Int32
    }

    /// Starts the thread and waits until it runs at `niceness`.
    init(niceness: Int32) throws {
        let outcome = Mutex<Int32?>(nil)
        let started = DispatchSemaphore(value: 0)
        let thread = Thread { [self] in
            let result = setpriority(__priority_which_t(PRIO_PROCESS.rawValue), 0, niceness) == 0 ? 0 : errno
            outcome.withLock { $0 = result }
            started.signal()
            guard result == 0 else { return }
            self.serve()
        }
        thread.start()
        started.wait()
        let result = outcome.withLock { $0 } ?? 0
        guard result == 0 else { throw CannotNice(errno: result) }
    }

    func enqueue(_ job: consuming ExecutorJob) {
        let job = UnownedJob(job)
        condition.withLock {
            jobs.append(job)
            condition.signal()
        }
    }

    /// Ends the thread once its queued jobs have run.
    func stop() {
        condition.withLock {
            stopped = true
            condition.signal()
        }
    }

    private func serve() {
        while true {
            let next: UnownedJob? = condition.withLock {
                while jobs.isEmpty && !stopped { condition.wait() }
                return jobs.isEmpty ? nil : jobs.removeFirst()
            }
            guard let next else { return }
            next.runSynchronously(on: asUnownedTaskExecutor())
        }
    }
}
