import TandemTestSupport
import Testing

/// The CLI's failures, as an operator reads them on standard error.
@Suite("CLI errors", .timeLimit(.minutes(1)))
struct CLIErrorTests {
    @Test("No projections yet: one line saying what to run, exit 1")
    func noProjections() throws {
        let directory = try TemporaryDirectory()
        let result = try TandemExecutable.run(["runs", "list", "--data-dir", directory.path])
        #expect(result.status == 1)
        #expect(result.stderr == "error: no projections at \(directory.path)/projections; run `tandem serve` or `tandem projections rebuild` first\n")
    }

    @Test("A status that is not a record status is refused, naming the ones there are")
    func unknownStatus() throws {
        let directory = try TemporaryDirectory()
        let result = try TandemExecutable.run(["runs", "list", "--data-dir", directory.path, "--status", "done"])
        #expect(result.status != 0)
        #expect(result.stderr.contains("--status must be one of running, ok, partial, timeout, error, cancelled, aborted"))
    }

    @Test("A fault point that is not a seq stops serve with the variable's name", arguments: [
        "TANDEM_PROJECTIONS_TEST_KILL_BEFORE_COMMIT_SEQ", "TANDEM_FLEET_TEST_KILL_BEFORE_COMMIT_SEQ",
    ])
    func faultPointNotASeq(name: String) throws {
        let directory = try TemporaryDirectory()
        let result = try TandemExecutable.run(["serve", "--port", "0", "--data-dir", directory.path], environment: [name: "soon"])
        #expect(result.status != 0)
        #expect(result.stderr.contains("\(name) must be a seq (got 'soon')"), "\(result.stderr)")
    }
}
