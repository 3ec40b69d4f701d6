import Foundation
import TandemDomain
import TandemJournal
import TandemRuns
import TandemHTTPTestSupport
import TandemTestSupport
import Testing

@testable import TandemServer

private func json(_ body: String) -> [String: Any] {
    (try? JSONSerialization.jsonObject(with: Data(body.utf8))) as? [String: Any] ?? [:]
}

/// SPEC §11 "Keys": the failed-key throttle, the key id's secret, and `/health` without a key.
@Suite("API key protections", .timeLimit(.minutes(1)))
struct KeyProtectionTests {
    private let key = "acme-prod-2024"

    @Test("More than TANDEM_AUTH_FAILURES_PER_MINUTE bad keys from one address → 429 rate_limited + Retry-After until the minute passes")
    func throttleOverHTTP() async throws {
        let clock = ManualClock()
        let configuration = ServerConfiguration(apiKeys: [key], authFailuresPerMinute: 3)
        try await TestServer.with(provider: FakeProvider(), server: configuration, clock: clock) { server in
            for attempt in 1...3 {
                let response = try await HTTPTestClient.send(server.baseURL, "/api/runs", headers: attempt == 2 ? [:] : ["x-api-key": "guess-\(attempt)"])
                #expect(response.status == 401, "failure \(attempt) is within the limit")
            }
            let fourth = try await HTTPTestClient.send(server.baseURL, "/api/runs", headers: ["x-api-key": "guess-4"])
            #expect(fourth.status == 429)
            #expect(json(fourth.body)["code"] as? String == "rate_limited")
            #expect(fourth.headers.first { $0.0.lowercased() == "retry-after" }?.1 == "60")
            // The right key from the throttled address waits too: guessing cannot go on in between.
            let right = try await HTTPTestClient.send(server.baseURL, "/api/runs", headers: ["x-api-key": key])
            #expect(right.status == 429)
            clock.advance(by: .seconds(45))
            let later = try await HTTPTestClient.send(server.baseURL, "/api/runs", headers: ["x-api-key": key])
            #expect(later.headers.first { $0.0.lowercased() == "retry-after" }?.1 == "15")
            clock.advance(by: .seconds(15))
            #expect(try await HTTPTestClient.send(server.baseURL, "/api/runs", headers: ["x-api-key": key]).status == 200)
            #expect(try await HTTPTestClient.send(server.baseURL, "/api/runs", headers: ["x-api-key": "guess-5"]).status == 401)
            #expect(try await HTTPTestClient.send(server.baseURL, "/health").status == 200, "/health is never throttled")
        }
    }

