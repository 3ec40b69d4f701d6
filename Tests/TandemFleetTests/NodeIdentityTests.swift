import Foundation
import PostgresNIO
import TandemFleet
import TandemTestSupport
import Testing

@Suite("node identity")
struct NodeIdentityTests {
    @Test("generated at first start, stored in the data dir, the same after a restart")
    func generatedAndKept() throws {
        let directory = try TemporaryDirectory()
        let first = try NodeIdentity.resolve(configured: nil, dataDirectory: directory.path)
        #expect(NodeIdentity.isValid(first))
        #expect(try NodeIdentity.stored(in: directory.path) == first)
        #expect(try NodeIdentity.resolve(configured: nil, dataDirectory: directory.path) == first)
        #expect(try NodeIdentity.resolve(configured: first, dataDirectory: directory.path) == first)
    }

    @Test("a configured id differing from the stored one is refused with a sentence naming both")
    func mismatchRefused() throws {
        let directory = try TemporaryDirectory()
        _ = try NodeIdentity.resolve(configured: "node-a", dataDirectory: directory.path)
        #expect(throws: FleetError.nodeIdentityMismatch(configured: "node-b", stored: "node-a")) {
            try NodeIdentity.resolve(configured: "node-b", dataDirectory: directory.path)
        }
        #expect(FleetError.nodeIdentityMismatch(configured: "node-b", stored: "node-a").description.contains("belongs to node node-a"))
    }

    @Test("ids outside 1-64 of [A-Za-z0-9_.-] are refused", arguments: ["", "has space", "a/b", String(repeating: "x", count: 65), "ü"])
    func invalidRefused(id: String) throws {
        let directory = try TemporaryDirectory()
        #expect(throws: FleetError.invalidNodeID(id)) { try NodeIdentity.resolve(configured: id, dataDirectory: directory.path) }
    }

    @Test("a damaged node id file stops instead of being replaced")
    func damagedFile() throws {
        let directory = try TemporaryDirectory()
        try Data("not a valid id\n".utf8).write(to: URL(fileURLWithPath: directory.path + "/node_id"))
        #expect(throws: FleetError.self) { try NodeIdentity.resolve(configured: nil, dataDirectory: directory.path) }
    }
}

@Suite("fleet URL")
struct FleetURLTests {
    @Test("postgres URLs give host, port, user, password and database; the log form hides the password")
    func parses() throws {
        let configuration = try FleetURL.configuration("postgres://audit:s3cret@db.example:6543/fleet?sslmode=disable")
        #expect(configuration.host == "db.example")
        #expect(configuration.port == 6543)
        #expect(configuration.username == "audit")
        #expect(configuration.password == "s3cret")
        #expect(configuration.database == "fleet")
        #expect(FleetURL.redacted("postgres://audit:s3cret@db.example:6543/fleet") == "postgres://audit:***@db.example:6543/fleet")
    }

    @Test("unusable URLs are refused naming what is wrong", arguments: ["http://u@h/db", "postgres://h/db", "postgres://u@h/db?sslmode=bogus", "nonsense"])
    func refused(url: String) {
        #expect(throws: FleetError.self) { try FleetURL.configuration(url) }
    }
}
