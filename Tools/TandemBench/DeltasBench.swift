import ArgumentParser
import AsyncHTTPClient
import Foundation
import NIOCore
import NIOPosix

/// `tandem-bench deltas`: the same streaming load in `answers` and in `deltas` mode, alternating
/// (SPEC §10's benchmark): scripted Flash in 20 pieces over 300 ms and Pro in 100 over 2 s, a 50 ms
/// delta window, sync durability. Each round runs a fresh server, so the server's own
/// commit-to-frame histogram (`/metrics`) covers that round alone.
struct DeltasBench: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "deltas", abstract: "Answers vs deltas streaming benchmark.")

    @Option(help: "The tandem executable.") var tandem = ".build/release/tandem"
    @Option(help: "Seconds per round.") var seconds: Double = 8
    @Option(parsing: .upToNextOption, help: "Concurrent clients.") var clients: [Int] = [64, 256]
    @Option(help: "Rounds per mode and concurrency (answers and deltas alternate).") var rounds = 2
    @Option(help: "Port for the server under test.") var port = 18_182
    @Option(help: "Flash latency in ms.") var flashMs = 300
    @Option(help: "Pro latency in ms.") var proMs = 2_000
    @Option(help: "Flash pieces.") var flashPieces = 20
    @Option(help: "Pro pieces.") var proPieces = 100
    @Option(help: "TANDEM_DELTA_WINDOW_MS.") var windowMs = 50
    @Option(help: "Deltas streams held open at once for the memory measurement (0 skips it).") var openStreams = 2_000

    private static let loadGroup = MultiThreadedEventLoopGroup(numberOfThreads: 1)

    func validate() throws {
        guard seconds > 0, rounds > 0, clients.allSatisfy({ $0 > 0 }), openStreams >= 0 else {
            throw ValidationError("--seconds and --rounds must be positive, each of --clients at least 1, --open-streams not negative")
        }
    }

    func run() async throws {
        try await HTTPClient.withLoadClient(connections: max(openStreams, clients.max() ?? 1) + 64) { try await measure($0) }
    }

    private func measure(_ client: HTTPClient) async throws {
        print("# answers vs deltas (scripted Flash \(flashPieces) pieces / \(flashMs) ms, Pro \(proPieces) pieces / \(proMs) ms, window \(windowMs) ms, sync durability)")
        print("mode | clients | runs/s | entries/s | commits/s | server CPU µs/run | server CPU µs/delta | commit→frame p50 ms | p99 ms")
        print("---- | ------- | ------ | --------- | --------- | ----------------- | ------------------- | ------------------- | ------")
        for concurrency in clients {
            var answersEntriesPerRun: Double?
            for round in 0..<(2 * rounds) {
                let deltas = round % 2 == 1
                let server = try ServerProcess.start(tandem, port: port, environment: [
                    "TANDEM_SCRIPTED_FLASH_MS": "\(flashMs)", "TANDEM_SCRIPTED_PRO_MS": "\(proMs)",
                    "TANDEM_SCRIPTED_FLASH_PIECES": "\(flashPieces)", "TANDEM_SCRIPTED_PRO_PIECES": "\(proPieces)",
                    "TANDEM_DELTA_WINDOW_MS": "\(windowMs)", "TANDEM_MAX_CONCURRENT_RUNS": "100000", "TANDEM_DURABILITY": "sync",
                ])
                defer { server.stop() }
                try await server.waitUntilHealthy(client)
                let before = try await gauges(client)
                let cpuBefore = server.cpuSeconds()
                let generator = StreamingLoadGenerator(port: port, group: Self.loadGroup)
                let body = #"{"query":"How far is the moon?","stream":"\#(deltas ? "deltas" : "answers")"}"#
                let outcome = try await generator.run(
                    clients: concurrency, body: body, stagger: .milliseconds(Int64(proMs)), warmUp: .milliseconds(250),
                    until: .now() + .milliseconds(Int64(seconds * 1000))
                )
                let cpu = server.cpuSeconds() - cpuBefore
                let after = try await gauges(client)
                let entries = (after["tandem_journal_committed_entries"] ?? 0) - (before["tandem_journal_committed_entries"] ?? 0)
                let commits = (after["tandem_journal_commits"] ?? 0) - (before["tandem_journal_commits"] ?? 0)
                let runs = Double(max(outcome.allRuns, 1))
                let elapsed = outcome.measuredSeconds + 0.25
                var perDelta = "-"
                if deltas, let baseline = answersEntriesPerRun {
                    // Deltas = entries beyond what the same runs journal in answers mode.
                    let deltaCount = entries - baseline * runs
                    if deltaCount > 0 { perDelta = Statistics.format(cpu / deltaCount * 1e6) }
                } else if !deltas {
                    answersEntriesPerRun = entries / runs
                }
                print("\(deltas ? "deltas" : "answers") | \(concurrency) | \(Statistics.format(Double(outcome.latencies.count) / outcome.measuredSeconds)) | "
                    + "\(Statistics.format(entries / elapsed)) | \(Statistics.format(commits / elapsed)) | \(Statistics.format(cpu / runs * 1e6)) | "
                    + "\(perDelta) | \(Statistics.format((after["tandem_commit_to_frame_p50_seconds"] ?? 0) * 1_000, 3)) | "
                    + "\(Statistics.format((after["tandem_commit_to_frame_p99_seconds"] ?? 0) * 1_000, 3))")
            }
        }
        print("(entries/s and commits/s over the round including its warm-up; µs/delta = round CPU / deltas journaled, deltas counted as entries beyond the answers round's per-run count)")
        guard openStreams > 0 else { return }

        // Streams that stay open and keep streaming: Pro sends a piece every 100 ms for a minute,
        // so each stream has deltas in flight while the memory is read.
        let server = try ServerProcess.start(tandem, port: port, environment: [
            "TANDEM_SCRIPTED_FLASH_MS": "\(flashMs)", "TANDEM_SCRIPTED_FLASH_PIECES": "\(flashPieces)",
            "TANDEM_SCRIPTED_PRO_MS": "60000", "TANDEM_SCRIPTED_PRO_PIECES": "600", "PRO_TIMEOUT_S": "120",
            "TANDEM_DELTA_WINDOW_MS": "\(windowMs)", "TANDEM_MAX_CONCURRENT_RUNS": "\(openStreams + 100)", "TANDEM_SHUTDOWN_GRACE_S": "1",
        ])
        defer { server.stop() }
        try await server.waitUntilHealthy(client)
        let baseline = server.peakRSSBytes()
        let streams = OpenStreams(port: port, body: #"{"query":"How far is the moon?","stream":"deltas"}"#, marker: "event: delta\n")
        let (opened, failed, firstFailure) = try await streams.hold(client, streams: openStreams)
        let peak = server.peakRSSBytes()
        print("")
        print("# \(opened) concurrently open deltas streams (Pro 600 pieces over 60 s; \(failed) failed to open\(firstFailure.map { ", the first: \($0)" } ?? ""))")
        print("server peak RSS: \(peak / 1_048_576) MiB (idle before: \(baseline / 1_048_576) MiB)")
    }

    /// The live gauges of the server's `/metrics` (unlabelled samples only).
    private func gauges(_ client: HTTPClient) async throws -> [String: Double] {
        let response = try await client.execute(HTTPClientRequest(url: "http://127.0.0.1:\(port)/metrics"), timeout: .seconds(30))
        let text = String(buffer: try await response.body.collect(upTo: 16 << 20))
        var values: [String: Double] = [:]
        for line in text.split(separator: "\n") where !line.hasPrefix("#") && !line.contains("{") {
            let parts = line.split(separator: " ")
            if parts.count == 2, let value = Double(parts[1]) { values[String(parts[0])] = value }
        }
        return values
    }
}
