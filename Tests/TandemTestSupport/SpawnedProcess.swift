public import Foundation
import Synchronization
import TandemJournal

/// How a child process ended: its exit code, or the signal that killed it.
public enum ChildStatus: Sendable, Equatable, CustomStringConvertible {
    case exited(Int32)
    case killed(by: Int32)

    /// The exit code, or the signal's number (as Foundation's `terminationStatus` reports both).
    public var code: Int32 {
        switch self {
        case .exited(let code), .killed(by: let code): code
        }
    }

    /// Whether a signal ended it.
    public var wasKilled: Bool {
        if case .killed = self { return true }
        return false
    }

    public var description: String {
        switch self {
        case .exited(let code): "exit \(code)"
        case .killed(by: let signal): "killed by signal \(signal)"
        }
    }

    /// Decodes a `waitpid` status (`WIFEXITED`/`WEXITSTATUS`/`WTERMSIG`, which Swift does not import).
    init(waitStatus status: Int32) {
        self = status & 0x7f == 0 ? .exited((status >> 8) & 0xff) : .killed(by: status & 0x7f)
    }
}

/// A child process a test started, awaited without holding a thread of the cooperative pool.
///
/// Not Foundation's `Process`: on Linux its `waitUntilExit` spins the calling thread's run loop —
/// on one of the cooperative pool's two threads (2 cores) that starves every other test, and two
/// such waits at once stop the whole test run. Here `posix_spawn` starts the child, a thread of its
/// own blocks in `waitpid`, and threads read its pipes; tests only ever suspend.
/// The parent's pipe ends are close-on-exec and the child gets no descriptor beyond 0, 1 and 2, so
/// one child's pipes never reach another (an inherited write end would hold its reader's EOF back).
public final class SpawnedProcess: Sendable {
    /// Where a child's standard output or error goes.
    public enum Output: Sendable {
        case capture
        case discard
    }

    /// The child's process id; ``signal(_:)`` refuses to use it once the child has been reaped.
    public let pid: pid_t
    /// Standard output's lines, when captured (with standard error's when `mergeErrors`).
    public let output: OutputLines?
    /// Standard error's lines, when captured and not merged into `output`.
    public let errors: OutputLines?
    private let end = Completion<ChildStatus>()

    /// Starts `executable arguments…` with the test process's environment plus `environment`,
    /// standard input from `/dev/null`.
    public init(
        _ executable: String, _ arguments: [String], environment: [String: String] = [:],
        output outputMode: Output = .capture, errors errorMode: Output = .capture, mergeErrors: Bool = false
    ) throws {
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)

        var readEnds: [Int32] = []
        var writeEnds: [Int32] = []
        defer { for descriptor in writeEnds { close(descriptor) } }
        func route(_ mode: Output, to target: Int32) throws -> Int32? {
            guard case .capture = mode else {
                posix_spawn_file_actions_addopen(&actions, target, "/dev/null", O_WRONLY, 0)
                return nil
            }
            let ends = try GNUCalls.closeOnExecPipe()
            readEnds.append(ends.read)
            writeEnds.append(ends.write)
            posix_spawn_file_actions_adddup2(&actions, ends.write, target)
            return ends.read
        }
        let outputEnd = try route(outputMode, to: 1)
        let errorEnd: Int32?
        if mergeErrors {
            posix_spawn_file_actions_adddup2(&actions, 1, 2)
            errorEnd = nil
        } else {
            errorEnd = try route(errorMode, to: 2)
        }
        do {
            try GNUCalls.addCloseFrom(&actions, 3)
        } catch {
            for descriptor in readEnds { close(descriptor) }
            throw error
        }

        let pid: pid_t
        do {
            pid = try POSIXSpawn.start(executable, arguments, environment: environment, actions: &actions)
        } catch {
            for descriptor in readEnds { close(descriptor) }
            throw error
        }
        self.pid = pid
        output = outputEnd.map(OutputLines.init(reading:))
        errors = errorEnd.map(OutputLines.init(reading:))
        Thread.detachNewThread { [end] in
            end.complete(POSIXSpawn.reap(pid))
        }
    }

    /// Sends `signal` to the child, unless it has been reaped (its pid may be another process's).
    public func signal(_ signal: Int32) {
        guard end.current == nil else { return }
        kill(pid, signal)
    }

    /// Suspends until the child has ended. Cancelling the waiting task kills the child (`SIGKILL`)
    /// and still waits for its end, so a test that times out never leaves a process behind.
    public func terminated() async -> ChildStatus {
        await withTaskCancellationHandler {
            await end.value()
        } onCancel: {
            self.signal(SIGKILL)
        }
    }
}

