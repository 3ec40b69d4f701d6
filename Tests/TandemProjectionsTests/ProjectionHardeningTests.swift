import Foundation
import Logging
import TandemDomain
import TandemJournal
import TandemTestSupport
import Testing

@testable import TandemProjections

/// Projection swaps and read-your-writes (issue 11, item 6).
@Suite("Projections: swaps and read-your-writes", .timeLimit(.minutes(1)))
struct ProjectionHardeningTests {
    private func journal(_ directory: TemporaryDirectory) throws -> Journal {
        try Journal(JournalConfiguration(directory: directory.path), logger: Logger(label: "test"))
    }

    @Test("A read the projections cannot catch up with fails as lagging instead of returning a stale store")
    func laggingIsReported() async throws {
        let directory = try TemporaryDirectory()
        let journal = try journal(directory)
        try await Workload.append(runs: 4, to: journal)
        let projector = Projector(journal: journal, dataDirectory: directory.path, logger: Logger(label: "test"))
        try projector.prepare()
        try await Workload.append(runs: 2, to: journal, firstRun: 4)
        // The projector is not running: nothing brings the store to the new head.
        await #expect(throws: ProjectionError.self) {
            _ = try await projector.store(through: try journal.head().seq, timeout: .milliseconds(50))
        }
    }

    @Test("A read times out on the injected clock: still waiting just before its timeout, lagging at it, with no real waiting")
    func lagTimeoutOnTheInjectedClock() async throws {
        let directory = try TemporaryDirectory()
        let journal = try journal(directory)
        try await Workload.append(runs: 2, to: journal)
        let clock = ManualClock()
        let projector = Projector(journal: journal, dataDirectory: directory.path, logger: Logger(label: "test"), clock: clock)
        try projector.prepare()
        try await Workload.append(runs: 1, to: journal, firstRun: 2)
        let head = try journal.head().seq
        // The projector is not running: only the timeout can end this read.
        let read = Task { try await projector.store(through: head, timeout: .seconds(2)) }
        await clock.waitForSleepers(1)
        clock.advance(to: .milliseconds(1_900))
        // Not timed out yet: it waits again, for what is left of its timeout.
        await clock.waitForSleepers(1)
        clock.advance(to: .seconds(2))
        await #expect(throws: ProjectionError.self) { _ = try await read.value }
    }

    @Test("Switching to a rebuilt store that is behind resets what readers wait for: no stale store is served")
    func switchResetsTheAppliedMark() async throws {
        let directory = try TemporaryDirectory()
        let journal = try journal(directory)
        try await Workload.append(runs: 6, to: journal)
        let projector = Projector(journal: journal, dataDirectory: directory.path, logger: Logger(label: "test"))
        try projector.prepare()
        let head = try journal.head().seq
        #expect(try await projector.store(through: head).checkpoint() == head)

        // A rebuild published while serve runs covers the journal only up to some earlier seq.
        let location = ProjectionLocation(dataDirectory: directory.path)
        let name = location.newName()
        _ = try ProjectionRebuild.rebuild(journal: journal, location: location, name: name, through: head / 2)
        try location.publish(name)
        try projector.switchIfRebuilt()
        #expect(projector.store?.name == name)
        await #expect(throws: ProjectionError.self) {
            _ = try await projector.store(through: head, timeout: .milliseconds(50))
        }
    }

    @Test("Two rebuilds at once: the second is refused, naming the first")
    func rebuildsAreSerialized() async throws {
        let directory = try TemporaryDirectory()
        try journal(directory).close()
        let location = ProjectionLocation(dataDirectory: directory.path)
        let claim = try location.claimRebuild()
        #expect(throws: ProjectionError.self) { _ = try location.claimRebuild() }
        let refused = try await TandemExecutable.run(["projections", "rebuild", "--data-dir", directory.path])
        #expect(refused.status == 1)
        #expect(refused.stderr.contains("in use by process \(getpid())"), "\(refused.stderr)")
        withExtendedLifetime(claim) {}
    }
}
