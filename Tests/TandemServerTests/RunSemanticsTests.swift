import Foundation
import NIOHTTP1
import TandemDomain
import TandemJournal
import TandemProviders
import TandemRuns
import TandemServer
import TandemHTTPTestSupport
import TandemTestSupport
import Testing

/// Every row of SPEC §2's run semantics, and the old service's eight scenarios, over real HTTP.
@Suite("Run semantics over HTTP", .timeLimit(.minutes(1)))
struct RunSemanticsTests {
    @Test("Flash first: preliminary, final, done ok — with latencies from the monotonic clock (old: normal ordering)")
    func flashFirst() async throws {
        let provider = FakeProvider()
        try await TestServer.with(provider: provider) { server in
            let stream = try await query(server)
            #expect(stream.status == 200)
            await provider.flash.waitForCalls(1)
            await provider.pro.waitForCalls(1)
            server.clock.advance(to: .milliseconds(400))
            provider.flash.send(.complete("Rayleigh scattering."))
            let preliminary = try #require(try await stream.next())
            #expect(preliminary.event == "preliminary")
            server.clock.advance(to: .milliseconds(2_500))
            provider.pro.send(.complete("Short answer.\n\nBecause of Rayleigh scattering.\n\nBlue scatters most."))
            let rest = try await stream.rest()
            #expect(rest.names == ["final", "done"])
            #expect(preliminary.response["latency_ms"] as? Double == 400)
            #expect(rest[0].response["latency_ms"] as? Double == 2_500)
            #expect(rest[1].json["status"] as? String == "ok")
            let run = try runID(of: stream)
            let types = try await journaledTypes(server, run)
            #expect(types.first == "run_started")
            #expect(types.last == "done")
            #expect(types.sorted() == [
                "run_started", "flash_started", "pro_started", "flash_first_token", "flash_completed",
                "pro_first_token", "pro_completed", "done",
            ].sorted())
            #expect(types.firstIndex(of: "flash_completed")! < types.firstIndex(of: "pro_completed")!)
        }
    }

    @Test("Pro first: final at once, Flash cancelled as superseded, done ok, no preliminary")
    func proFirst() async throws {
        let provider = FakeProvider()
        try await TestServer.with(provider: provider) { server in
            let stream = try await query(server)
            await provider.flash.waitForCalls(1)
            await provider.pro.waitForCalls(1)
            provider.pro.send(.complete("Verified."))
            let frames = try await stream.rest()
            #expect(frames.names == ["final", "done"])
            #expect(frames[1].json["status"] as? String == "ok")
            #expect(provider.flash.cancellations == 1)
            let run = try runID(of: stream)
            let types = try await journaledTypes(server, run)
            #expect(types.contains("flash_cancelled"))
            #expect(!types.contains("flash_completed"))
            #expect(try events(server, run).contains(.modelCancelled(.flash, ModelCancelled(reason: .superseded))))
        }
    }

    @Test("Flash times out, Pro succeeds: error(flash_timeout), final, done partial — the Flash call is really cancelled (old: flash timeout)")
    func flashTimeout() async throws {
        let provider = FakeProvider()
        try await TestServer.with(provider: provider) { server in
            let stream = try await query(server)
            await provider.flash.waitForCalls(1)
            await provider.pro.waitForCalls(1)
            await server.clock.waitForSleepers(2)  // the deadline scheduler and the pinger
            server.clock.advance(to: .seconds(5))
            let error = try #require(try await stream.next())
            #expect(error.event == "error")
            #expect(error.json["code"] as? String == "flash_timeout")
            #expect(error.json["type"] as? String == "timeout")
            #expect(error.json["model"] as? String == "flash")
            #expect(provider.flash.cancellations == 1)
            provider.pro.send(.complete("Verified."))
            let rest = try await stream.rest()
            #expect(rest.names == ["final", "done"])
            #expect(rest[1].json["status"] as? String == "partial")
            let run = try runID(of: stream)
            try await waitUntilDone(server, run)
            #expect(try events(server, run).contains(.modelTimeout(.flash, ModelTimeout(timeoutS: 5, phase: .total, elapsedMs: 5_000))))
        }
    }

    @Test("Pro times out after Flash: preliminary, error(pro_timeout), done partial (old: pro timeout)")
    func proTimeout() async throws {
        let provider = FakeProvider()
        try await TestServer.with(provider: provider) { server in
            let stream = try await query(server)
            await provider.pro.waitForCalls(1)
            provider.flash.send(.complete("Quick."))
            #expect(try await stream.next()?.event == "preliminary")
            await server.clock.waitForSleepers(2)  // the deadline scheduler (Pro's deadline) and the pinger
            server.clock.advance(to: .seconds(45))
            let rest = try await stream.rest()
            #expect(rest.names == ["error", "done"])
            #expect(rest[0].json["code"] as? String == "pro_timeout")
            #expect(rest[1].json["status"] as? String == "partial")
            #expect(provider.pro.cancellations == 1)
        }
    }

    @Test("Both time out: an error for each in order, done timeout (old: both timeout)")
    func bothTimeout() async throws {
        let provider = FakeProvider()
        try await TestServer.with(provider: provider) { server in
            let stream = try await query(server)
            await provider.flash.waitForCalls(1)
            await provider.pro.waitForCalls(1)
            await server.clock.waitForSleepers(2)  // the deadline scheduler and the pinger
            server.clock.advance(to: .seconds(5))
            #expect(try await stream.next()?.json["code"] as? String == "flash_timeout")
            await server.clock.waitForSleepers(2)
            server.clock.advance(to: .seconds(45))
            let rest = try await stream.rest()
            #expect(rest.names == ["error", "done"])
            #expect(rest[0].json["code"] as? String == "pro_timeout")
            #expect(rest[1].json["status"] as? String == "timeout")
            #expect(provider.flash.cancellations == 1)
            #expect(provider.pro.cancellations == 1)
        }
    }

    @Test("Flash fails, Pro succeeds: error(flash_error), final, done partial")
    func flashFails() async throws {
        let provider = FakeProvider()
        try await TestServer.with(provider: provider) { server in
            let stream = try await query(server)
            provider.flash.send(.fail(ProviderError(errorClass: "upstream_http_5xx", message: "boom", httpStatus: 503, retryable: true)))
            let error = try #require(try await stream.next())
            #expect(error.json["code"] as? String == "flash_error")
            #expect(error.json["type"] as? String == "error")
            #expect(error.json["retryable"] as? Bool == true)
            provider.pro.send(.complete("Verified."))
            let rest = try await stream.rest()
            #expect(rest.names == ["final", "done"])
            #expect(rest[1].json["status"] as? String == "partial")
        }
    }

    @Test("TANDEM_ON_FLASH_FAILURE=cancel_pro: Flash fails, Pro is cancelled, done carries the failure")
    func cancelProPolicy() async throws {
        let provider = FakeProvider()
        try await TestServer.with(provider: provider, settings: RunSettings(onFlashFailure: .cancelPro)) { server in
            let stream = try await query(server)
            await provider.pro.waitForCalls(1)
            provider.flash.send(.fail(ProviderError(errorClass: "upstream_http_4xx", message: "bad", httpStatus: 400, retryable: false)))
            let frames = try await stream.rest()
            #expect(frames.names == ["error", "done"])
            #expect(frames[1].json["status"] as? String == "error")
            #expect(provider.pro.cancellations == 1)
            let run = try runID(of: stream)
            try await waitUntilDone(server, run)
            #expect(try events(server, run).contains(.modelCancelled(.pro, ModelCancelled(reason: .siblingFailed))))
        }
    }

    @Test("Pro fails after Flash: preliminary, error(pro_error), done partial")
    func proFails() async throws {
        let provider = FakeProvider()
        try await TestServer.with(provider: provider) { server in
            let stream = try await query(server)
            provider.flash.send(.complete("Quick."))
            #expect(try await stream.next()?.event == "preliminary")
            provider.pro.send(.fail(ProviderError(errorClass: "upstream_protocol", message: "garbled", retryable: false)))
            let rest = try await stream.rest()
            #expect(rest.names == ["error", "done"])
            #expect(rest[0].json["code"] as? String == "pro_error")
            #expect(rest[1].json["status"] as? String == "partial")
        }
    }

    @Test("Both fail: an error for each, in the order they happened, done error (old: stream closes even when a model raises)")
    func bothFail() async throws {
        let provider = FakeProvider()
        try await TestServer.with(provider: provider) { server in
            let stream = try await query(server)
            provider.pro.send(.fail(ProviderError(errorClass: "upstream_http_5xx", message: "pro down", httpStatus: 500, retryable: true)))
            #expect(try await stream.next()?.json["code"] as? String == "pro_error")
            provider.flash.send(.fail(ProviderError(errorClass: "upstream_http_5xx", message: "flash down", httpStatus: 500, retryable: true)))
            let rest = try await stream.rest()
            #expect(rest.names == ["error", "done"])
            #expect(rest[0].json["code"] as? String == "flash_error")
            #expect(rest[1].json["status"] as? String == "error")
        }
    }

    @Test("First-token and idle deadlines expire with their phase journaled")
    func phases() async throws {
        let provider = FakeProvider()
        let settings = RunSettings(
            flashDeadlines: ModelDeadlines(total: .seconds(5), firstToken: .seconds(1)),
            proDeadlines: ModelDeadlines(total: .seconds(45), idle: .seconds(2)),
            // The test waits for the first token in the journal before it moves the clock on.
            progressHold: .zero
        )
        try await TestServer.with(provider: provider, settings: settings) { server in
            let stream = try await query(server)
            await provider.flash.waitForCalls(1)
            await provider.pro.waitForCalls(1)
            await server.clock.waitForSleepers(2)  // the deadline scheduler and the pinger
            server.clock.advance(to: .milliseconds(500))
            provider.pro.send(.chunk("Thinking…"))
            try await waitForEntry(server, try runID(of: stream), type: "pro_first_token")
            server.clock.advance(to: .seconds(1))
            #expect(try await stream.next()?.json["code"] as? String == "flash_timeout")
            await server.clock.waitForSleepers(2)
            server.clock.advance(to: .milliseconds(2_500))
            let rest = try await stream.rest()
            #expect(rest.first?.json["code"] as? String == "pro_timeout")
            let run = try runID(of: stream)
            try await waitUntilDone(server, run)
            let all = try events(server, run)
            #expect(all.contains(.modelTimeout(.flash, ModelTimeout(timeoutS: 1, phase: .firstToken, elapsedMs: 1_000))))
            #expect(all.contains(.modelTimeout(.pro, ModelTimeout(timeoutS: 2, phase: .idle, elapsedMs: 2_500))))
            #expect(all.contains(.firstToken(.pro, FirstToken(afterMs: 500))))
        }
    }

    @Test("Retries reported by the provider are journaled")
    func retriesJournaled() async throws {
        let provider = FakeProvider()
        try await TestServer.with(provider: provider) { server in
            let stream = try await query(server)
            provider.pro.send(.retry(ModelRetry(attempt: 1, delayMs: 250, errorClass: "upstream_http_5xx", httpStatus: 503)))
            provider.flash.send(.complete("Quick."))
            provider.pro.send(.complete("Verified."))
            _ = try await stream.rest()
            let run = try runID(of: stream)
            #expect(try events(server, run).contains(.modelRetry(.pro, ModelRetry(attempt: 1, delayMs: 250, errorClass: "upstream_http_5xx", httpStatus: 503))))
        }
    }
}

