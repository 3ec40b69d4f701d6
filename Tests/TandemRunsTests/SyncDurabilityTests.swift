import Logging
import ServiceLifecycle
import Synchronization
import TandemDomain
import TandemJournal
import TandemProviders
import TandemRuns
import TandemHTTPTestSupport
import TandemTestSupport
import Testing

/// `TANDEM_FLEET_DURABILITY=sync` (SPEC §11): frames wait for the fleet, stops never do.
@Suite("Sync durability never holds a stop", .timeLimit(.minutes(1)))
struct SyncDurabilityTests {
    @Test("while the fleet gate is closed, a client disconnect cancels the model calls and no frame of an unshipped entry goes out")
    func disconnectWhileGateClosed() async throws {
        let provider = FakeProvider()
        let fleet = FleetGateStub()
        try await withCoordinator(provider: provider, gate: fleet) { coordinator, journal in
            let request = RunRequest(runID: RunID("held")!, query: "q", context: nil, client: ClientInfo(), clientChoseRunID: true)
            guard case .started(let stream) = try await coordinator.admit(request) else {
                Issue.record("the run did not start")
                return
            }
            provider.flash.send(.complete("Quick."))
            // The preliminary's commit is journaled and its frames wait at the gate.
            _ = await fleet.nextCall()
            await provider.pro.waitForCalls(1)
            // Old code: the run's mailbox loop itself waited at the gate and never saw this.
            stream.control.clientDisconnected()
            await provider.pro.waitForEnds(1)
            #expect(provider.pro.cancellations == 1)
            var frames: [SSEFrame] = []
            for await item in stream.items {
                if case .frames(let more, _) = item { frames += more }
            }
            #expect(frames.isEmpty, "frames of entries not in the fleet store went out: \(frames.map(\.event))")
            let events = try journal.entries(of: request.runID).map { try DomainEvent($0) }
            #expect(events.contains { if case .clientDisconnected = $0 { true } else { false } })
        }
    }

    @Test("a follower of a run whose entries are not shipped gets no frame until they are; cancelled meanwhile, it gets none")
    func followerWaitsForShipping() async throws {
        let provider = FakeProvider()
        let fleet = FleetGateStub()
        try await withCoordinator(provider: provider, gate: fleet) { coordinator, journal in
            let request = RunRequest(runID: RunID("followed")!, query: "q", context: nil, client: ClientInfo(), clientChoseRunID: true)
            guard case .started(let stream) = try await coordinator.admit(request) else {
                Issue.record("the run did not start")
                return
            }
            provider.flash.send(.complete("Quick."))
            let preliminarySeq = await fleet.nextCall()
            // A follower (a `/stream` reader or a replay) reads the journal, then waits at the gate.
            let follower = try coordinator.follow(request.runID)
            let waiting = Task {
                var iterator = follower.makeAsyncIterator()
                return try await iterator.next()
            }
            let followerSeq = await fleet.nextCall()
            #expect(followerSeq >= preliminarySeq)
            waiting.cancel()
            #expect(try await waiting.value == nil)

            // Shipped through the head: the run's client and a new follower get the frames.
            provider.pro.send(.complete("Thorough."))
            var live: [SSEFrame] = []
            let reader = Task {
                var frames: [SSEFrame] = []
                for await item in stream.items {
                    if case .frames(let more, _) = item { frames += more }
                }
                return frames
            }
            while try !(journal.entries(of: request.runID).last.map { try DomainEvent($0).endsRun } ?? false) {
                await journal.waitForAppend(beyond: try journal.head().seq, timeout: .seconds(1))
            }
            fleet.ship(through: try journal.head().seq)
            live = await reader.value
            #expect(live.last?.event == .done)
            var replayed: [SSEFrame] = []
            for try await frame in try coordinator.follow(request.runID) { replayed.append(frame) }
            #expect(replayed == live)
        }
    }

    /// Runs `body` with a coordinator whose frames wait for `gate`, its service running.
    private func withCoordinator(
        provider: FakeProvider, gate: FleetGateStub, _ body: (RunCoordinator, Journal) async throws -> Void
    ) async throws {
        let directory = try TemporaryDirectory()
        var logger = Logger(label: "sync-durability")
        logger.logLevel = .error
        let journal = try Journal(JournalConfiguration(directory: directory.path), logger: logger)
        defer { journal.close() }
        var settings = RunSettings()
        settings.beforeFrames = { seq in await gate.wait(through: seq) }
        let coordinator = RunCoordinator(
            journal: journal, provider: provider, settings: settings,
            digestKey: try RequestDigestKey.loadOrCreate(inDataDirectory: directory.path), clock: ManualClock(), logger: logger
        )
        let group = ServiceGroup(configuration: .init(services: [coordinator], logger: logger))
        try await withThrowingTaskGroup(of: Void.self) { tasks in
            tasks.addTask { try await group.run() }
            do {
                try await body(coordinator, journal)
            } catch {
                await group.triggerGracefulShutdown()
                throw error
            }
            await group.triggerGracefulShutdown()
            try await tasks.waitForAll()
        }
    }
}

/// The fleet as the run sees it in sync durability: a mark the test moves, and every wait at it
/// reported in order.
final class FleetGateStub: Sendable {
    private let shipped = HeadSignal(head: 0)
    private let calls: AsyncStream<UInt64>
    private let callSink: AsyncStream<UInt64>.Continuation

    init() {
        (calls, callSink) = AsyncStream.makeStream(of: UInt64.self)
    }

    /// ``RunSettings/beforeFrames``: waits until `seq` is shipped; `false` when cancelled first.
    func wait(through seq: UInt64) async -> Bool {
        callSink.yield(seq)
        await shipped.wait(beyond: seq - 1)
        return shipped.head >= seq
    }

    /// The seq of the next wait at the gate.
    func nextCall() async -> UInt64 {
        var iterator = calls.makeAsyncIterator()
        return await iterator.next() ?? 0
    }

    func ship(through seq: UInt64) {
        shipped.publish(seq)
    }
}
