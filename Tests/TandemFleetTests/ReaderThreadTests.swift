import Foundation
import Logging
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

    @Test("work runs on a thread at the reader's niceness while the caller's thread keeps its own; the thread stops with its scope")
    func lowerPriorityThread() async throws {
        try #require(FileManager.default.fileExists(atPath: "/proc/thread-self/stat"), "needs Linux's /proc")
        let callerNiceness = try Self.currentNiceness()
        let (readerNiceness, reader) = try await ReaderThread.run(niceness: 5, logger: Logger(label: "test")) { reader in
            (try await reader.run { () throws(FleetError) in (try? Self.currentNiceness()) ?? nil }, reader)
        }
        #expect(readerNiceness == min((callerNiceness ?? 0) + 5, 19))
        #expect(try Self.currentNiceness() == callerNiceness)
        await #expect(throws: FleetError.self) { try await reader.run { () throws(FleetError) in 1 } }
    }

    @Test("an error of the work reaches the caller as it is")
    func errorsPassThrough() async throws {
        await #expect(throws: FleetError.journal("unreadable")) {
            try await ReaderThread.run(niceness: 0, logger: Logger(label: "test")) { reader async throws(FleetError) in
                try await reader.run { () throws(FleetError) -> Int in throw .journal("unreadable") }
            }
        }
    }
}
