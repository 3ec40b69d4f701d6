import Foundation
import TandemDomain
import TandemJournal
import TandemRuns
import TandemHTTPTestSupport
import TandemTestSupport
import Testing

/// Progress that sends no frame (`*_started`, `*_first_token`, `*_retry`) shares the commit of the
/// run's next frame, or is journaled on its own once `TANDEM_PROGRESS_HOLD_MS` has passed.
@Suite("Progress held for a shared commit", .timeLimit(.minutes(1)))
struct ProgressHoldTests {
    @Test("A fast answer's progress shares its commit: started, first token and the answer in one commit, in order")
    func progressRidesWithTheAnswer() async throws {
        let provider = FakeProvider()
        try await TestServer.with(provider: provider) { server in
            let stream = try await query(server, #"{"query":"q","run_id":"ride-along"}"#)
            await provider.flash.waitForCalls(1)
            await provider.pro.waitForCalls(1)
            provider.flash.send(.chunk("Quick"))
            provider.flash.send(.complete("Quick."))
            #expect(try await stream.next()?.event == "preliminary")
            // The manual clock stands still: nothing but the answer's commit can have journaled
            // the progress (old code: a commit for the starts, one per first token, one for the answer).
            #expect(server.journal.lastCommitObservation.entries == 4)
            let run = try #require(RunID("ride-along"))
            let types = try server.journal.entries(of: run).map(\.type)
            #expect(types.count == 5)
            #expect(types.first == "run_started" && types.last == "flash_completed")
            #expect(Set(types.dropFirst().dropLast()) == ["flash_started", "pro_started", "flash_first_token"])
            #expect(types.firstIndex(of: "flash_started")! < types.firstIndex(of: "flash_first_token")!)
            provider.pro.send(.complete("Verified."))
            #expect(try await stream.rest().names == ["final", "done"])
        }
    }

    @Test("Progress with no answer behind it is journaled once the hold has passed, not before")
    func progressAloneWaitsForTheHold() async throws {
        let provider = FakeProvider()
        let hold = Duration.milliseconds(100)
        // Deadlines far beyond what the steps below can reach: only the hold can journal anything.
        let settings = RunSettings(
            flashDeadlines: ModelDeadlines(total: .seconds(3_600)), proDeadlines: ModelDeadlines(total: .seconds(3_600)), progressHold: hold
        )
        try await TestServer.with(provider: provider, settings: settings) { server in
            let stream = try await query(server, #"{"query":"q","run_id":"held-alone"}"#)
            let run = try #require(RunID("held-alone"))
            await provider.flash.waitForCalls(1)
            await provider.pro.waitForCalls(1)
            // Time moves in steps until the calls' starts are in the journal; they must not get
            // there before the hold (old code: at once, with the clock still at zero).
            while try server.journal.entries(of: run).count < 2 {
                let head = try server.journal.head().seq
                server.clock.advance(by: .milliseconds(10))
                await server.journal.waitForAppend(beyond: head, timeout: .milliseconds(50))
            }
            #expect(server.clock.elapsed >= hold)
            let types = try server.journal.entries(of: run).map(\.type)
            #expect(types.dropFirst().allSatisfy { $0 == "flash_started" || $0 == "pro_started" }, "\(types)")
            provider.flash.send(.complete("Quick."))
            provider.pro.send(.complete("Verified."))
            _ = try await stream.rest()
        }
    }

    @Test("TANDEM_PROGRESS_HOLD_MS=0 journals progress at once")
    func zeroHold() async throws {
        let provider = FakeProvider()
        try await TestServer.with(provider: provider, settings: RunSettings(progressHold: .zero)) { server in
            let stream = try await query(server, #"{"query":"q","run_id":"no-hold"}"#)
            try await waitForEntry(server, try #require(RunID("no-hold")), type: "pro_started")
            #expect(server.clock.elapsed == .zero)
            provider.flash.send(.complete("Quick."))
            provider.pro.send(.complete("Verified."))
            _ = try await stream.rest()
        }
    }
}
