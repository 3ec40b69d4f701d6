import Foundation
import TandemHTTPTestSupport
import TandemTestSupport
import Testing

/// The CLI's failures, as an operator reads them on standard error.
@Suite("CLI errors", .timeLimit(.minutes(1)))
struct CLIErrorTests {
    @Test("No projections yet: one line saying what to run, exit 1")
    func noProjections() async throws {
        let directory = try TemporaryDirectory()
        let result = try await TandemExecutable.run(["runs", "list", "--data-dir", directory.path])
        #expect(result.status == 1)
        #expect(result.stderr == "error: no projections at \(directory.path)/projections; run `tandem serve` or `tandem projections rebuild` first\n")
    }

    @Test("A status that is not a record status is refused, naming the ones there are")
    func unknownStatus() async throws {
        let directory = try TemporaryDirectory()
        let result = try await TandemExecutable.run(["runs", "list", "--data-dir", directory.path, "--status", "done"])
        #expect(result.status != 0)
        #expect(result.stderr.contains("--status must be one of running, ok, partial, timeout, error, cancelled, aborted"))
    }

    /// The fault points of the crash tests, which only the test build `tandem-faults` reads.
    static let faultPoints = [
        "TANDEM_PROJECTIONS_TEST_KILL_BEFORE_COMMIT_SEQ", "TANDEM_FLEET_TEST_KILL_BEFORE_COMMIT_SEQ", "TANDEM_RUN_INDEX_TEST_KILL_BEFORE_FLUSH_SEQ",
    ]

    @Test("tandem-faults: a fault point that is not a seq stops it with the variable's name", arguments: faultPoints)
    func faultPointNotASeq(name: String) async throws {
        let directory = try TemporaryDirectory()
        let result = try await TandemExecutable.run(
            ["serve", "--port", "0", "--data-dir", directory.path], environment: [name: "soon"], executable: TandemExecutable.faultsPath
        )
        #expect(result.status != 0)
        #expect(result.stderr.contains("\(name) must be a seq (got 'soon')"), "\(result.stderr)")
    }

    @Test("tandem serve reads no fault point: with one set to 1 it serves and commits past it", arguments: faultPoints)
    func productionHasNoFaultPoints(name: String) async throws {
        let directory = try TemporaryDirectory()
        let (child, port) = try await RunningTandem.serve(
            ["--data-dir", directory.path],
            environment: [name: "1", "TANDEM_SCRIPTED_FLASH_MS": "1", "TANDEM_SCRIPTED_PRO_MS": "1", "LOG_LEVEL": "info", "GEMINI_API_KEY": ""]
        )
        let stream = try await SSEConnection.open("http://127.0.0.1:\(port)", "/api/reasoning/query", body: #"{"query":"still here"}"#)
        #expect(try await stream.rest().last?.event == "done")
        // The projection commit, the run-index flush (at shutdown at the latest) and the process all survive.
        child.send(SIGTERM)
        #expect(await child.exited().status == .exited(0))
    }
}
