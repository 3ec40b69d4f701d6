import AsyncHTTPClient
import Foundation
import NIOCore
import NIOHTTP1
import TandemTestSupport
import Testing

/// `tandem serve` as a process: the data-dir lock, bounded shutdown, and what start-up prints
/// (issue 11, items 5, 9 and 15).
@Suite("Hardening: serve as a process", .serialized, .timeLimit(.minutes(2)))
struct HardeningProcessTests {
    /// Starts `serve` on a free port; returns it once `/health` answers.
    private func startServe(_ directory: TemporaryDirectory, environment: [String: String] = [:]) async throws -> (RunningTandem, Int) {
        let port = try ServeProcessTests.freePort()
        var env = ["TANDEM_SCRIPTED_FLASH_MS": "1", "TANDEM_SCRIPTED_PRO_MS": "3", "LOG_LEVEL": "error", "GEMINI_API_KEY": ""]
        for (key, value) in environment { env[key] = value }
        let child = try RunningTandem(["serve", "--port", "\(port)", "--data-dir", directory.path], environment: env)
        // Polling: the child reports nothing when it listens, /health is the only sign.
        for _ in 0..<400 {
            if let response = try? await HTTPClient.shared.execute(HTTPClientRequest(url: "http://127.0.0.1:\(port)/health"), timeout: .seconds(1)),
                response.status == .ok
            {
                return (child, port)
            }
            try await Task.sleep(for: .milliseconds(50))
        }
        child.send(SIGKILL)
        throw SkipReason("serve did not become healthy: \(child.wait().stderr)")
    }

    @Test("A second serve on the same data dir exits non-zero at once, naming the first one's pid")
    func secondServeIsRefused() async throws {
        let directory = try TemporaryDirectory()
        let (first, _) = try await startServe(directory)
        defer { first.send(SIGKILL) }
        let second = try TandemExecutable.run(
            ["serve", "--port", "0", "--data-dir", directory.path], environment: ["LOG_LEVEL": "error", "GEMINI_API_KEY": ""]
        )
        #expect(second.status != 0)
        #expect(second.stderr.contains("in use by process \(first.process.processIdentifier)"), "\(second.stderr)")
        // The first one is untouched: still serving.
        first.send(SIGTERM)
        #expect(first.wait().status == 0)
    }

    @Test("SIGTERM with a client that never reads: serve still exits within grace + hard limit")
    func shutdownIsBounded() async throws {
        let directory = try TemporaryDirectory()
        let (child, port) = try await startServe(directory, environment: [
            "TANDEM_SHUTDOWN_GRACE_S": "0.5", "TANDEM_SHUTDOWN_HARD_LIMIT_S": "1", "TANDEM_WRITE_TIMEOUT_S": "600",
        ])
        defer { child.send(SIGKILL) }
        let done = try await SSEConnection.open("http://127.0.0.1:\(port)", "/api/reasoning/query", body: #"{"query":"Stuck","run_id":"stuck-1"}"#)
        _ = try await done.rest()
        let client = try StalledClient(port: port)
        try client.send(String(repeating: "GET /api/runs/stuck-1/stream HTTP/1.1\r\nHost: x\r\n\r\n", count: 3_000))
        child.send(SIGTERM)
        // Without the bound the child never exits and the suite's time limit fails the test.
        _ = child.wait()
        #expect(!child.process.isRunning)
        withExtendedLifetime(client) {}
    }

    @Test("Start-up prints key ids, never key characters, and base URLs without credentials")
    func startupLogHidesSecrets() async throws {
        let directory = try TemporaryDirectory()
        let (child, _) = try await startServe(directory, environment: [
            "LOG_LEVEL": "info", "TANDEM_API_KEYS": "supersecretkey1,zzzotherkey2",
            "TANDEM_PROVIDER": "openai", "OPENAI_BASE_URL": "http://operator:hunter2pass@127.0.0.1:9",
            "OPENAI_FLASH_MODEL": "small", "OPENAI_PRO_MODEL": "large", "OPENAI_API_KEY": "sk-verysecretvalue",
        ])
        // Start-up is over once it answers; then stop it and read everything it printed.
        child.send(SIGTERM)
        let (_, stderr) = child.wait()
        var all = stderr
        while let line = child.readLine() { all += line + "\n" }
        #expect(all.contains("2 configured"), "\(all)")
        for secret in ["sup***", "zzz***", "sk-***", "supersecret", "hunter2pass", "operator:", "sk-verysecret"] {
            #expect(!all.contains(secret), "start-up printed \(secret)")
        }
    }
}
