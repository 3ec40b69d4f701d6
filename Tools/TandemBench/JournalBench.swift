import ArgumentParser
import CLMDBBaseline
import Crypto
import Foundation
import Logging
import TandemDomain
import TandemJournal

/// `tandem-bench journal`: durable append throughput and latency at several concurrencies next to a
/// raw-LMDB baseline in C with the same bytes and batch sizes, then replay+verify speed.
struct JournalBench: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "journal", abstract: "Journal append and replay benchmark.")

    @Option(help: "Seconds of appending per concurrency level.") var seconds: Double = 3
    @Option(parsing: .upToNextOption, help: "Concurrent appenders.") var concurrency: [Int] = [1, 16, 64, 256]
    @Option(help: "Rounds per level (tandem and raw LMDB alternate; medians are reported).") var rounds: Int = 3
    @Option(help: "Entries for the replay+verify measurement.") var replayEvents: Int = 1_000_000

    func validate() throws {
        guard seconds > 0, concurrency.allSatisfy({ $0 > 0 }), replayEvents > 0, rounds > 0 else {
            throw ValidationError("--seconds must be positive, each of --concurrency, --rounds and --replay-events at least 1")
        }
    }

    func run() async throws {
        let logger = Logger(label: "bench")
        // A mid-run event (most of a run's events neither open nor close it), ~300 bytes as a line.
        let event = DomainEvent.modelFailed(.pro, ModelFailed(
            errorClass: "upstream_http_5xx", message: String(repeating: "m", count: 120), httpStatus: 503, retryable: true
        ))
        let entry = try event.pendingEntry(for: RunID("bench-run-0123456789abcdef0123456789ab")!)
        let data = try event.encodedData()

        print("# tandem journal benchmark (sync durability, ~300-byte events); tandem and raw LMDB alternate, \(rounds) rounds per level, medians")
        print("appenders | tandem ev/s | p50 ms | p99 ms | batch | raw LMDB ev/s | raw p50 ms | raw p99 ms | tandem/raw | tandem/raw by round | CPU µs/event tandem | raw")
        print("--------- | ----------- | ------ | ------ | ----- | ------------- | ---------- | ---------- | ---------- | ------------------- | ------------------- | ---")
        var sampleLine: [UInt8] = []
        for appenders in concurrency {
            var samples: [AppendRound] = []
            for _ in 0..<rounds {
                samples.append(try await appendRound(appenders: appenders, entry: entry, event: event, data: data, sampleLine: &sampleLine, logger: logger))
            }
            func median(_ value: (AppendRound) -> Double) -> Double { Statistics.percentile(samples.map(value), 50) }
            let ratios = samples.map { $0.tandemRate / $0.rawRate }
            print([
                "\(appenders)", Statistics.format(median(\.tandemRate)),
                Statistics.format(median(\.tandemP50) * 1000, 2), Statistics.format(median(\.tandemP99) * 1000, 2),
                Statistics.format(median { Double($0.batch) }), Statistics.format(median(\.rawRate)),
                Statistics.format(median(\.rawP50) * 1000, 2), Statistics.format(median(\.rawP99) * 1000, 2),
                Statistics.format(Statistics.percentile(ratios, 50), 2), ratios.map { Statistics.format($0, 2) }.joined(separator: ", "),
                Statistics.format(median { $0.tandemCPUPerEvent * 1e6 }, 1), Statistics.format(median { $0.rawCPUPerEvent * 1e6 }, 1),
            ].joined(separator: " | "))
        }
        print("(latency = caller-observed time from append() to durable acknowledgement; raw = per-commit time; CPU = this process's, all threads)")

        try await replay(entry: entry, logger: logger)
    }

    /// One round at one level: tandem's appenders for `seconds`, then the raw baseline with the same
    /// number of events, bytes and batch size.
    private struct AppendRound {
        var tandemRate: Double
        var tandemP50: Double
        var tandemP99: Double
        var batch: Int
        var rawRate: Double
        var rawP50: Double
        var rawP99: Double
        /// Process CPU time per event (all threads: appenders, writer, kernel time of the commits).
        var tandemCPUPerEvent: Double
        var rawCPUPerEvent: Double
    }

    private func appendRound(
        appenders: Int, entry: PendingEntry, event: DomainEvent, data: [UInt8], sampleLine: inout [UInt8], logger: Logger
    ) async throws -> AppendRound {
        let directory = Statistics.temporaryDirectory("append-\(appenders)")
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let journal = try Journal(JournalConfiguration(directory: directory), logger: logger)
        let deadline = ContinuousClock.now + .milliseconds(Int(seconds * 1000))
        let started = ContinuousClock.now
        let startCPU = Statistics.processCPUSeconds()
        let latencies: [Double] = try await withThrowingTaskGroup(of: [Double].self) { group in
            for index in 0..<appenders {
                group.addTask {
                    var latencies: [Double] = []
                    // Like real traffic, each appender writes a run of 10 events, then starts the next run.
                    var runEntry = entry
                    while ContinuousClock.now < deadline {
                        if latencies.count % 10 == 0 {
                            let run = RunID("bench-\(index)-\(latencies.count / 10)-0123456789abcdef0123")!
                            runEntry = try PendingEntry(runID: run, type: event.type, data: data)
                        }
                        let t0 = ContinuousClock.now
                        _ = try await journal.append(runEntry)
                        latencies.append(t0.duration(to: .now).seconds)
                    }
                    return latencies
                }
            }
            return try await group.reduce(into: []) { $0 += $1 }
        }
        let elapsed = started.duration(to: .now).seconds
        let tandemCPU = Statistics.processCPUSeconds() - startCPU
        let totals = journal.commitTotals
        let events = latencies.count
        let batch = max(1, Int((Double(totals.entries) / Double(max(totals.commits, 1))).rounded()))
        if sampleLine.isEmpty { sampleLine = try journal.entry(1)!.line }
        journal.close()

        let baseDirectory = Statistics.temporaryDirectory("raw-\(appenders)")
        defer { try? FileManager.default.removeItem(atPath: baseDirectory) }
        var commitSeconds = [Double](repeating: 0, count: events / batch + 2)
        let rawStartCPU = Statistics.processCPUSeconds()
        let rawElapsed = sampleLine.withUnsafeBufferPointer { line in
            tandem_baseline_append(baseDirectory, line.baseAddress, line.count, events, Int32(batch), 0, &commitSeconds)
        }
        guard rawElapsed > 0 else { throw ValidationError("raw LMDB baseline failed: \(rawElapsed)") }
        let rawCPU = Statistics.processCPUSeconds() - rawStartCPU
        let rawCommits = Array(commitSeconds.prefix((events + batch - 1) / batch))
        return AppendRound(
            tandemRate: Double(events) / elapsed,
            tandemP50: Statistics.percentile(latencies, 50), tandemP99: Statistics.percentile(latencies, 99),
            batch: batch, rawRate: Double(events) / rawElapsed,
            rawP50: Statistics.percentile(rawCommits, 50), rawP99: Statistics.percentile(rawCommits, 99),
            tandemCPUPerEvent: tandemCPU / Double(max(events, 1)), rawCPUPerEvent: rawCPU / Double(max(events, 1))
        )
    }

    private func replay(entry: PendingEntry, logger: Logger) async throws {
        let directory = Statistics.temporaryDirectory("replay")
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let journal = try Journal(JournalConfiguration(directory: directory, durability: .async), logger: logger)
        let chunk = [PendingEntry](repeating: entry, count: 1_000)
        var written = 0
        while written < replayEvents {
            _ = try await journal.append(Array(chunk.prefix(replayEvents - written)))
            written += min(1_000, replayEvents - written)
        }
        journal.close()
        let reader = try Journal(JournalConfiguration(directory: directory, readOnly: true), logger: logger)

        var bytes = 0
        let scanStart = ContinuousClock.now
        try reader.scan(from: 1) { _, line in
            bytes += line.count
            return true
        }
        let scanSeconds = scanStart.duration(to: .now).seconds

        // Verify and hashing alone alternate, five rounds each: this VM's speed moves by ±25 % within
        // minutes, so each round's ratio compares two measurements taken seconds apart.
        let cores = ProcessInfo.processInfo.activeProcessorCount
        let lineBytes = bytes / replayEvents
        var verifyRates: [Double] = []
        var shaRates: [Double] = []
        var ratios: [Double] = []
        for _ in 0..<5 {
            let verifyStart = ContinuousClock.now
            let report = try reader.verify()
            let verifySeconds = verifyStart.duration(to: .now).seconds
            guard report.isValid, report.entriesChecked == UInt64(replayEvents) else {
                throw ValidationError("verify failed: \(String(describing: report.problem))")
            }
            let shaRate = Self.sha256EntriesPerSecond(lineBytes: lineBytes, threads: cores)
            verifyRates.append(Double(replayEvents) / verifySeconds)
            shaRates.append(shaRate)
            ratios.append(verifyRates.last! / shaRate)
        }
        print("")
        print("# replay over \(replayEvents) entries (\(lineBytes) bytes/line average); verify and SHA-256 alone alternate, 5 rounds, medians")
        print("raw scan        : \(Statistics.format(Double(replayEvents) / scanSeconds)) entries/s")
        print("replay + verify : \(Statistics.format(Statistics.percentile(verifyRates, 50))) entries/s (target >= 1,000,000)")
        print("SHA-256 alone   : \(Statistics.format(Statistics.percentile(shaRates, 50))) entries/s of that size on \(cores) cores (swift-crypto, what verify's hashing allows)")
        print("replay + verify / SHA-256 alone: \(Statistics.format(Statistics.percentile(ratios, 50), 2)) (target >= 0.5; rounds: \(ratios.map { Statistics.format($0, 2) }.joined(separator: ", ")))")
    }

    /// How many lines of `lineBytes` SHA-256 hashes per second on `threads` threads at once (a
    /// quarter of a second of hashing or so; the library verify uses).
    private static func sha256EntriesPerSecond(lineBytes: Int, threads: Int) -> Double {
        let line = [UInt8](repeating: UInt8(ascii: "x"), count: max(lineBytes, 1))
        let perThread = 500_000
        let start = ContinuousClock.now
        DispatchQueue.concurrentPerform(iterations: threads) { _ in
            var sink: UInt8 = 0
            for _ in 0..<perThread {
                let digest = SHA256.hash(data: line)
                digest.withUnsafeBytes { sink ^= $0[0] }
            }
            if sink == 1 { FileHandle.nullDevice.write(Data([sink])) }
        }
        return Double(perThread * threads) / start.duration(to: .now).seconds
    }
}
