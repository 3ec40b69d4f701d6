import ArgumentParser
import AsyncHTTPClient
import Foundation
import NIOCore
import NIOPosix

/// `tandem-bench ceiling`: tandem against this machine's own ceiling, measured in the same run.
///
/// The ceiling is `tandem-ceiling`, a Hummingbird server that answers with tandem's three frames
/// and does no work. Each round starts every server in turn (the order rotates between rounds),
/// drives it with the same load generator at each level, and stops it; the table shows medians of
/// the rounds, and each ratio is the median of the rounds' ratios (a VM's speed drifts by a
/// quarter between minutes, so only figures of one round are compared with each other). With
/// `--previous` a binary of an earlier build runs in the same rounds: a change to a hot path is
/// compared with the build before it, not with a figure of another day.
struct CeilingBench: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "ceiling", abstract: "tandem vs a do-nothing SSE server (and an earlier build), alternating rounds.")

    @Option(help: "The tandem executable.") var tandem = ".build/release/tandem"
    @Option(help: "The ceiling server.") var ceiling = ".build/release/tandem-ceiling"
    @Option(help: "An earlier build's tandem executable to compare with (optional).") var previous: String?
    @Option(help: "Rounds (each server once per round).") var rounds = 3
    @Option(help: "Seconds per load level.") var seconds: Double = 4
    @Option(parsing: .upToNextOption, help: "Concurrent clients at zero model latency.") var clients: [Int] = [16, 64, 256]
    @Option(parsing: .upToNextOption, help: "Concurrent clients at 20 ms Flash / 50 ms Pro.") var latencyClients: [Int] = [16, 64]
    @Option(help: "Port for the server under test.") var port = 18_183

    /// The load generator's one event-loop thread.
    private static let loadGroup = MultiThreadedEventLoopGroup(numberOfThreads: 1)

    func validate() throws {
        guard rounds > 0, seconds > 0, (clients + latencyClients).allSatisfy({ $0 > 0 }) else {
            throw ValidationError("--rounds, --seconds and every client count must be positive")
        }
    }

    /// One server under test.
    private struct Contender {
        var name: String
        var start: (_ port: Int, _ flashMs: Int, _ proMs: Int) throws -> ServerProcess
    }

    /// What one level measured on one server in one round.
    private struct Sample {
        var runsPerSecond: Double
        var serverCPUPerRun: Double
        var loadCPUPerRun: Double
        var p50: Double
        var p99: Double
    }

    private struct Level: Hashable {
        var flashMs: Int
        var proMs: Int
        var clients: Int
    }

    func run() async throws {
        let placement = Self.place()
        let contenders = makeContenders(serverCores: placement.serverCores)
        let levels = clients.map { Level(flashMs: 0, proMs: 0, clients: $0) } + latencyClients.map { Level(flashMs: 20, proMs: 50, clients: $0) }
        var samples: [String: [Level: [Sample]]] = [:]
        let group = Self.loadGroup
        for round in 0..<rounds {
            // Rotate the order so that no server always runs first (or right after another).
            let order = (0..<contenders.count).map { contenders[($0 + round) % contenders.count] }
            for contender in order {
                for latency in Set(levels.map { [$0.flashMs, $0.proMs] }).sorted(by: { $0[0] < $1[0] }) {
                    let server = try contender.start(port, latency[0], latency[1])
                    defer { server.stop() }
                    try await server.waitUntilHealthy(HTTPClient.shared)
                    for level in levels where level.flashMs == latency[0] {
                        let sample = try await measure(level, server: server, group: group)
                        samples[contender.name, default: [:]][level, default: []].append(sample)
                    }
                }
            }
            FileHandle.standardError.write(Data("round \(round + 1) of \(rounds) done\n".utf8))
        }
        report(levels: levels, contenders: contenders.map(\.name), samples: samples, placement: placement.description)
    }

    private func makeContenders(serverCores: String?) -> [Contender] {
        func tandemServer(_ executable: String) -> (Int, Int, Int) throws -> ServerProcess {
            { port, flash, pro in
                try ServerProcess.start(executable, port: port, cores: serverCores, environment: [
                    "TANDEM_SCRIPTED_FLASH_MS": "\(flash)", "TANDEM_SCRIPTED_PRO_MS": "\(pro)", "TANDEM_MAX_CONCURRENT_RUNS": "100000",
                ])
            }
        }
        var contenders = [
            Contender(name: "ceiling") { port, flash, pro in
                try ServerProcess.start(ceiling, port: port, cores: serverCores, arguments: [
                    "--port", "\(port)", "--flash-ms", "\(flash)", "--pro-ms", "\(pro)",
                ], environment: [:])
            },
            Contender(name: "tandem", start: tandemServer(tandem)),
        ]
        if let previous { contenders.append(Contender(name: "previous", start: tandemServer(previous))) }
        return contenders
    }

    private func measure(_ level: Level, server: ServerProcess, group: any EventLoopGroup) async throws -> Sample {
        let serverCPU = server.cpuSeconds()
        let ownCPU = Statistics.processCPUSeconds()
        let outcome = try await StreamingLoadGenerator(port: port, group: group).run(
            clients: level.clients, body: #"{"query":"How far is the moon?","context":{"bench":true}}"#,
            stagger: .milliseconds(Int64(level.proMs)), warmUp: .milliseconds(250),
            until: .now() + .milliseconds(Int64(seconds * 1000))
        )
        let added = outcome.latencies.map { $0 - Double(level.proMs) }
        let runs = Double(max(outcome.allRuns, 1))
        return Sample(
            runsPerSecond: Double(added.count) / outcome.measuredSeconds,
            serverCPUPerRun: (server.cpuSeconds() - serverCPU) / runs * 1e6,
            loadCPUPerRun: (Statistics.processCPUSeconds() - ownCPU) / runs * 1e6,
            p50: Statistics.percentile(added, 50), p99: Statistics.percentile(added, 99)
        )
    }

    /// Pins this process (the load generator) to a core of its own and the servers to core 0 when
    /// the machine has two or more cores.
    private static func place() -> (serverCores: String?, description: String) {
        guard CPUPlacement.onlineCores >= 2 else { return (nil, "one core: servers and load generator share it") }
        do {
            try CPUPlacement.pin(getpid(), to: CPUPlacement.otherCores)
            return ("0", "servers on core 0, load generator pinned to cores \(CPUPlacement.otherCores)")
        } catch {
            return (nil, "not pinned (\(error)): servers and load generator share every core")
        }
    }

    private func report(levels: [Level], contenders: [String], samples: [String: [Level: [Sample]]], placement: String) {
        func median(_ values: [Double]) -> Double { Statistics.percentile(values, 50) }
        func figure(_ name: String, _ level: Level, _ value: (Sample) -> Double) -> Double { median((samples[name]?[level] ?? []).map(value)) }
        func ratio(_ numerator: String, _ denominator: String, _ level: Level, _ value: (Sample) -> Double) -> Double {
            let pairs = zip(samples[numerator]?[level] ?? [], samples[denominator]?[level] ?? [])
            return median(pairs.map { value($0) / value($1) })
        }
        let f = { (value: Double, decimals: Int) in Statistics.format(value, decimals) }
        print("# tandem vs its ceiling (tandem-ceiling: the same frames, no work), \(rounds) alternating rounds, medians; \(placement)")
        print("(scripted models, sync durability; added = time to `done` minus Pro's latency; CPU per run = process CPU time / runs sent)")
        print("")
        print("flash/pro ms | clients | server | runs/s | tandem/this runs/s | CPU µs/run | tandem/this CPU | p50 added ms | p99 added ms | load generator CPU µs/run")
        print("------------ | ------- | ------ | ------ | ------------------ | ---------- | --------------- | ------------ | ------------ | -------------------------")
        for level in levels {
            for name in contenders {
                let isTandem = name == "tandem"
                print("\(level.flashMs)/\(level.proMs) | \(level.clients) | \(name) | \(f(figure(name, level, \.runsPerSecond), 0)) | "
                    + "\(isTandem ? "" : f(ratio("tandem", name, level, \.runsPerSecond), 2)) | \(f(figure(name, level, \.serverCPUPerRun), 0)) | "
                    + "\(isTandem ? "" : f(ratio("tandem", name, level, \.serverCPUPerRun), 2)) | "
                    + "\(f(figure(name, level, \.p50), 2)) | \(f(figure(name, level, \.p99), 2)) | \(f(figure(name, level, \.loadCPUPerRun), 0))")
            }
        }
        // The rounds behind each median ratio: how far apart they are says what a difference means.
        print("")
        for level in levels {
            for name in contenders where name != "tandem" {
                let pairs = zip(samples["tandem"]?[level] ?? [], samples[name]?[level] ?? [])
                let cpu = pairs.map { f($0.serverCPUPerRun / $1.serverCPUPerRun, 2) }.joined(separator: ", ")
                print("\(level.flashMs)/\(level.proMs) ms, \(level.clients) clients: tandem/\(name) CPU per run, by round: \(cpu)")
            }
        }
    }
}
