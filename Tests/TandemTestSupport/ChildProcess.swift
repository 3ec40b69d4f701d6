public import Foundation

/// The built `tandem` executable and helpers to run it as a child process in tests.
public enum TandemExecutable {
    /// `.build/<config>/tandem`, next to the test bundle.
    public static var path: String {
        var directory = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent()
        // On Linux the test binary is `.build/<config>/tandemPackageTests.xctest`.
        if directory.lastPathComponent.hasSuffix(".xctest") { directory.deleteLastPathComponent() }
        let candidate = directory.appendingPathComponent("tandem").path
        if FileManager.default.isExecutableFile(atPath: candidate) { return candidate }
        let resolved = URL(fileURLWithPath: "/proc/self/exe").resolvingSymlinksInPath().deletingLastPathComponent()
        return resolved.appendingPathComponent("tandem").path
    }

    /// `.build/<config>/tandem-faults`: `tandem` with the crash-test fault points
    /// (`TANDEM_*_TEST_KILL_*` variables), which `tandem` itself never reads.
    public static var faultsPath: String {
        URL(fileURLWithPath: path).deletingLastPathComponent().appendingPathComponent("tandem-faults").path
    }

    /// Runs `tandem` (or `executable`) with `arguments` to completion.
    /// - Returns: exit status (or the signal that killed it), standard output and standard error.
    public static func run(
        _ arguments: [String], environment: [String: String] = [:], executable: String = TandemExecutable.path
    ) async throws -> (status: Int32, stdout: String, stderr: String) {
        let child = try SpawnedProcess(executable, arguments, environment: environment)
        let status = await child.terminated()
        return (status.code, await child.output?.text() ?? "", await child.errors?.text() ?? "")
    }

    /// Runs `tandem journal replay` on `dataDirectory` with its output closed from the start, as
    /// `tandem journal replay | head` whose reader has gone: it dies of SIGPIPE inside a read
    /// transaction (given a journal of a few thousand entries), leaving its reader slot behind.
    /// - Returns: the replay's termination status: `SIGPIPE` when it died as intended.
    public static func replayWithClosedOutput(dataDirectory: String) async throws -> Int32 {
        // Python's subprocess restores SIGPIPE's default action (the test process ignores it,
        // and children inherit that).
        let script = """
            import subprocess, sys
            child = subprocess.Popen(sys.argv[1:], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
            child.stdout.close()
            sys.exit(-child.wait())
            """
        let child = try SpawnedProcess(
            "/usr/bin/env", ["python3", "-c", script, path, "journal", "replay", "--data-dir", dataDirectory],
            output: .discard, errors: .discard
        )
        return await child.terminated().code
    }
}

/// A long-running `tandem` child whose standard output is read line by line, and whose standard
/// error (its log) is collected and can be waited on for a line.
public final class RunningTandem: Sendable {
    private let child: SpawnedProcess
    private let output: OutputLines
    private let log: OutputLines

    /// The child's process id.
    public var pid: pid_t { child.pid }

    /// Starts `tandem arguments…` (or `executable`'s, e.g. ``TandemExecutable/faultsPath``).
    public init(_ arguments: [String], environment: [String: String] = [:], executable: String = TandemExecutable.path) throws {
        child = try SpawnedProcess(executable, arguments, environment: environment)
        guard let output = child.output, let log = child.errors else { throw SpawnFailure("the child's pipes were not captured") }
        self.output = output
        self.log = log
    }

    /// Starts `tandem serve --port 0 arguments…` and returns it with the port it bound, read from
    /// its `listening` log line (so `LOG_LEVEL` must let `info` through).
    public static func serve(
        _ arguments: [String], environment: [String: String] = [:], executable: String = TandemExecutable.path
    ) async throws -> (RunningTandem, Int) {
        let child = try RunningTandem(["serve", "--port", "0"] + arguments, environment: environment, executable: executable)
        guard let line = await child.waitForLog(containing: "[TandemCLI] listening"),
            let port = line.split(separator: " ").first(where: { $0.hasPrefix("address=") })?.split(separator: ":").last.flatMap({ Int($0) })
        else {
            child.send(SIGKILL)
            throw ChildFailure("serve did not report a listening address: \(await child.exited().stderr)")
        }
        return (child, port)
    }

    /// The next line of standard output, or `nil` at its end.
    public func nextLine() async -> String? {
        await output.next()
    }

    /// The first line of standard error (the log) containing `text`, as soon as it is written —
    /// or `nil` once the child closed its standard error without writing one.
    public func waitForLog(containing text: String) async -> String? {
        await log.first(containing: text)
    }

    /// Sends `signal` to the child, unless it has exited (its pid may belong to another process).
    public func send(_ signal: Int32) {
        child.signal(signal)
    }

    /// Suspends until the child has exited; then returns how it ended and its standard error.
    /// A cancelled waiter kills the child first (a test past its time limit leaves none behind).
    public func exited() async -> (status: ChildStatus, stderr: String) {
        let status = await child.terminated()
        return (status, await log.text())
    }
}

/// A child process that did not do what a test needs of it.
public struct ChildFailure: Error, CustomStringConvertible {
    public let description: String
    public init(_ description: String) { self.description = description }
}
