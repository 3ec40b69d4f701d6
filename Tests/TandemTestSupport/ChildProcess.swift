public import Foundation
import Synchronization
import TandemJournal

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

    /// Runs `tandem` with `arguments` to completion.
    /// - Returns: exit status, standard output and standard error.
    public static func run(_ arguments: [String], environment: [String: String] = [:]) throws -> (status: Int32, stdout: String, stderr: String) {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: path)
        process.arguments = arguments
        var env = ProcessInfo.processInfo.environment
        for (key, value) in environment { env[key] = value }
        process.environment = env
        let out = Pipe()
        let err = Pipe()
        process.standardOutput = out
        process.standardError = err
        try process.run()
        // Read both pipes to the end before waiting, so a chatty child never blocks on a full pipe.
        let errData = ErrorCollector(err.fileHandleForReading)
        let outData = out.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return (process.terminationStatus, String(decoding: outData, as: UTF8.self), errData.text())
    }

    /// Runs `tandem journal replay` on `dataDirectory` with its output closed from the start, as
    /// `tandem journal replay | head` whose reader has gone: it dies of SIGPIPE inside a read
    /// transaction (given a journal of a few thousand entries), leaving its reader slot behind.
    /// - Returns: the replay's termination status: `SIGPIPE` when it died as intended.
    public static func replayWithClosedOutput(dataDirectory: String) throws -> Int32 {
        // Python's subprocess restores SIGPIPE's default action (the test process ignores it,
        // and children inherit that).
        let script = """
            import subprocess, sys
            child = subprocess.Popen(sys.argv[1:], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
            child.stdout.close()
            sys.exit(-child.wait())
            """
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["python3", "-c", script, path, "journal", "replay", "--data-dir", dataDirectory]
        try process.run()
        process.waitUntilExit()
        return process.terminationStatus
    }
}

/// Collects a pipe's bytes on a background thread.
final class ErrorCollector: @unchecked Sendable {
    // `@unchecked Sendable`: `data` is written by the reader thread only before `done` is signalled
    // and read by `text()` only after waiting for it.
    private var data = Data()
    private let done = DispatchSemaphore(value: 0)

    init(_ handle: FileHandle) {
        Thread.detachNewThread { [self] in
            self.data = handle.readDataToEndOfFile()
            self.done.signal()
        }
    }

    func text() -> String {
        done.wait()
        return String(decoding: data, as: UTF8.self)
    }
}

/// A long-running `tandem` child whose standard output is read line by line, and whose standard
/// error (its log) is collected and can be waited on for a line.
public final class RunningTandem: @unchecked Sendable {
    // `@unchecked Sendable`: `process` and the pipes are set in `init` and only used through
    // Foundation APIs that are thread-safe for these calls (`terminate`, `processIdentifier`,
    // reading one FileHandle from one caller at a time).
    public let process = Process()
    private let output = Pipe()
    private let errors = Pipe()
    private var buffer = Data()
    private let log: LogLines

    /// Starts `tandem arguments…`.
    public init(_ arguments: [String], environment: [String: String] = [:]) throws {
        process.executableURL = URL(fileURLWithPath: TandemExecutable.path)
        process.arguments = arguments
        var env = ProcessInfo.processInfo.environment
        for (key, value) in environment { env[key] = value }
        process.environment = env
        process.standardOutput = output
        process.standardError = errors
        try process.run()
        log = LogLines(errors.fileHandleForReading)
    }

    /// Starts `tandem serve --port 0 arguments…` and returns it with the port it bound, read from
    /// its `listening` log line (so `LOG_LEVEL` must let `info` through).
    public static func serve(_ arguments: [String], environment: [String: String] = [:]) async throws -> (RunningTandem, Int) {
        let child = try RunningTandem(["serve", "--port", "0"] + arguments, environment: environment)
        guard let line = await child.waitForLog(containing: "[TandemCLI] listening"),
            let port = line.split(separator: " ").first(where: { $0.hasPrefix("address=") })?.split(separator: ":").last.flatMap({ Int($0) })
        else {
            child.send(SIGKILL)
            throw ChildFailure("serve did not report a listening address: \(child.wait().stderr)")
        }
        return (child, port)
    }

