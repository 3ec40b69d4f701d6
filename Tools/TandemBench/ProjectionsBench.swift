import ArgumentParser
import AsyncHTTPClient
import Foundation
#if canImport(Glibc)
import Glibc
#endif
import Logging
import NIOCore
import NIOHTTP1
import TandemDomain
import TandemJournal
import TandemProjections

/// `tandem-bench projections`: rebuild throughput over a journal of realistic runs next to the
/// journal's raw replay+verify speed (same run, same journal), and record lookup latency over HTTP.
struct ProjectionsBench: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "projections", abstract: "Projection rebuild and lookup benchmark.")

    @Option(help: "Journal entries to rebuild from.") var events = 1_000_000
    @Option(help: "Rounds of replay+verify and rebuild (medians are reported).") var rounds = 5
    @Option(help: "Runs to look up over HTTP.") var lookupRuns = 100_000
    @Option(help: "Lookups to time.") var lookups = 20_000
    @Option(help: "The tandem executable.") var tandem = ".build/release/tandem"
    @Option(help: "Port for the server under test.") var port = 18_282

    func validate() throws {
        guard events > 0, rounds > 0, lookupRuns > 0, lookups > 0 else {
            throw ValidationError("--events, --rounds, --lookup-runs and --lookups must be at least 1")
        }
    }

    func run() async throws {
        let logger = Logger(label: "bench")
        let directory = Statistics.temporaryDirectory("projections")
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let journal = try Journal(JournalConfiguration(directory: directory, durability: .async), logger: logger)
        let run = try await ProjectionWorkload.fill(journal, events: events)
        journal.close()
        // Let the kernel write the journal back now, not while the timed phases run.
        Glibc.sync()
        let reader = try Journal(JournalConfiguration(directory: directory, readOnly: true), logger: logger)
        let total = try reader.head().seq

        // Replay+verify and rebuild alternate `rounds` times; medians are reported, so that a
        // slow phase of a shared machine does not decide the figure (each round is printed).
        let location = ProjectionLocation(dataDirectory: directory)
        var verifyRates: [Double] = []
        var rebuildRates: [Double] = []
        print("# projections benchmark")
        print("journal: \(total) entries, \(run) runs (answers 0.3-4 KB)")
        for round in 1...rounds {
            let verifyStart = ContinuousClock.now
            let verifyCPUStart = Statistics.processCPUSeconds()
            let report = try reader.verify()
            let verifySeconds = verifyStart.duration(to: .now).seconds
            let verifyCPU = Statistics.processCPUSeconds() - verifyCPUStart
            guard report.isValid else { throw ValidationError("journal does not verify") }

            let name = "bench-\(round)"
            let rebuildCPUStart = Statistics.processCPUSeconds()
            let outcome = try ProjectionRebuild.rebuild(journal: reader, location: location, name: name)
            let rebuildCPU = Statistics.processCPUSeconds() - rebuildCPUStart
            try? FileManager.default.removeItem(atPath: location.path(of: name))
            verifyRates.append(Double(total) / verifySeconds)
            rebuildRates.append(Double(outcome.events) / outcome.seconds)
            print("round \(round): replay+verify \(Statistics.format(verifyRates.last!)) entries/s (\(Statistics.format(Double(total) / verifyCPU)) per CPU-second), "
                + "rebuild \(Statistics.format(rebuildRates.last!)) events/s (\(Statistics.format(Double(outcome.events) / rebuildCPU)) per CPU-second)")
        }
        let verifyRate = Statistics.percentile(verifyRates, 50)
        let rebuildRate = Statistics.percentile(rebuildRates, 50)
        print("journal replay + verify : \(Statistics.format(verifyRate)) entries/s (median of \(rounds))")
        print("projection rebuild      : \(Statistics.format(rebuildRate)) events/s (median of \(rounds); target >= 500,000)")
        print("rebuild / replay+verify : \(Statistics.format(rebuildRate / verifyRate, 2))")
        try await lookupBenchmark(logger: logger)
    }

    /// Serves a data dir holding `lookupRuns` runs and times `GET /api/runs/{id}` from one client.
    private func lookupBenchmark(logger: Logger) async throws {
        let directory = Statistics.temporaryDirectory("lookup")
        defer { try? FileManager.default.removeItem(atPath: directory) }
        do {
            let journal = try Journal(JournalConfiguration(directory: directory, durability: .async), logger: logger)
            var batch: [PendingEntry] = []
            for run in 0..<lookupRuns {
                for event in ProjectionWorkload.events(forRun: run, contentBytes: 300) {
                    batch.append(try event.pendingEntry(for: RunID("lookup-\(run)")!))
                }
                if batch.count >= 4_096 {
                    _ = try await journal.append(batch)
                    batch.removeAll()
                }
            }
            _ = try await journal.append(batch)
            journal.close()
        }
        let server = try ServerProcess.start(tandem, port: port, dataDirectory: directory, environment: [:])
        defer { server.stop() }
        try await server.waitUntilHealthy(HTTPClient.shared, timeout: .seconds(120))
        var latencies: [Double] = []
        var state: UInt64 = 42
        for _ in 0..<lookups {
            state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
            let run = Int(state >> 33) % lookupRuns
            let t0 = ContinuousClock.now
            let response = try await HTTPClient.shared.execute(HTTPClientRequest(url: "http://127.0.0.1:\(port)/api/runs/lookup-\(run)"), timeout: .seconds(10))
            _ = try await response.body.collect(upTo: 1 << 20)
            latencies.append(t0.duration(to: .now).seconds * 1000)
            guard response.status == .ok else { throw ValidationError("lookup answered \(response.status)") }
        }
        print("GET /api/runs/{id} over HTTP at \(lookupRuns) runs: p50 \(Statistics.format(Statistics.percentile(latencies, 50), 3)) ms, "
            + "p99 \(Statistics.format(Statistics.percentile(latencies, 99), 3)) ms (target p99 <= 1 ms; \(lookups) lookups, keep-alive client)")
    }
}

