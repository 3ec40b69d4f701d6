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

/// Every refusal of SPEC §2: status, JSON body with a human sentence and a stable code.
@Suite("Refusals and abuse controls", .timeLimit(.minutes(1)))
struct RefusalTests {
    private func post(_ server: TestServer, _ body: String, headers: [String: String] = [:]) async throws -> (status: UInt, headers: [(String, String)], json: [String: Any]) {
        let response = try await HTTPTestClient.send(server.baseURL, "/api/reasoning/query", method: .POST, body: body, headers: headers)
        let json = (try? JSONSerialization.jsonObject(with: Data(response.body.utf8))) as? [String: Any] ?? [:]
        return (response.status, response.headers, json)
    }

    @Test("Bad JSON → 400 invalid_json; bad fields → 422 validation_error naming the field")
    func validation() async throws {
        try await TestServer.with(provider: FakeProvider()) { server in
            let cases: [(String, UInt, String, String?)] = [
                (#"{"query": "#, 400, "invalid_json", nil),
                ("not json", 400, "invalid_json", nil),
                (#"["query"]"#, 422, "validation_error", "body"),
                (#"{}"#, 422, "validation_error", "query"),
                (#"{"query": 42}"#, 422, "validation_error", "query"),
                (#"{"query": "   "}"#, 422, "validation_error", "query"),
                (#"{"query": " \t\n\r "}"#, 422, "validation_error", "query"),
                (#"{"query": "\u00a0\u3000\u2028"}"#, 422, "validation_error", "query"),
                (#"{"query": "\#(String(repeating: "é", count: 32_769))"}"#, 422, "validation_error", "query"),
                (#"{"query": "\#(String(repeating: "x", count: 32_769))"}"#, 422, "validation_error", "query"),
                (#"{"query": "ok", "context": "text"}"#, 422, "validation_error", "context"),
                (#"{"query": "ok", "context": [1]}"#, 422, "validation_error", "context"),
                (#"{"query": "ok", "context": {"big": "\#(String(repeating: "y", count: 70_000))"}}"#, 422, "validation_error", "context"),
                (#"{"query": "ok", "run_id": "has space"}"#, 422, "validation_error", "run_id"),
                (#"{"query": "ok", "run_id": "\#(String(repeating: "a", count: 65))"}"#, 422, "validation_error", "run_id"),
                (#"{"query": "ok", "run_id": 7}"#, 422, "validation_error", "run_id"),
            ]
            for (body, status, code, field) in cases {
                let response = try await post(server, body)
                #expect(response.status == status, "\(body.prefix(40))")
                #expect(response.json["code"] as? String == code, "\(body.prefix(40))")
                #expect(response.json["field"] as? String == field, "\(body.prefix(40))")
                #expect((response.json["error"] as? String)?.isEmpty == false)
            }
            let mismatch = try await post(server, #"{"query":"ok","run_id":"a"}"#, headers: ["Idempotency-Key": "b"])
            #expect(mismatch.status == 422)
            #expect(mismatch.json["field"] as? String == "run_id")
            #expect(try server.journal.head().seq == 0, "a refused request must journal nothing")
        }
    }

    @Test("A body over the limit → 413 payload_too_large")
    func payloadTooLarge() async throws {
        try await TestServer.with(provider: FakeProvider(), server: ServerConfiguration(maxBodyBytes: 2_048)) { server in
            let response = try await post(server, #"{"query":"\#(String(repeating: "z", count: 4_000))"}"#)
            #expect(response.status == 413)
            #expect(response.json["code"] as? String == "payload_too_large")
        }
    }

    @Test("API keys: 401 without or with a wrong key; x-api-key and Bearer work; /health is open; the key never reaches the journal")
    func authentication() async throws {
        let provider = FakeProvider()
        let key = "tk_live_0123456789abcdefSECRET"
        try await TestServer.with(provider: provider, server: ServerConfiguration(apiKeys: ["other-key", key])) { server in
            let missing = try await post(server, #"{"query":"q"}"#)
            #expect(missing.status == 401)
            #expect(missing.json["code"] as? String == "unauthorized")
            #expect(try await post(server, #"{"query":"q"}"#, headers: ["x-api-key": "wrong"]).status == 401)
            #expect(try await HTTPTestClient.send(server.baseURL, "/api/runs/x/events").status == 401)
            #expect(try await HTTPTestClient.send(server.baseURL, "/health").status == 200)

            provider.flash.send(.complete("a"))
            provider.pro.send(.complete("b"))
            let viaHeader = try await query(server, #"{"query":"q1"}"#, headers: ["x-api-key": key])
            #expect(viaHeader.status == 200)
            _ = try await viaHeader.rest()
            provider.flash.send(.complete("a"))
            provider.pro.send(.complete("b"))
            let viaBearer = try await query(server, #"{"query":"q2"}"#, headers: ["Authorization": "Bearer \(key)"])
            #expect(viaBearer.status == 200)
            _ = try await viaBearer.rest()

            let lines = try server.journal.entries(from: 1).map(\.text).joined(separator: "\n")
            #expect(!lines.contains(key))
            #expect(!lines.contains("SECRET"))
            guard case .runStarted(let started) = try events(server, try runID(of: viaBearer)).first else {
                Issue.record("no run_started")
                return
            }
            #expect(started.client.keyID?.count == 16)
        }
    }

    @Test("Rate limit per client → 429 rate_limited with Retry-After; refills with time")
    func rateLimit() async throws {
        let provider = FakeProvider()
        try await TestServer.with(provider: provider, server: ServerConfiguration(rateLimitPerMinute: 2)) { server in
            for _ in 0..<2 {
                provider.flash.send(.complete("a"))
                provider.pro.send(.complete("b"))
                let stream = try await query(server)
                #expect(stream.status == 200)
                _ = try await stream.rest()
            }
            let limited = try await post(server, #"{"query":"third"}"#)
            #expect(limited.status == 429)
            #expect(limited.json["code"] as? String == "rate_limited")
            #expect(limited.headers.first { $0.0.lowercased() == "retry-after" }?.1 == "30")
            server.clock.advance(by: .seconds(30))
            provider.flash.send(.complete("a"))
            provider.pro.send(.complete("b"))
            let allowed = try await query(server)
            #expect(allowed.status == 200)
            _ = try await allowed.rest()
        }
    }

    @Test("Concurrency cap → 503 overloaded with Retry-After")
    func overloaded() async throws {
        let provider = FakeProvider()
        try await TestServer.with(provider: provider, settings: RunSettings(maxConcurrentRuns: 1)) { server in
            let first = try await query(server)
            await provider.flash.waitForCalls(1)
            let second = try await post(server, #"{"query":"second"}"#)
            #expect(second.status == 503)
            #expect(second.json["code"] as? String == "overloaded")
            #expect(second.headers.contains { $0.0.lowercased() == "retry-after" })
            provider.flash.send(.complete("a"))
            provider.pro.send(.complete("b"))
            _ = try await first.rest()
        }
    }

    @Test("A journal that cannot take writes → 503 journal_unavailable before streaming, and /health says 503")
    func journalUnavailable() async throws {
        let provider = FakeProvider()
        try await TestServer.with(provider: provider, journal: {
            $0.initialMapBytes = 256 * 1024
            $0.maxMapBytes = 256 * 1024
        }) { server in
            // Filled until not even a small entry fits (each append is tried, never refused up front).
            var full = false
            for size in [4_000, 400, 40, 1] {
                let filler = try DomainEvent.runAborted(RunAborted(reason: String(repeating: "f", count: size))).pendingEntry(for: RunID("filler")!)
                for _ in 0..<2_000 {
                    do {
                        _ = try await server.journal.append(filler)
                    } catch {
                        full = true
                        break
                    }
                }
            }
            #expect(full)
            let response = try await post(server, #"{"query":"q"}"#)
            #expect(response.status == 503)
            #expect(response.json["code"] as? String == "journal_unavailable")
            let health = try await HTTPTestClient.send(server.baseURL, "/health")
            #expect(health.status == 503)
            #expect(provider.flash.calls == 0)
        }
    }

    @Test("/health reports the journal head")
    func health() async throws {
        try await TestServer.with(provider: FakeProvider()) { server in
            let health = try await HTTPTestClient.send(server.baseURL, "/health")
            #expect(health.status == 200)
            let json = try #require(try JSONSerialization.jsonObject(with: Data(health.body.utf8)) as? [String: Any])
            #expect(json["status"] as? String == "ok")
            #expect((json["journal"] as? [String: Any])?["head_seq"] as? Int == 0)
        }
    }
}
