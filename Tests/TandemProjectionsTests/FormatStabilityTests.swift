import Logging
import TandemDomain
import TandemJournal
import TandemTestSupport
import Testing

@testable import TandemProjections

/// The bytes tandem stores do not change when its code does: a fixed workload at a fixed clock
/// must give the journal lines and the projection digest the release before wrote.
///
/// The expected values were computed by the code before `TandemStorage` (commit 086630c) running
/// this same test; a change of the journal's line format, its chain, or of what the projection
/// store keeps shows up here, and is a format change (a new format marker), never a silent one.
@Suite("Format stability")
struct FormatStabilityTests {
    /// The journal's head: its seq, and the SHA-256 of its last line, which holds the SHA-256 of
    /// the line before, and so on — a digest of every byte of every line.
    static let expectedHead = (seq: UInt64(342), hash: "365da4e0d4b2be55205fa15d2659cd699ffd2cefcdc891c48c3dbf038424fe1a")
    static let expectedProjectionDigest = "68b4bcb8f12a841ad700f989bc80b8fde586fbe469df8dfa6e5d74699197b239"

    @Test("A fixed workload gives the journal bytes and projection digest of the previous release")
    func bytesAreUnchanged() async throws {
        let directory = try TemporaryDirectory()
        // Every entry gets the same timestamp: the writer never goes back in time, so it stays put.
        let clock = JournalClock { 1_767_225_600_000_000 }
        let journal = try Journal(JournalConfiguration(directory: directory.path, clock: clock), logger: Logger(label: "test"))
        defer { journal.close() }
        _ = try await Workload.append(runs: 48, to: journal)

        let head = try journal.head()
        #expect(try journal.verify().isValid)
        let location = ProjectionLocation(dataDirectory: directory.path)
        let rebuilt = try ProjectionRebuild.rebuild(journal: journal, location: location, name: location.newName())
        let projection = try rebuilt.store.digest()

        #expect(head.seq == Self.expectedHead.seq)
        #expect(head.hashHex == Self.expectedHead.hash)
        #expect(projection.checkpoint == head.seq)
        #expect(projection.digest == Self.expectedProjectionDigest)
    }
}