/// The event sequences of realistic runs (the same mix as the test suite's workload).
enum ProjectionWorkload {
    /// Appends about `events` entries of realistic runs (~10 events each, answers of 0.3-4 KB)
    /// and returns how many runs they make.
    static func fill(_ journal: Journal, events: Int) async throws -> Int {
        var written = 0
        var run = 0
        while written < events {
            var batch: [PendingEntry] = []
            while batch.count < 4_096, written + batch.count < events {
                let content = 300 + (run * 7_919) % 3_700
                for event in Self.events(forRun: run, contentBytes: content) {
                    batch.append(try event.pendingEntry(for: RunID("r\(run)-\(String(run, radix: 16))")!))
                }
                run += 1
            }
            _ = try await journal.append(batch)
            written += batch.count
        }
        return run
    }

    static func events(forRun index: Int, contentBytes: Int) -> [DomainEvent] {
        let content = String(repeating: "x", count: contentBytes)
        func completed(_ role: ModelRole, _ latency: Double) -> DomainEvent {
            .modelCompleted(role, ModelCompleted(
                model: "\(role.rawValue)-001", content: content, usage: TokenUsage(inputTokens: 10, outputTokens: contentBytes / 4),
                latencyMs: latency, ttftMs: latency / 4, finishReason: "STOP", providerRequestID: "req-\(index)"
            ))
        }
        var events: [DomainEvent] = [
            .runStarted(RunStarted(
                query: "question \(index)", context: .object(["user_id": .string("u\(index % 97)")]), client: ClientInfo(ip: "10.0.0.1"),
                config: RunConfig(flashModel: "gemini-2.5-flash", proModel: "gemini-2.5-pro", flashTimeoutS: 5, proTimeoutS: 45,
                                  provider: "scripted", redaction: "default-v1", onFlashFailure: "continue"),
                requestDigest: String(repeating: "0", count: 64)
            )),
            .modelStarted(.flash, ModelStarted(model: "gemini-2.5-flash", attempt: 1)),
            .modelStarted(.pro, ModelStarted(model: "gemini-2.5-pro", attempt: 1)),
            .firstToken(.flash, FirstToken(afterMs: Double(50 + index % 100))),
        ]
        if index % 10 == 9 {
            events += [completed(.flash, Double(200 + index % 300)),
                       .modelTimeout(.pro, ModelTimeout(timeoutS: 45, phase: .total, elapsedMs: 45_000)),
                       .done(RunDone(status: .partial, durationMs: 45_000))]
        } else {
            events += [completed(.flash, Double(200 + index % 300)), .firstToken(.pro, FirstToken(afterMs: Double(300 + index % 500))),
                       completed(.pro, Double(1_000 + index % 4_000)), .done(RunDone(status: .ok, durationMs: Double(1_000 + index % 4_000)))]
        }
        return events
    }
}