    @Test("The throttle counts per address: one client over the limit leaves the others alone; 0 turns it off")
    func throttlePerClient() {
        let clock = ManualClock()
        let throttle = AuthFailureThrottle(limit: 2, clock: clock)
        #expect(throttle.recordFailure("10.0.0.1") == nil)
        #expect(throttle.recordFailure("10.0.0.1") == nil)
        #expect(throttle.recordFailure("10.0.0.1") == 60)
        #expect(throttle.retryAfter("10.0.0.1") == 60)
        #expect(throttle.retryAfter("10.0.0.2") == nil)
        #expect(throttle.recordFailure("10.0.0.2") == nil)
        clock.advance(by: .seconds(60))
        #expect(throttle.retryAfter("10.0.0.1") == nil)
        let off = AuthFailureThrottle(limit: 0, clock: clock)
        for _ in 0..<100 { #expect(off.recordFailure("10.0.0.3") == nil) }
    }

    @Test("The table of failing clients stays bounded; a client it cannot track is never throttled by mistake")
    func throttleBounded() {
        let clock = ManualClock()
        let throttle = AuthFailureThrottle(limit: 1, clock: clock, capacity: 2)
        _ = throttle.recordFailure("a")
        _ = throttle.recordFailure("b")
        #expect(throttle.recordFailure("c") == nil)
        #expect(throttle.recordFailure("c") == nil, "c is not tracked while a and b's windows run")
        clock.advance(by: .seconds(61))
        _ = throttle.recordFailure("c")
        #expect(throttle.recordFailure("c") == 60, "expired windows make room")
    }

    @Test("With keys on, /health without a valid key answers only {status}; with one, the whole body; status codes unchanged")
    func minimalHealth() async throws {
        try await TestServer.with(provider: FakeProvider(), server: ServerConfiguration(apiKeys: [key])) { server in
            for headers in [[:], ["x-api-key": "wrong"]] {
                let anonymous = try await HTTPTestClient.send(server.baseURL, "/health", headers: headers)
                #expect(anonymous.status == 200)
                #expect(json(anonymous.body).keys.sorted() == ["status"])
                #expect(json(anonymous.body)["status"] as? String == "ok")
            }
            let keyed = try await HTTPTestClient.send(server.baseURL, "/health", headers: ["x-api-key": key])
            #expect(keyed.status == 200)
            #expect((json(keyed.body)["journal"] as? [String: Any])?["head_hash"] != nil)
        }
        try await TestServer.with(provider: FakeProvider()) { server in
            let open = try await HTTPTestClient.send(server.baseURL, "/health")
            #expect(json(open.body)["journal"] != nil, "keys off: /health is whole, as before")
        }
    }

    @Test("client.key_id is an HMAC under the data dir's secret: one key, two data dirs → two ids; a shared TANDEM_KEY_ID_SECRET_FILE → one id")
    func keyIDSecret() throws {
        let first = try TemporaryDirectory()
        let second = try TemporaryDirectory()
        let a = try KeyIDSecret.resolve(file: nil, dataDirectory: first.path)
        let b = try KeyIDSecret.resolve(file: nil, dataDirectory: second.path)
        #expect(a.id(of: key) != b.id(of: key))
        #expect(a.id(of: key) == (try KeyIDSecret.resolve(file: nil, dataDirectory: first.path)).id(of: key), "stable across restarts")
        #expect(a.id(of: key).count == 16)
        // Not the old unkeyed hash (a prefix of SHA-256 over a label and the key).
        #expect(a.id(of: key) != String(ChainHash.hex(of: Array("tandem-key-id:\(key)".utf8)).prefix(16)))

        let shared = first.path + "/../shared-\(UUID().uuidString).secret"
        try Data("0123456789abcdef0123456789abcdef\n".utf8).write(to: URL(fileURLWithPath: shared))
        defer { try? FileManager.default.removeItem(atPath: shared) }
        let c = try KeyIDSecret.resolve(file: shared, dataDirectory: first.path)
        let d = try KeyIDSecret.resolve(file: shared, dataDirectory: second.path)
        #expect(c.id(of: key) == d.id(of: key))
        #expect(c.id(of: key) != a.id(of: key))

        let short = first.path + "/short.secret"
        try Data("tiny".utf8).write(to: URL(fileURLWithPath: short))
        #expect(throws: RunError.self) { try KeyIDSecret.resolve(file: short, dataDirectory: first.path) }
        #expect(throws: RunError.self) { try KeyIDSecret.resolve(file: first.path + "/missing", dataDirectory: first.path) }
    }

    @Test("The journaled key_id is the configured secret's HMAC of the key")
    func journaledKeyID() async throws {
        let provider = FakeProvider()
        let secret = KeyIDSecret.random()
        try await TestServer.with(provider: provider, server: ServerConfiguration(apiKeys: [key], keyIDSecret: secret)) { server in
            provider.flash.send(.complete("a"))
            provider.pro.send(.complete("b"))
            let stream = try await query(server, #"{"query":"q"}"#, headers: ["x-api-key": key])
            _ = try await stream.rest()
            guard case .runStarted(let started) = try events(server, try runID(of: stream)).first else {
                Issue.record("no run_started")
                return
            }
            #expect(started.client.keyID == secret.id(of: key))
        }
    }
}
