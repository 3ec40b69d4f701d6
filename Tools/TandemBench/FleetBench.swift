import ArgumentParser
import AsyncHTTPClient
import Foundation
#if canImport(Glibc)
import Glibc
#endif
import Logging
import NIOCore
import NIOPosix
import TandemDomain
import TandemFleet
import TandemJournal

/// `tandem-bench fleet`: shipping throughput of a large journal into PostgreSQL next to a raw
/// baseline in the same run (`psql \copy` of the very same rows into a table of the same shape),
/// then `serve`'s runs/s with and without shipping at 64 clients and the lag it keeps meanwhile.
struct FleetBench: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "fleet", abstract: "Fleet store shipping benchmark (needs a PostgreSQL URL).")

    @Option(help: "The fleet store (a database this benchmark may fill).") var url: String
    @Option(help: "Journal entries to ship.") var events = 1_000_000
    @Option(help: "Entries per ship transaction.") var batch = 2_000
    @Option(help: "Rounds of (shipping, raw copy), alternating; medians are reported.") var rounds = 3
    @Option(help: "Rounds of (without, with shipping) windows per core layout, alternating; medians are reported (one window's runs/s varies by a quarter on these VMs).") var loadRounds = 6
    @Option(help: "The tandem executable (for the load phase).") var tandem = ".build/release/tandem"
    @Option(help: "Seconds of load per mode (0 skips the load phase).") var seconds: Double = 6
    @Option(help: "Concurrent clients in the load phase.") var clients = 64
    @Option(help: "Port for the server under test.") var port = 18_383
    @Option(help: "Core layouts of the load phase, in order (shared, separate, paired).") var layouts: [CoreLayout] = CoreLayout.allCases

    func validate() throws {
        guard events > 0, batch > 0, rounds > 0, loadRounds > 0, seconds >= 0, clients > 0 else {
            throw ValidationError("--events, --batch, --rounds, --load-rounds and --clients must be at least 1, --seconds not negative")
        }
    }

    func run() async throws {
        var logger = Logger(label: "bench")
        logger.logLevel = .warning
        try await FleetStore.with(try FleetEndpoint(url), logger: logger) { store in
            try await throughput(store, logger: logger)
        }
        if seconds > 0 { try await underLoad() }
    }

    // MARK: Throughput

    private func throughput(_ store: FleetStore, logger: Logger) async throws {
        let directory = Statistics.temporaryDirectory("fleet")
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let journal = try Journal(JournalConfiguration(directory: directory, durability: .async), logger: logger)
        let run = try await ProjectionWorkload.fill(journal, events: events)
        journal.close()
        Glibc.sync()
        let reader = try Journal(JournalConfiguration(directory: directory, readOnly: true), logger: logger)
        let total = try reader.head().seq

        // The raw baseline's input: the same rows (all columns), written to a file beforehand (not timed).
        let file = directory + "/rows.copy"
        let node = "bench-node"
        try Self.writeRows(of: reader, node: node, to: file)

        // Alternating rounds on a fresh schema each: shipping, then the raw baseline (psql's \copy of
        // the same rows into a table of the same shape, indexes included, one transaction).
        var shipSeconds: [Double] = []
        var copySeconds: [Double] = []
        for _ in 0..<rounds {
            // Setup, not timed: psql, since the store's pool is not shown outside TandemFleet.
            _ = try Self.psql(url, "DROP SCHEMA IF EXISTS tandem CASCADE")
            _ = try Self.psql(url, "DROP VIEW IF EXISTS public.experiment_runs")
            try await store.migrate()
            _ = try Self.psql(url, "CHECKPOINT")
            let shipper = FleetShipper(journal: reader, store: store, nodeID: node, configuration: .init(batchSize: batch), logger: logger)
            let started = ContinuousClock.now
            let mark = try await shipper.shipToHead()
            shipSeconds.append(started.duration(to: .now).seconds)
            guard mark.seq == total else { throw ValidationError("shipped \(mark.seq) of \(total)") }

            _ = try Self.psql(url, "CREATE TABLE tandem.bench_raw (LIKE tandem.journal INCLUDING ALL)")
            _ = try Self.psql(url, "CHECKPOINT")
            let copyStarted = ContinuousClock.now
            try Self.psql(url, #"\copy tandem.bench_raw FROM '"# + file + "'")
            copySeconds.append(copyStarted.duration(to: .now).seconds)
            _ = try Self.psql(url, "DROP TABLE tandem.bench_raw")
        }

        let ratios = zip(shipSeconds, copySeconds).map { $1 / $0 }
        let (ship, copy) = (Statistics.percentile(shipSeconds, 50), Statistics.percentile(copySeconds, 50))
        print("# fleet shipping benchmark (PostgreSQL \(try Self.psql(url, "SHOW server_version").trimmingCharacters(in: .whitespacesAndNewlines)), batch \(batch), \(rounds) alternating rounds, medians)")
        print("journal: \(total) entries, \(run) runs (answers 0.3-4 KB)")
        print("phase | seconds (median) | entries/s | seconds per round")
        print("----- | ---------------- | --------- | -----------------")
        print("tandem fleet shipping (rows + run records + marks, \(Int((Double(total) / Double(batch)).rounded(.up))) transactions) | \(Statistics.format(ship, 2)) | \(Statistics.format(Double(total) / ship)) | \(shipSeconds.map { Statistics.format($0, 2) }.joined(separator: " "))")
        print("raw psql \\copy of the same rows, one transaction | \(Statistics.format(copy, 2)) | \(Statistics.format(Double(total) / copy)) | \(copySeconds.map { Statistics.format($0, 2) }.joined(separator: " "))")
        print("shipping / raw, median of the rounds' ratios: \(Statistics.format(Statistics.percentile(ratios, 50), 2)) (each round: \(ratios.map { Statistics.format($0, 2) }.joined(separator: " "))); target >= 0.5")
    }

    /// Writes every entry of `journal` as a row of `tandem.journal` in `COPY` text format: the
    /// rows the shipper binds (``JournalRows``), a batch of 2,000 entries at a time.
    private static func writeRows(of journal: Journal, node: String, to file: String) throws {
        _ = FileManager.default.createFile(atPath: file, contents: nil)
        let handle = try FileHandle(forWritingTo: URL(fileURLWithPath: file))
        let nodeBytes = Array(node.utf8)
        var entries: [JournalEntry] = []
        func write() {
            var text = CopyText()
            text.append(JournalRows(entries), node: nodeBytes)
            handle.write(Data(text.bytes))
            entries.removeAll(keepingCapacity: true)
        }
        try journal.scanEntries(from: 1) { entry in
            entries.append(entry)
            if entries.count == 2_000 { write() }
            return true
        }
        write()
        try handle.close()
    }

    // MARK: Under load

    /// What one load window measured.
    private struct LoadWindow {
        var runRate: Double
        var entryRate: Double
        /// The server's CPU seconds per run (the shipper's own work shows here; PostgreSQL's does not).
        var cpuPerRun: Double
        /// PostgreSQL's CPU seconds per run, all its processes.
        var databaseCPUPerRun: Double
        /// The share of the server's CPU its shipper's own threads used (with shipping).
        var shipperShare: Double
        var lags: [Double]
    }

    /// The load phase, once per core layout (``CoreLayout``).
    private func underLoad() async throws {
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        var configuration = HTTPClient.Configuration()
        configuration.timeout.read = .seconds(30)
        let http = HTTPClient(eventLoopGroupProvider: .singleton, configuration: configuration)
        defer { _ = http.shutdown() }
        for layout in layouts {
            if layout != .shared {
                guard CPUPlacement.onlineCores >= 2 else {
                    print("\n# \(layout.rawValue) layout: skipped, this machine has one core")
                    continue
                }
                if layout == .paired, let reason = CPUGroups.unavailableReason {
                    print("\n# paired layout: skipped, \(reason)")
                    continue
                }
                // This process (the load generator) and PostgreSQL leave core 0 to the server, as
                // on hosts of their own (PostgreSQL and the generator together stay below one core).
                for pid in CPUPlacement.postgresProcesses() + [getpid()] { try CPUPlacement.pin(pid, to: CPUPlacement.otherCores) }
            }
            defer {
                if layout != .shared {
                    for pid in CPUPlacement.postgresProcesses() + [getpid()] { try? CPUPlacement.pin(pid, to: CPUPlacement.allCores) }
                }
            }
            try await underLoad(layout, http: http, group: group)
        }
        try await group.shutdownGracefully()
    }

    private func underLoad(_ layout: CoreLayout, http: HTTPClient, group: MultiThreadedEventLoopGroup) async throws {
        print("")
        switch layout {
        case .shared:
            print("# serve at \(clients) clients, all processes on all \(CPUPlacement.onlineCores) cores (PostgreSQL's work takes cores from serve)")
        case .separate:
            print("# serve at \(clients) clients, serve alone on core 0, PostgreSQL and the load generator on cores \(CPUPlacement.otherCores) (a fleet store host of its own)")
        case .paired:
            print("# serve at \(clients) clients each, both servers at once on core 0 in CPU groups of equal weight, PostgreSQL and the load generators on cores \(CPUPlacement.otherCores)")
            print("# (each window measures both modes under the same machine speed: the ratio is not moved by the VM's drift between windows)")
        }
        let order = layout == .paired ? "rounds, servers' ports swapped each round" : "alternating rounds"
        print("(scripted models 0 ms / 0 ms, sync durability, \(Statistics.format(seconds)) s per window, \(loadRounds) \(order))")
        print("round | mode | runs/s | entries/s | server CPU ms/run | PostgreSQL CPU ms/run | lag p50 entries | lag p99 entries | lag max entries | lag max as seconds of traffic")
        print("----- | ---- | ------ | --------- | ----------------- | --------------------- | --------------- | --------------- | --------------- | -----------------------------")
        var ratios: [Double] = []
        var cpuRatios: [Double] = []
        var databaseShares: [Double] = []
        var shipperShares: [Double] = []
        var lagSeconds: [Double] = []
        for round in 0..<loadRounds {
            // Which mode goes first alternates, so a drift of the machine's speed evens out.
            var windows: [Bool: LoadWindow] = [:]
            let turns: [[Bool]] = switch layout {
            case .paired: [round % 2 == 0 ? [false, true] : [true, false]]
            case .shared, .separate: round % 2 == 0 ? [[false], [true]] : [[true], [false]]
            }
            for modes in turns {
                let measured = try await loadWindows(modes: modes, layout: layout, http: http, group: group)
                for withFleet in modes {
                    guard let window = measured[withFleet] else { continue }
                    windows[withFleet] = window
                    let lagColumns: String
                    if withFleet, let maxLag = window.lags.max() {
                        lagSeconds.append(maxLag / max(window.entryRate, 1))
                        lagColumns = "\(Statistics.format(Statistics.percentile(window.lags, 50))) | \(Statistics.format(Statistics.percentile(window.lags, 99))) | "
                            + "\(Statistics.format(maxLag)) | \(Statistics.format(maxLag / max(window.entryRate, 1), 3))"
                    } else {
                        lagColumns = "- | - | - | -"
                    }
                    print("\(round + 1) | \(withFleet ? "with fleet" : "without fleet") | \(Statistics.format(window.runRate)) | \(Statistics.format(window.entryRate)) | "
                        + "\(Statistics.format(window.cpuPerRun * 1_000, 3)) | \(Statistics.format(window.databaseCPUPerRun * 1_000, 3)) | \(lagColumns)")
                }
            }
            if let with = windows[true], let without = windows[false] {
                ratios.append(with.runRate / without.runRate)
                cpuRatios.append(with.cpuPerRun / without.cpuPerRun)
                databaseShares.append(with.databaseCPUPerRun / without.cpuPerRun)
                shipperShares.append(with.shipperShare)
            }
        }
        let target = layout == .shared ? "" : "; target >= 0.9"
        print("runs/s with shipping / without, median of the rounds: \(Statistics.format(Statistics.percentile(ratios, 50), 2)) (each: \(ratios.map { Statistics.format($0, 2) }.joined(separator: " ")))\(target)")
        print("server CPU per run with shipping / without, median: \(Statistics.format(Statistics.percentile(cpuRatios, 50), 2))")
        print("the shipper's own threads (reader, fleet event loop) / the server's CPU with shipping, median: \(Statistics.format(Statistics.percentile(shipperShares, 50) * 100, 1)) % (each: \(shipperShares.map { Statistics.format($0 * 100, 1) }.joined(separator: " ")))")
        print("PostgreSQL CPU per shipped run / server CPU per run without shipping, median: \(Statistics.format(Statistics.percentile(databaseShares, 50), 2))")
        print("lag max as seconds of traffic, worst round: \(Statistics.format(lagSeconds.max() ?? 0, 3)); target: under 1")
    }

    /// The names of the shipper's own threads in `serve`: its reader thread (an `NIOThreadPool`,
    /// "TP-#0") and the fleet connections' event loop (a `MultiThreadedEventLoopGroup` of its own,
    /// "NIO-ELT-…"; the server's loops are the singleton's, "NIO-SGLTN-…").
    private static let shipperThreads = ["TP-#", "NIO-ELT-"]

    /// One window of load on fresh servers, one per mode in `modes` (with or without shipping), at
    /// the same time when there are two (the paired layout: each in a CPU group of its own, of
    /// equal weight, on the same core, so both get the same share of the same machine speed).
    private func loadWindows(modes: [Bool], layout: CoreLayout, http: HTTPClient, group: MultiThreadedEventLoopGroup) async throws -> [Bool: LoadWindow] {
        var servers: [(withFleet: Bool, server: ServerProcess, cpuGroup: CPUGroups.Group?)] = []
        defer {
            for (_, server, cpuGroup) in servers {
                server.stop()
                cpuGroup?.remove()
            }
        }
        for (index, withFleet) in modes.enumerated() {
            var environment = ["TANDEM_SCRIPTED_FLASH_MS": "0", "TANDEM_SCRIPTED_PRO_MS": "0", "TANDEM_MAX_CONCURRENT_RUNS": "100000"]
            if withFleet {
                environment["TANDEM_FLEET_URL"] = url
                // A fresh data dir each window: a node id of its own (the store keeps the last one's mark).
                environment["TANDEM_NODE_ID"] = "bench-load-\(getpid())-\(UUID().uuidString.prefix(8))"
                environment["TANDEM_FLEET_BATCH"] = "\(batch)"
            }
            let server = try ServerProcess.start(tandem, port: port + index, cores: layout.serverCores, environment: environment)
            servers.append((withFleet, server, nil))
            if layout == .paired {
                let cpuGroup = try CPUGroups.Group(named: "tandem-bench-\(getpid())-\(index)")
                servers[servers.count - 1].cpuGroup = cpuGroup
                try cpuGroup.add(server.process.processIdentifier)
            }
        }
        for (_, server, _) in servers { try await server.waitUntilHealthy(http) }
        let (clients, seconds) = (clients, seconds)
        return try await withThrowingTaskGroup(of: (Bool, LoadWindow).self) { windows in
            for (withFleet, server, _) in servers {
                let (port, pid) = (server.port, server.process.processIdentifier)
                windows.addTask {
                    (withFleet, try await Self.measure(port: port, pid: pid, shipping: withFleet, clients: clients, seconds: seconds, http: http, group: group))
                }
            }
            var measured: [Bool: LoadWindow] = [:]
            for try await (withFleet, window) in windows { measured[withFleet] = window }
            return measured
        }
    }

    /// Loads the server on `port` (process `pid`) for `seconds` at `clients` clients and measures
    /// it; PostgreSQL's CPU is counted for the server that is `shipping` only.
    private static func measure(port: Int, pid: pid_t, shipping: Bool, clients: Int, seconds: Double, http: HTTPClient, group: MultiThreadedEventLoopGroup) async throws -> LoadWindow {
        let headBefore = try await Self.health(http, port: port).head
        let cpuBefore = CPUPlacement.cpuSeconds(of: pid)
        let shipperCPUBefore = CPUPlacement.threadCPUSeconds(of: pid, namedLike: Self.shipperThreads)
        // PostgreSQL's processes by pid: a backend that starts meanwhile counts from zero.
        let databaseCPUBefore = Dictionary(uniqueKeysWithValues: (shipping ? CPUPlacement.postgresProcesses() : []).map { ($0, CPUPlacement.cpuSeconds(of: $0)) })
        let sampler = Task { () -> [Double] in
            var lags: [Double] = []
            while !Task.isCancelled {
                if let lag = try? await Self.health(http, port: port).lag { lags.append(Double(lag)) }
                try? await Task.sleep(for: .milliseconds(50))
            }
            return lags
        }
        let generator = StreamingLoadGenerator(port: port, group: group)
        let started = ContinuousClock.now
        let outcome = try await generator.run(
            clients: clients, body: #"{"query":"How far is the moon?","context":{"bench":true}}"#,
            stagger: .milliseconds(0), warmUp: .milliseconds(250), until: .now() + .milliseconds(Int64(seconds * 1000))
        )
        let elapsed = started.duration(to: .now).seconds
        let cpu = CPUPlacement.cpuSeconds(of: pid) - cpuBefore
        let shipperCPU = CPUPlacement.threadCPUSeconds(of: pid, namedLike: Self.shipperThreads) - shipperCPUBefore
        let databaseCPU = (shipping ? CPUPlacement.postgresProcesses() : []).map { CPUPlacement.cpuSeconds(of: $0) - (databaseCPUBefore[$0] ?? 0) }.reduce(0, +)
        sampler.cancel()
        let lags = await sampler.value
        let headAfter = try await Self.health(http, port: port).head
        let runs = Double(max(outcome.latencies.count, 1))
        return LoadWindow(
            runRate: Double(outcome.latencies.count) / outcome.measuredSeconds,
            entryRate: Double(headAfter - headBefore) / elapsed,
            cpuPerRun: cpu / runs,
            databaseCPUPerRun: max(databaseCPU, 0) / runs,
            shipperShare: cpu > 0 ? shipperCPU / cpu : 0,
            lags: lags
        )
    }

    private static func health(_ client: HTTPClient, port: Int) async throws -> (head: UInt64, lag: UInt64?) {
        let response = try await client.execute(HTTPClientRequest(url: "http://127.0.0.1:\(port)/health"), timeout: .seconds(2))
        let body = try await response.body.collect(upTo: 1 << 20)
        let object = try JSONSerialization.jsonObject(with: Data(body.readableBytesView)) as? [String: Any] ?? [:]
        let head = (object["journal"] as? [String: Any])?["head_seq"] as? Int ?? 0
        let lag = (object["fleet"] as? [String: Any])?["lag_entries"] as? Int
        return (UInt64(max(head, 0)), lag.map { UInt64(max($0, 0)) })
    }

    @discardableResult
    private static func psql(_ url: String, _ command: String) throws -> String {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/psql")
        process.arguments = ["-X", "-q", "-A", "-t", "-v", "ON_ERROR_STOP=1", "-d", url.replacingOccurrences(of: "postgres://", with: "postgresql://"), "-c", command]
        let output = Pipe()
        process.standardOutput = output
        try process.run()
        let data = output.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        guard process.terminationStatus == 0 else { throw ValidationError("psql failed: \(command)") }
        return String(decoding: data, as: UTF8.self)
    }
}