/// A value produced once (by a thread) and awaited by any number of tasks.
final class Completion<Value: Sendable>: Sendable {
    private struct State {
        var value: Value?
        var waiters = WaiterList<Void, Value>()
    }

    private let state = Mutex(State())

    /// The value, if produced.
    var current: Value? { state.withLock { $0.value } }

    func complete(_ value: Value) {
        state.withLock { state in
            state.value = value
            return state.waiters.takeAll()
        }.resume(returning: value)
    }

    func value() async -> Value {
        await state.wait(in: \.waiters, tag: (), onCancel: nil) { $0.value }
    }
}

/// A test's child could not be started.
public struct SpawnFailure: Error, CustomStringConvertible {
    public let description: String
    public init(_ description: String) { self.description = description }
}

/// Starting and reaping a child, shared by ``SpawnedProcess`` and ``ProgramToEnd``.
enum POSIXSpawn {
    /// `posix_spawn`s `executable arguments…` with `actions`, in the test process's environment
    /// plus `environment`.
    static func start(
        _ executable: String, _ arguments: [String], environment: [String: String], actions: inout posix_spawn_file_actions_t
    ) throws -> pid_t {
        var variables = ProcessInfo.processInfo.environment
        for (key, value) in environment { variables[key] = value }
        let argv: [UnsafeMutablePointer<CChar>?] = ([executable] + arguments).map { strdup($0) } + [nil]
        let envp: [UnsafeMutablePointer<CChar>?] = variables.map { strdup("\($0.key)=\($0.value)") } + [nil]
        defer { for pointer in argv + envp { free(pointer) } }
        var pid: pid_t = 0
        let spawned = posix_spawn(&pid, executable, &actions, nil, argv, envp)
        guard spawned == 0 else { throw SpawnFailure("cannot start \(executable): error \(spawned)") }
        return pid
    }

    /// Blocks the calling thread in `waitpid` until `pid` has ended.
    static func reap(_ pid: pid_t) -> ChildStatus {
        var status: Int32 = 0
        while waitpid(pid, &status, 0) < 0, errno == EINTR {}
        return ChildStatus(waitStatus: status)
    }
}

/// glibc calls that Swift's Glibc module does not import (they are declared under `_GNU_SOURCE`),
/// looked up by name; a test that needs one and cannot find it fails to start its child.
enum GNUCalls {
    private typealias AddCloseFrom = @convention(c) (UnsafeMutablePointer<posix_spawn_file_actions_t>, Int32) -> Int32
    private typealias Pipe2 = @convention(c) (UnsafeMutablePointer<Int32>, Int32) -> Int32

    private static func lookup<Function>(_ name: String, as type: Function.Type) throws -> Function {
        guard let symbol = dlsym(nil, name) else { throw SpawnFailure("\(name) is not in this C library") }
        return unsafeBitCast(symbol, to: type)
    }

    /// `posix_spawn_file_actions_addclosefrom_np`: the child closes every descriptor from `lowest` on.
    static func addCloseFrom(_ actions: inout posix_spawn_file_actions_t, _ lowest: Int32) throws {
        let call = try lookup("posix_spawn_file_actions_addclosefrom_np", as: AddCloseFrom.self)
        let result = call(&actions, lowest)
        guard result == 0 else { throw SpawnFailure("posix_spawn_file_actions_addclosefrom_np: error \(result)") }
    }

    /// `pipe2(_, O_CLOEXEC)`: a pipe whose ends no child inherits unless it is given them.
    static func closeOnExecPipe() throws -> (read: Int32, write: Int32) {
        let call = try lookup("pipe2", as: Pipe2.self)
        var ends: [Int32] = [0, 0]
        guard call(&ends, O_CLOEXEC) == 0 else { throw SpawnFailure("pipe2: errno \(errno)") }
        return (ends[0], ends[1])
    }
}
