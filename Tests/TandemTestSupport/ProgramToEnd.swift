import Foundation

/// Runs a short program (a setup tool: `initdb`, `pg_ctl`, `mount`) to its end, blocking the
/// calling thread in `waitpid` — for synchronous set-up code; tests await ``SpawnedProcess``.
public enum ProgramToEnd {
    /// Runs a program to its end with `posix_spawn` and `waitpid`, its output in a file.
    ///
    /// Not Foundation's `Process`: the server `pg_ctl start` leaves running inherits whatever the
    /// tool's output was (a pipe would never reach its end), and here a `Process` whose child had
    /// exited was seen never to notice it.
    public static func run(_ executable: String, _ arguments: [String]) throws -> (status: Int32, output: String) {
        let outputPath = FileManager.default.temporaryDirectory.path + "/tandem-tool-\(UUID().uuidString.prefix(8)).log"
        defer { unlink(outputPath) }
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        posix_spawn_file_actions_addopen(&actions, 1, outputPath, O_WRONLY | O_CREAT | O_TRUNC, 0o600)
        posix_spawn_file_actions_adddup2(&actions, 1, 2)
        // Nothing else of the test process: a server the tool leaves running (`pg_ctl start`)
        // would hold another child's pipe open for ever.
        try GNUCalls.addCloseFrom(&actions, 3)
        let pid = try POSIXSpawn.start(executable, arguments, environment: [:], actions: &actions)
        let ended = POSIXSpawn.reap(pid)
        let output = (try? String(contentsOfFile: outputPath, encoding: .utf8)) ?? ""
        return (ended.wasKilled ? 128 + ended.code : ended.code, output)
    }
}
