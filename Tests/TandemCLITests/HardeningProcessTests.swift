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
    private func startServe(_ directory: TemporaryDirectory, environment: [String: String] = [:]) async throws -> (RunningTandem, Int) {
        try await ServeProcessTests.startServe(directory, environment: environment)
    }

    @Test("A second serve on the same data dir exits non-zero at once, naming the first one's pid")
    func secondServeIsRefused() async throws {
        let directory = try TemporaryDirectory()
        let (first, _) = try await startServe(directory)
        defer { first.send(SIGKILL) }
        let second = try await TandemExecutable.run(
            ["serve", "--port", "0", "--data-dir", directory.path], environment: ["LOG_LEVEL": "error", "GEMINI_API_KEY": ""]
        )
        #expect(second.status != 0)
        #expect(second.stderr.contains("in use by process \(first.pid)"), "\(second.stderr)")
        // The first one is untouched: still serving.
        first.send(SIGTERM)
        #expect(await first.exited().status == .exited(0))
    }

    @Test("SIGTERM while a request is stuck: serve still exits within grace + hard limit")
    func shutdownIsBounded() async throws {
        let directory = try TemporaryDirectory()
        let (child, port) = try await startServe(directory, environment: [
            "TANDEM_SHUTDOWN_GRACE_S": "0.5", "TANDEM_SHUTDOWN_HARD_LIMIT_S": "1", "TANDEM_REQUEST_BODY_TIMEOUT_S": "600",
        ])
        defer { child.send(SIGKILL) }
        // A request whose body never finishes keeps its handler busy, and a graceful shutdown
        // waits for every handler.
        let client = try StalledClient(port: port)
        try client.send("POST /api/reasoning/query HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{")
        let follower = try StalledClient(port: port)
        try follower.send("GET /api/runs/none/stream HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
        _ = await follower.receive(until: "\r\n\r\n")
        child.send(SIGTERM)
        // Without the bound the child never exits and the suite's time limit fails the test.
        #expect(await child.exited().status == .exited(0))
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
        let (_, stderr) = await child.exited()
        var all = stderr
        while let line = await child.nextLine() { all += line + "\n" }
        #expect(all.contains("2 configured"), "\(all)")
        for secret in ["sup***", "zzz***", "sk-***", "supersecret", "hunter2pass", "operator:", "sk-verysecret"] {
            #expect(!all.contains(secret), "start-up printed \(secret)")
        }
    }
}
