import ArgumentParser
import AsyncHTTPClient
import Foundation
import NIOCore
import NIOHTTP1
import NIOPosix
import TandemJournal

/// `tandem-bench serve`: runs/s and added latency of `tandem serve` (scripted models, sync
/// durability) at several client concurrencies, then 10,000 open streams and the server's peak RSS.
/// The server runs as its own process; this process is the load generator.
struct ServeBench: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "serve", abstract: "HTTP server benchmark.")

    @Option(help: "The tandem executable.") var tandem = ".build/release/tandem"
    @Option(help: "Seconds per load level.") var seconds: Double = 4
    @Option(parsing: .upToNextOption, help: "Concurrent clients.") var clients: [Int] = [1, 16, 64, 256]
    @Option(help: "Open streams for the memory measurement (0 skips it).") var openStreams = 10_000
    @Option(help: "Port for the server under test.") var port = 18_181
    @Flag(help: "Only measure the open streams.") var streamsOnly = false

    /// The load generator's one event-loop thread.
    private static let loadGroup = MultiThreadedEventLoopGroup(numberOfThreads: 1)
    private var loadGroup: any EventLoopGroup { Self.loadGroup }

    func validate() throws {
        guard seconds > 0, clients.allSatisfy({ $0 > 0 }), openStreams >= 0 else {
            throw ValidationError("--seconds must be positive, each of --clients at least 1, --open-streams not negative")
        }
    }

    func run() async throws {
        try await HTTPClient.withLoadClient(connections: max(openStreams, clients.max() ?? 1) + 64, readTimeout: .seconds(120)) {
            try await measure($0)
        }
    }

    private func measure(_ client: HTTPClient) async throws {

        print("# tandem serve benchmark (scripted provider, sync durability, loopback, load generator in a second process)")
        print("model latency (flash/pro) | clients | runs/s | p50 added ms | p99 added ms | server CPU µs/run | load generator CPU µs/run")
        print("------------------------- | ------- | ------ | ------------ | ------------ | ----------------- | -------------------------")
        for (flash, pro) in streamsOnly ? [] : [(0, 0), (20, 50)] {
            let server = try ServerProcess.start(tandem, port: port, environment: [
                "TANDEM_SCRIPTED_FLASH_MS": "\(flash)", "TANDEM_SCRIPTED_PRO_MS": "\(pro)",
                "TANDEM_MAX_CONCURRENT_RUNS": "100000",
            ])
            defer { server.stop() }
            try await server.waitUntilHealthy(client)
            for concurrency in clients {
                let serverCPU = server.cpuSeconds()
                let ownCPU = Statistics.processCPUSeconds()
                let result = try await load(concurrency: concurrency, modelLatencyMs: Double(pro))
                let perRun = { (seconds: Double) in Statistics.format(seconds / Double(result.runs) * 1e6) }
                print("\(flash) ms / \(pro) ms | \(concurrency) | \(Statistics.format(result.runsPerSecond)) | "
                    + "\(Statistics.format(result.p50, 2)) | \(Statistics.format(result.p99, 2)) | "
                    + "\(perRun(server.cpuSeconds() - serverCPU)) | \(perRun(Statistics.processCPUSeconds() - ownCPU))")
            }
        }
        print("(added = client-observed time to `done` minus the Pro model's simulated latency)")
        guard openStreams > 0 else { return }

        let server = try ServerProcess.start(tandem, port: port, environment: [
            "TANDEM_SCRIPTED_FLASH_MS": "0", "TANDEM_SCRIPTED_PRO_MS": "60000", "PRO_TIMEOUT_S": "120",
            "TANDEM_MAX_CONCURRENT_RUNS": "\(openStreams + 100)", "TANDEM_SHUTDOWN_GRACE_S": "1",
        ])
        defer { server.stop() }
        try await server.waitUntilHealthy(client)
        let baseline = server.peakRSSBytes()
        let (opened, failed, firstFailure) = try await OpenStreams(port: port, body: #"{"query":"How far is the moon?","context":{"bench":true}}"#, marker: "event: preliminary\n")
            .hold(client, streams: openStreams)
        let peak = server.peakRSSBytes()
        print("")
        print("# \(opened) concurrently open streams (Pro latency 60 s; \(failed) failed to open\(firstFailure.map { ", the first: \($0)" } ?? ""))")
        print("server peak RSS: \(peak / 1_048_576) MiB (idle before: \(baseline / 1_048_576) MiB; target <= 1024 MiB)")
    }

    private struct LoadResult {
        /// Runs sent, the warm-up's too (what the CPU time was spent on).
        var runs: Int
        var runsPerSecond: Double
        var p50: Double
        var p99: Double
    }

    private func load(concurrency: Int, modelLatencyMs: Double) async throws -> LoadResult {
        let generator = StreamingLoadGenerator(port: port, group: loadGroup)
        let outcome = try await generator.run(
            clients: concurrency, body: #"{"query":"How far is the moon?","context":{"bench":true}}"#,
            stagger: .milliseconds(Int64(modelLatencyMs)), warmUp: .milliseconds(250),
            until: .now() + .milliseconds(Int64(seconds * 1000))
        )
        let latencies = outcome.latencies.map { $0 - modelLatencyMs }
        return LoadResult(
            runs: outcome.allRuns, runsPerSecond: Double(latencies.count) / outcome.measuredSeconds,
            p50: Statistics.percentile(latencies, 50), p99: Statistics.percentile(latencies, 99)
        )
    }
}

