#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import ArgumentParser
import Foundation
import TandemCLI

/// `tandem-faults`: the `tandem` command line with crash-test fault points, for tests only (never
/// shipped). Each variable names a seq; the process kills itself (SIGKILL) at the fault point
/// whose batch reaches it:
/// - `TANDEM_FLEET_TEST_KILL_BEFORE_COMMIT_SEQ`: inside a fleet ship transaction, rows written;
/// - `TANDEM_PROJECTIONS_TEST_KILL_BEFORE_COMMIT_SEQ`: before a projection commit;
/// - `TANDEM_RUN_INDEX_TEST_KILL_BEFORE_FLUSH_SEQ`: inside the journal writer's run-index flush.
@main
struct TandemFaultsMain {
    static func main() async {
        let hooks: ServeFaultHooks
        do throws(NotASeq) {
            var installed = ServeFaultHooks(
                projectionsBeforeCommit: try killSwitch("TANDEM_PROJECTIONS_TEST_KILL_BEFORE_COMMIT_SEQ"),
                runIndexBeforeFlush: try killSwitch("TANDEM_RUN_INDEX_TEST_KILL_BEFORE_FLUSH_SEQ")
            )
            if let kill = try killSwitch("TANDEM_FLEET_TEST_KILL_BEFORE_COMMIT_SEQ") {
                installed.fleetBeforeCommit = { @Sendable seq in kill(seq) }
            }
            hooks = installed
        } catch {
            FileHandle.standardError.write(Data("error: \(error.sentence)\n".utf8))
            exit(64)
        }
        await ServeFaultHooks.$current.withValue(hooks) {
            await TandemCommand.main()
        }
    }

    /// A variable that is not a seq.
    struct NotASeq: Error {
        let sentence: String
    }

    /// The kill switch `name` sets: SIGKILL once a fault point reaches its seq; `nil` when unset.
    static func killSwitch(_ name: String) throws(NotASeq) -> (@Sendable (UInt64) -> Void)? {
        guard let raw = ProcessInfo.processInfo.environment[name] else { return nil }
        guard let seq = UInt64(raw) else { throw NotASeq(sentence: "\(name) must be a seq (got '\(raw)')") }
        return { reached in
            if reached >= seq { kill(getpid(), SIGKILL) }
        }
    }
}