    /// The next line of standard output, or `nil` at end of file.
    public func readLine() -> String? {
        while true {
            if let newline = buffer.firstIndex(of: 10) {
                let line = buffer[buffer.startIndex..<newline]
                buffer = Data(buffer[(newline + 1)...])
                return String(decoding: line, as: UTF8.self)
            }
            let chunk = output.fileHandleForReading.availableData
            if chunk.isEmpty {
                if buffer.isEmpty { return nil }
                defer { buffer = Data() }
                return String(decoding: buffer, as: UTF8.self)
            }
            buffer.append(chunk)
        }
    }

    /// The first line of standard error (the log) containing `text`, as soon as it is written —
    /// or `nil` once the child closed its standard error without writing one.
    public func waitForLog(containing text: String) async -> String? {
        await log.first(containing: text)
    }

    /// Sends `signal` to the child, unless it has exited (its pid may belong to another process).
    public func send(_ signal: Int32) {
        guard process.isRunning else { return }
        kill(process.processIdentifier, signal)
    }

    /// Suspends (without blocking a thread) until the child has closed its standard error, as it
    /// does when it exits; then returns its status and standard error.
    public func exited() async -> (status: Int32, stderr: String) {
        await log.end()
        return wait()
    }

    /// Waits for the child to exit and returns its status and standard error.
    public func wait() -> (status: Int32, stderr: String) {
        process.waitUntilExit()
        return (process.terminationStatus, log.text())
    }
}

/// A child process that did not do what a test needs of it.
public struct ChildFailure: Error, CustomStringConvertible {
    public let description: String
    public init(_ description: String) { self.description = description }
}

/// A child's standard error, read on a background thread into lines that tests can wait for.
private final class LogLines: Sendable {
    private struct State {
        var lines: [String] = []
        var partial = Data()
        var ended = false
        /// Tagged with the text each waits for (`nil`: the end); resumed with the line, or `nil`
        /// at the end.
        var waiters = WaiterList<String?, String?>()
    }

    private let state = Mutex(State())
    private let done = DispatchSemaphore(value: 0)

    init(_ handle: FileHandle) {
        Thread.detachNewThread { [self] in
            while true {
                let chunk = handle.availableData
                self.append(chunk)
                if chunk.isEmpty { break }
            }
            self.done.signal()
        }
    }

    private func append(_ chunk: Data) {
        state.withLock { state in
            state.partial.append(chunk)
            var added: [String] = []
            while let newline = state.partial.firstIndex(of: 10) {
                added.append(String(decoding: state.partial[state.partial.startIndex..<newline], as: UTF8.self))
                state.partial = Data(state.partial[(newline + 1)...])
            }
            if chunk.isEmpty {
                if !state.partial.isEmpty { added.append(String(decoding: state.partial, as: UTF8.self)) }
                state.partial = Data()
                state.ended = true
            }
            state.lines += added
            let ended = state.ended
            return state.waiters.take { wanted in
                ended || wanted.map { wanted in added.contains { $0.contains(wanted) } } ?? false
            }
        }.resume { wanted in wanted.flatMap(self.firstLine(containing:)) }
    }

    private func firstLine(containing text: String) -> String? {
        state.withLock { state in state.lines.first { $0.contains(text) } }
    }

    /// Returns once the child closed its standard error.
    func end() async {
        _ = await state.wait(in: \.waiters, tag: nil, onCancel: .some(nil)) { $0.ended ? .some(nil) : nil }
    }

    func first(containing text: String) async -> String? {
        await state.wait(in: \.waiters, tag: text, onCancel: .some(nil)) { state in
            if let line = state.lines.first(where: { $0.contains(text) }) { return .some(line) }
            return state.ended ? .some(nil) : nil
        }
    }

    /// Everything the child wrote, once it closed its standard error.
    func text() -> String {
        done.wait()
        return state.withLock { $0.lines.joined(separator: "\n") }
    }
}
