import Foundation
import NIOHTTP1
import TandemJournal
import TandemHTTPTestSupport
import TandemTestSupport
import Testing

@testable import TandemServer

/// The console's files: embedded as they are in the repository, served with their types and a
/// strict Content-Security-Policy, without a key.
@Suite("Console files", .timeLimit(.minutes(1)))
struct ConsoleRoutesTests {
    /// `Sources/TandemServer/Console/Assets/`, found from this file's place in the repository.
    private static let assetsDirectory = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("Sources/TandemServer/Console/Assets")

    private static func assetFiles() throws -> [String: String] {
        var files: [String: String] = [:]
        let root = assetsDirectory.standardizedFileURL.path
        let enumerator = try #require(FileManager.default.enumerator(atPath: root))
        while let relative = enumerator.nextObject() as? String {
            var isDirectory: ObjCBool = false
            guard FileManager.default.fileExists(atPath: root + "/" + relative, isDirectory: &isDirectory), !isDirectory.boolValue else { continue }
            files[relative] = try String(contentsOfFile: root + "/" + relative, encoding: .utf8)
        }
        return files
    }

    @Test("Every file under Console/Assets is served from its path, byte for byte")
    func embeddedMatchesSources() throws {
        let sources = try Self.assetFiles()
        #expect(!sources.isEmpty)
        #expect(Set(sources.keys) == Set(ConsoleAssets.files.keys), "Console/Assets and ConsoleAssets.files list different files: add the new file to ConsoleAssets.files")
        for (path, text) in sources {
            #expect(ConsoleAssets.files[path] == Array(text.utf8), "\(path) differs from its embedded copy")
        }
    }

    @Test("GET /console serves the page with a strict CSP; assets have their types; an unknown file is a JSON 404")
    func serving() async throws {
        try await TestServer.with(provider: FakeProvider()) { server in
            let page = try await HTTPTestClient.send(server.baseURL, "/console")
            #expect(page.status == 200)
            #expect(header(page.headers, "content-type") == "text/html; charset=utf-8")
            let policy = try #require(header(page.headers, "content-security-policy"))
            #expect(policy.contains("default-src 'self'"))
            #expect(policy.contains("script-src 'self'") && !policy.contains("unsafe-inline") && !policy.contains("unsafe-eval"))
            #expect(header(page.headers, "x-content-type-options") == "nosniff")
            #expect(page.body.contains(#"<script type="module" src="/console/js/app.js"></script>"#))

            for (path, type) in [("/console/js/app.js", "text/javascript; charset=utf-8"), ("/console/console.css", "text/css; charset=utf-8"), ("/console/icon.svg", "image/svg+xml")] {
                let asset = try await HTTPTestClient.send(server.baseURL, path)
                #expect(asset.status == 200, "\(path)")
                #expect(header(asset.headers, "content-type") == type, "\(path)")
                #expect(header(asset.headers, "content-security-policy") == ConsoleRoutes.contentSecurityPolicy)
            }
            let missing = try await HTTPTestClient.send(server.baseURL, "/console/js/nope.js")
            #expect(missing.status == 404)
            #expect(missing.body.contains(#""code":"not_found""#))
        }
    }

    @Test("With API keys on, the console's files need no key and the API calls it makes do")
    func authentication() async throws {
        try await TestServer.with(provider: FakeProvider(), server: .init(port: 0, apiKeys: ["sesame"])) { server in
            let expected: [(path: String, method: HTTPMethod, headers: [String: String], status: UInt)] = [
                ("/console", .GET, [:], 200),
                ("/console/js/api.js", .GET, [:], 200),
                ("/consoles", .GET, [:], 401),
                ("/console/../api/journal", .GET, [:], 401),
                ("/console/%2e%2e/api/journal", .GET, [:], 401),
                ("/api/journal", .GET, [:], 401),
                ("/api/journal/verify", .POST, [:], 401),
                ("/api/journal", .GET, ["x-api-key": "sesame"], 200),
            ]
            for item in expected {
                let response = try await HTTPTestClient.send(server.baseURL, item.path, method: item.method, headers: item.headers)
                #expect(response.status == item.status, "\(item.method) \(item.path)")
            }
        }
    }

    @Test("Content types follow the file's extension; kinds the console has none of are not served")
    func contentTypes() {
        #expect(ConsoleAssets.contentType(of: "index.html") == "text/html; charset=utf-8")
        #expect(ConsoleAssets.contentType(of: "js/pages/run.js") == "text/javascript; charset=utf-8")
        #expect(ConsoleAssets.contentType(of: "secret.txt") == nil)
        #expect(ConsoleAssets.contentType(of: "Makefile") == nil)
        #expect(ConsoleAssets.asset(at: "../Package.swift") == nil)
    }
}

/// The value of the first header named `name` (case-insensitive).
func header(_ headers: [(String, String)], _ name: String) -> String? {
    headers.first { $0.0.lowercased() == name }?.1
}
