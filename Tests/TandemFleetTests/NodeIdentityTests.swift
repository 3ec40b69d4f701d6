import Foundation
import NIOSSL
import PostgresNIO
@testable import TandemFleet
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

    @Test("the node secret is made once (0600, 64 hex digits) and only its SHA-256 leaves the data dir; a lost data dir comes back as a new node")
    func secretKept() throws {
        let directory = try TemporaryDirectory()
        let id = try NodeIdentity.resolve(configured: nil, dataDirectory: directory.path)
        let hash = try NodeIdentity.secretHash(in: directory.path)
        #expect(try NodeIdentity.secretHash(in: directory.path) == hash)
        let path = directory.path + "/" + NodeIdentity.secretFileName
        let secret = try String(contentsOfFile: path, encoding: .utf8).trimmingCharacters(in: .newlines)
        #expect(secret.count == 64 && secret != hash && hash.count == 64)
        let permissions = try FileManager.default.attributesOfItem(atPath: path)[.posixPermissions] as? Int
        #expect(permissions == 0o600)
        let replacement = try TemporaryDirectory()
        #expect(try NodeIdentity.resolve(configured: nil, dataDirectory: replacement.path) != id)
        #expect(try NodeIdentity.secretHash(in: replacement.path) != hash)
        try Data("not a secret\n".utf8).write(to: URL(fileURLWithPath: path))
        #expect(throws: FleetError.self) { try NodeIdentity.secretHash(in: directory.path) }
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
    @Test("postgres URLs give host, port, user, password and database; the log form has no password")
    func parses() throws {
        let endpoint = try FleetEndpoint("postgres://audit:s3cret@db.example:6543/fleet?sslmode=disable", environment: [:])
        let configuration = endpoint.clientConfiguration
        #expect(configuration.host == "db.example")
        #expect(configuration.port == 6543)
        #expect(configuration.username == "audit")
        #expect(configuration.password == "s3cret")
        #expect(configuration.database == "fleet")
        #expect(endpoint.displayForm == "postgres://audit@db.example:6543/fleet?sslmode=disable")
    }

    @Test("the password comes from the URL, ?password=, TANDEM_FLEET_PASSWORD_FILE or PGPASSWORD, in that order, and is never in the log form")
    func passwordSources() throws {
        let directory = try TemporaryDirectory()
        let file = directory.path + "/password"
        try Data("from-file\n".utf8).write(to: URL(fileURLWithPath: file))
        let environment = ["TANDEM_FLEET_PASSWORD_FILE": file, "PGPASSWORD": "from-env"]
        let cases: [(String, [String: String], String?)] = [
            ("postgres://u:in-url@h/db", environment, "in-url"),
            ("postgres://u@h/db?password=in-query", environment, "in-query"),
            ("postgres://u@h/db", environment, "from-file"),
            ("postgres://u@h/db", ["PGPASSWORD": "from-env"], "from-env"),
            ("postgres://u@h/db", [:], nil),
        ]
        for (url, environment, password) in cases {
            let endpoint = try FleetEndpoint(url, environment: environment)
            #expect(endpoint.clientConfiguration.password == password, "\(url)")
            for secret in ["in-url", "in-query", "from-file", "from-env"] {
                #expect(!endpoint.displayForm.contains(secret), "\(endpoint.displayForm)")
            }
        }
    }

    @Test("an unusable password file is refused without printing the URL's password")
    func unreadablePasswordFile() {
        #expect {
            try FleetEndpoint("postgres://u:topsecret@h/db?sslmode=bogus", environment: [:])
        } throws: { error in
            !"\(error)".contains("topsecret")
        }
        #expect(throws: FleetError.self) {
            try FleetEndpoint("postgres://u@h/db", environment: ["TANDEM_FLEET_PASSWORD_FILE": "/nonexistent/password"])
        }
    }

    @Test("sslmode follows libpq: require encrypts without verifying, verify-ca checks the chain only, verify-full the host too")
    func sslModes() throws {
        /// "off", or whether TLS is required and how the certificate is checked.
        func mode(_ query: String) throws -> String {
            let endpoint = try FleetEndpoint("postgres://u@h/db?\(query)", environment: [:])
            guard let tls = endpoint.tls else { return "off" }
            return "\(endpoint.tlsRequired ? "required" : "preferred") \(tls.certificateVerification)"
        }
        let unverified: CertificateVerification = .none
        #expect(try mode("sslmode=disable") == "off")
        #expect(try mode("sslmode=prefer") == "preferred \(unverified)")
        #expect(try mode("sslmode=require") == "required \(unverified)")
        #expect(try mode("sslmode=verify-ca") == "required \(CertificateVerification.noHostnameVerification)")
        #expect(try mode("sslmode=verify-full") == "required \(CertificateVerification.fullVerification)")
        let directory = try TemporaryDirectory()
        let root = directory.path + "/root.pem"
        try Data("not checked here".utf8).write(to: URL(fileURLWithPath: root))
        // With a root CA, libpq's require verifies the chain (as verify-ca).
        #expect(try mode("sslmode=require&sslrootcert=\(root)") == "required \(CertificateVerification.noHostnameVerification)")
        #expect(throws: FleetError.self) { try mode("sslmode=verify-full&sslrootcert=/nonexistent.pem") }
    }

    @Test("unusable URLs are refused naming what is wrong", arguments: ["http://u@h/db", "postgres://h/db", "postgres://u@h/db?sslmode=bogus", "nonsense", "postgres://u@h/db?sslcert=x"])
    func refused(url: String) {
        #expect(throws: FleetError.self) { try FleetEndpoint(url, environment: [:]) }
    }
}