/// `tandem serve` as a child process in a temp data dir.
final class ServerProcess {
    let process = Process()
    let directory: String
    let port: Int

    private init(port: Int, directory: String) {
        self.port = port
        self.directory = directory
    }

    /// Starts `executable serve` (or `executable` with `arguments` when given), on `cores` only (a
    /// `taskset` list) when given.
    static func start(
        _ executable: String, port: Int, dataDirectory: String? = nil, cores: String? = nil, arguments givenArguments: [String]? = nil,
        environment: [String: String]
    ) throws -> ServerProcess {
        let server = ServerProcess(port: port, directory: dataDirectory ?? Statistics.temporaryDirectory("serve"))
        let arguments = givenArguments ?? ["serve", "--port", "\(port)", "--data-dir", server.directory]
        if let cores {
            // taskset execs the server: the child's pid is the server's.
            server.process.executableURL = URL(fileURLWithPath: "/usr/bin/taskset")
            server.process.arguments = ["-c", cores, executable] + arguments
        } else {
            server.process.executableURL = URL(fileURLWithPath: executable)
            server.process.arguments = arguments
        }
        var env = ProcessInfo.processInfo.environment
        env["LOG_LEVEL"] = "error"
        env.removeValue(forKey: "GEMINI_API_KEY")
        for (key, value) in environment { env[key] = value }
        server.process.environment = env
        server.process.standardOutput = FileHandle.nullDevice
        try server.process.run()
        return server
    }

    func waitUntilHealthy(_ client: HTTPClient, timeout: Duration = .seconds(10)) async throws {
        let deadline = ContinuousClock.now + timeout
        while ContinuousClock.now < deadline {
            if let response = try? await client.execute(HTTPClientRequest(url: "http://127.0.0.1:\(port)/health"), timeout: .seconds(1)),
                response.status == .ok
            {
                return
            }
            try await Task.sleep(for: .milliseconds(50))
        }
        throw ValidationError("tandem serve did not become healthy")
    }

    /// CPU time (user + system) the server process has used, in seconds.
    func cpuSeconds() -> Double {
        CPUPlacement.cpuSeconds(of: process.processIdentifier)
    }

    /// VmHWM of the server process.
    func peakRSSBytes() -> Int {
        guard let status = try? String(contentsOfFile: "/proc/\(process.processIdentifier)/status", encoding: .utf8) else { return 0 }
        for line in status.split(separator: "\n") where line.hasPrefix("VmHWM:") {
            let kilobytes = line.split(separator: " ").dropFirst().first.flatMap { Int($0) } ?? 0
            return kilobytes * 1024
        }
        return 0
    }

    func stop() {
        process.interrupt()
        process.waitUntilExit()
        try? FileManager.default.removeItem(atPath: directory)
    }
}
