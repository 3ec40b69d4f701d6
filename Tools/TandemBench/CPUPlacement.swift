import ArgumentParser
import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// Which cores the fleet benchmark's processes share during its load phase.
enum CoreLayout: String, CaseIterable, ExpressibleByArgument {
    /// Every process on every core: PostgreSQL's work for the shipped rows takes cores from serve.
    case shared
    /// `tandem serve` alone on core 0; PostgreSQL and the load generator on the other cores, as
    /// when the fleet store is a host of its own (it is shared by a fleet of nodes).
    case separate
    /// A server with shipping and one without, at the same time on core 0, each in a CPU group of
    /// equal weight; PostgreSQL and the load generators on the other cores. Both modes then see
    /// the same machine speed, which on a VM drifts by a quarter between windows.
    case paired

    /// The cores `tandem serve` may use (`taskset` list); `nil` for all.
    var serverCores: String? { self == .shared ? nil : "0" }
}

/// CPU control groups (cgroup v1's `cpu` controller, or v2's): processes in groups of equal weight
/// get equal shares of a busy core, whatever their thread counts (the scheduler is fair between
/// threads otherwise, so a server with more threads would get more of the core).
enum CPUGroups {
    /// The `cpu` hierarchy and the weight file with its default value, when this machine has one
    /// this process may write.
    private static let hierarchy: (root: String, weightFile: String, weight: String)? = {
        let candidates = [("/sys/fs/cgroup/cpu", "cpu.shares", "1024"), ("/sys/fs/cgroup", "cpu.weight", "100")]
        for (root, weightFile, weight) in candidates {
            let controllers = (try? String(contentsOfFile: root + "/cgroup.controllers", encoding: .utf8)) ?? ""
            let usable = FileManager.default.fileExists(atPath: root + "/" + weightFile)
                || controllers.split(whereSeparator: \.isWhitespace).contains("cpu")
            if usable, access(root, W_OK) == 0 { return (root, weightFile, weight) }
        }
        return nil
    }()

    /// Why groups cannot be made here; `nil` when they can.
    static var unavailableReason: String? {
        hierarchy == nil ? "no writable cgroup cpu controller (/sys/fs/cgroup/cpu or cgroup v2 with cpu)" : nil
    }

    /// One group, removed by ``remove()`` once its processes have ended.
    struct Group {
        let path: String

        init(named name: String) throws {
            guard let hierarchy = CPUGroups.hierarchy else { throw CPUPlacementError(message: CPUGroups.unavailableReason ?? "no cgroups") }
            path = hierarchy.root + "/" + name
            try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: false)
            try Self.write(hierarchy.weight, to: path + "/" + hierarchy.weightFile)
        }

        /// Moves every thread of `pid` (and the threads it starts later) into the group.
        func add(_ pid: pid_t) throws {
            try Self.write("\(pid)", to: path + "/cgroup.procs")
        }

        /// Removes the group (it must be empty: its processes have exited).
        func remove() {
            // A stopped server's process may take a moment to leave the group.
            for _ in 0..<50 {
                if rmdir(path) == 0 || errno == ENOENT { return }
                usleep(20_000)
            }
        }

        private static func write(_ text: String, to file: String) throws {
            guard let handle = FileHandle(forWritingAtPath: file) else { throw CPUPlacementError(message: "cannot open \(file)") }
            defer { try? handle.close() }
            try handle.write(contentsOf: Data(text.utf8))
        }
    }
}

/// Process placement and CPU accounting through `/proc` and util-linux's `taskset`.
enum CPUPlacement {
    static var onlineCores: Int { Int(sysconf(Int32(_SC_NPROCESSORS_ONLN))) }
    /// Every online core, as a `taskset` list.
    static var allCores: String { "0-\(max(onlineCores - 1, 0))" }
    /// Every core but core 0, as a `taskset` list.
    static var otherCores: String { "1-\(max(onlineCores - 1, 1))" }

    /// Moves every thread of `pid` to `cores`.
    static func pin(_ pid: pid_t, to cores: String) throws {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/taskset")
        process.arguments = ["-a", "-p", "-c", cores, "\(pid)"]
        process.standardOutput = FileHandle.nullDevice
        try process.run()
        process.waitUntilExit()
        guard process.terminationStatus == 0 else { throw CPUPlacementError(message: "taskset could not move process \(pid) to cores \(cores)") }
    }

    /// The processes of the PostgreSQL servers on this machine (the benchmark's own, when it runs alone).
    static func postgresProcesses() -> [pid_t] {
        let entries = (try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? []
        return entries.compactMap { pid_t($0) }.filter { pid in
            (try? String(contentsOfFile: "/proc/\(pid)/comm", encoding: .utf8))?.trimmingCharacters(in: .newlines) == "postgres"
        }
    }

    /// CPU time (user + system) `pid` has used, in seconds; 0 when it is gone.
    static func cpuSeconds(of pid: pid_t) -> Double {
        cpuSeconds(statFile: "/proc/\(pid)/stat")
    }

    /// CPU time the threads of `pid` whose names start with one of `prefixes` have used, in seconds.
    static func threadCPUSeconds(of pid: pid_t, namedLike prefixes: [String]) -> Double {
        let tasks = (try? FileManager.default.contentsOfDirectory(atPath: "/proc/\(pid)/task")) ?? []
        return tasks.reduce(0) { sum, task in
            let name = (try? String(contentsOfFile: "/proc/\(pid)/task/\(task)/comm", encoding: .utf8)) ?? ""
            guard prefixes.contains(where: name.hasPrefix) else { return sum }
            return sum + cpuSeconds(statFile: "/proc/\(pid)/task/\(task)/stat")
        }
    }

    private static func cpuSeconds(statFile: String) -> Double {
        guard let stat = try? String(contentsOfFile: statFile, encoding: .utf8),
              let close = stat.lastIndex(of: ")") else { return 0 }
        // Fields after the command name: state is field 3; utime and stime are fields 14 and 15.
        let fields = stat[stat.index(after: close)...].split(separator: " ")
        guard fields.count > 12, let user = Double(fields[11]), let system = Double(fields[12]) else { return 0 }
        return (user + system) / Double(sysconf(Int32(_SC_CLK_TCK)))
    }
}

/// A placement that could not be made.
struct CPUPlacementError: Error, CustomStringConvertible {
    var message: String
    var description: String { message }
}