extension RunSemanticsTests {
    @Test("run_started records the first-token and idle deadlines that are set (the console draws them), and omits those that are off")
    func configuredDeadlinesAreJournaled() async throws {
        let provider = FakeProvider()
        let settings = RunSettings(flashDeadlines: ModelDeadlines(total: .seconds(5), firstToken: .milliseconds(1_500), idle: .seconds(2)))
        try await TestServer.with(provider: provider, settings: settings) { server in
            let stream = try await query(server, #"{"query":"Deadlines","run_id":"deadlines-1"}"#)
            provider.flash.send(.complete("Quick."))
            provider.pro.send(.complete("Verified."))
            _ = try await stream.rest()
            let run = try #require(RunID("deadlines-1"))
            guard case .runStarted(let started)? = try events(server, run).first else {
                Issue.record("the run did not start with run_started")
                return
            }
            #expect(started.config.flashFirstTokenTimeoutS == 1.5)
            #expect(started.config.flashIdleTimeoutS == 2)
            #expect(started.config.proFirstTokenTimeoutS == nil)
            #expect(started.config.proIdleTimeoutS == nil)
            let line = try #require(try server.journal.entries(of: run).first).line
            #expect(!String(decoding: line, as: UTF8.self).contains("pro_first_token_timeout_s"))
        }
    }
}
