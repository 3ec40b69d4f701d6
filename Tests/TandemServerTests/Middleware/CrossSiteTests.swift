import Foundation
import TandemJournal
import TandemHTTPTestSupport
import TandemTestSupport
import Testing

@testable import TandemServer

/// One HTTP/1.1 request sent byte for byte (so `Host`, `Origin` and `Content-Type` are exactly
/// the test's), read to the server's close: status, headers (lowercased names) and body.
func rawExchange(port: Int, _ head: String, body: String = "") async throws -> (status: Int, headers: [String: String], body: String) {
    let client = try StalledClient(port: port, receiveBuffer: 65_536)
    let length = body.isEmpty ? "" : "Content-Length: \(body.utf8.count)\r\n"
    try client.send(head + "\r\n" + length + "Connection: close\r\n\r\n" + body)
    let text = await client.receive(until: "\u{0}never")
    let parts = text.components(separatedBy: "\r\n\r\n")
    let lines = parts[0].components(separatedBy: "\r\n")
    let status = Int(lines.first?.split(separator: " ").dropFirst().first ?? "") ?? 0
    var headers: [String: String] = [:]
    for line in lines.dropFirst() {
        guard let colon = line.firstIndex(of: ":") else { continue }
        headers[line[..<colon].lowercased()] = line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces)
    }
    return (status, headers, parts.dropFirst().joined(separator: "\r\n\r\n"))
}

private func code(_ body: String) -> String? {
    ((try? JSONSerialization.jsonObject(with: Data(body.utf8))) as? [String: Any])?["code"] as? String
}

/// SPEC §11 "Cross-site": what a hostile page could make a browser send is refused, and a refused
/// request journals nothing.
@Suite("Cross-site and DNS-rebinding refusals", .timeLimit(.minutes(1)))
struct CrossSiteTests {
    private let body = #"{"query":"Planted by a web page"}"#

    @Test("A POST whose body is not declared JSON → 415 unsupported_media_type (text/plain, form, none); JSON types with parameters pass")
    func contentType() async throws {
        try await TestServer.with(provider: FakeProvider()) { server in
            for type in ["text/plain", "application/x-www-form-urlencoded", "multipart/form-data; boundary=x", "application/jsonx", "text/json", nil] {
                let header = type.map { "\r\nContent-Type: \($0)" } ?? ""
                let response = try await rawExchange(port: server.port, "POST /api/reasoning/query HTTP/1.1\r\nHost: 127.0.0.1" + header, body: body)
                #expect(response.status == 415, "\(type ?? "no type")")
                #expect(code(response.body) == "unsupported_media_type", "\(type ?? "no type")")
            }
            let verify = try await rawExchange(port: server.port, "POST /api/journal/verify HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: text/plain", body: "{}")
            #expect(verify.status == 415)
            #expect(try server.journal.head().seq == 0, "a refused request journals nothing")
            // A body-less POST needs no type; JSON with parameters and +json types pass the guard.
            let empty = try await rawExchange(port: server.port, "POST /api/journal/verify HTTP/1.1\r\nHost: 127.0.0.1")
            #expect(empty.status == 200)
            for type in ["application/json; charset=utf-8", "Application/JSON", "application/merge-patch+json"] {
                let response = try await rawExchange(
                    port: server.port, "POST /api/reasoning/query HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: \(type)", body: #"{"query": 7}"#
                )
                #expect(response.status == 422, "\(type) passes the guard and reaches validation")
            }
        }
    }

    @Test("Origin: foreign or null → 403 origin_not_allowed on non-GET; the server's own and TANDEM_ALLOWED_ORIGINS pass; GETs are not checked")
    func origin() async throws {
        let configuration = ServerConfiguration(allowedOrigins: ["https://console.example.com"])
        try await TestServer.with(provider: FakeProvider(), server: configuration) { server in
            let json = "\r\nContent-Type: application/json"
            for origin in ["https://evil.example", "null", "http://127.0.0.1:1", "http://localhost:\(server.port)"] {
                let response = try await rawExchange(
                    port: server.port, "POST /api/reasoning/query HTTP/1.1\r\nHost: 127.0.0.1:\(server.port)\r\nOrigin: \(origin)" + json, body: body
                )
                #expect(response.status == 403, "\(origin)")
                #expect(code(response.body) == "origin_not_allowed", "\(origin)")
            }
            let verify = try await rawExchange(port: server.port, "POST /api/journal/verify HTTP/1.1\r\nHost: 127.0.0.1\r\nOrigin: https://evil.example")
            #expect(verify.status == 403)
            #expect(try server.journal.head().seq == 0, "a refused request journals nothing")
            for origin in ["http://127.0.0.1:\(server.port)", "https://console.example.com"] {
                let response = try await rawExchange(
                    port: server.port, "POST /api/reasoning/query HTTP/1.1\r\nHost: 127.0.0.1:\(server.port)\r\nOrigin: \(origin)" + json, body: #"{"query": 7}"#
                )
                #expect(response.status == 422, "\(origin) is allowed")
            }
            let read = try await rawExchange(port: server.port, "GET /api/runs HTTP/1.1\r\nHost: 127.0.0.1\r\nOrigin: https://evil.example")
            #expect(read.status == 200, "a GET is not refused for its Origin (no CORS header lets the page read it)")
            #expect(read.headers["access-control-allow-origin"] == nil)
        }
    }

    @Test("Listening on loopback, a Host other than localhost/127.0.0.1/[::1] or TANDEM_ALLOWED_HOSTS → 421 misdirected_request")
    func host() async throws {
        let configuration = ServerConfiguration(allowedHosts: ["tandem.internal"])
        try await TestServer.with(provider: FakeProvider(), server: configuration) { server in
            for host in ["rebind.evil.example", "rebind.evil.example:\(server.port)", "localhost.evil.example", "127.0.0.2", "[::2]:1"] {
                let read = try await rawExchange(port: server.port, "GET /api/runs HTTP/1.1\r\nHost: \(host)")
                #expect(read.status == 421, "\(host)")
                #expect(code(read.body) == "misdirected_request", "\(host)")
                let post = try await rawExchange(
                    port: server.port, "POST /api/reasoning/query HTTP/1.1\r\nHost: \(host)\r\nContent-Type: application/json", body: body
                )
                #expect(post.status == 421, "\(host)")
            }
            #expect(try server.journal.head().seq == 0, "a refused request journals nothing")
            for host in ["localhost", "LOCALHOST:\(server.port)", "127.0.0.1", "127.0.0.1:\(server.port)", "[::1]", "[::1]:\(server.port)", "tandem.internal:80"] {
                let read = try await rawExchange(port: server.port, "GET /api/runs HTTP/1.1\r\nHost: \(host)")
                #expect(read.status == 200, "\(host)")
            }
        }
    }

    @Test("Listening on a non-loopback address, Host is not checked")
    func hostUncheckedOffLoopback() {
        #expect(!CrossSiteGuard.isLoopback("0.0.0.0"))
        #expect(CrossSiteGuard.isLoopback("127.0.0.1"))
        #expect(CrossSiteGuard.isLoopback("localhost"))
        #expect(CrossSiteGuard.isLoopback("::1"))
    }

    @Test("API JSON responses carry nosniff and no-store; an undeclared method on a known path → 405 with Allow, unknown paths → JSON 404")
    func headersAndMethods() async throws {
        try await TestServer.with(provider: FakeProvider()) { server in
            for path in ["/health", "/api/runs", "/api/journal", "/api/runs/nobody"] {
                let response = try await rawExchange(port: server.port, "GET \(path) HTTP/1.1\r\nHost: 127.0.0.1")
                #expect(response.headers["x-content-type-options"] == "nosniff", "\(path)")
                #expect(response.headers["cache-control"] == "no-store", "\(path)")
            }
            let trace = try await rawExchange(port: server.port, "TRACE /health HTTP/1.1\r\nHost: 127.0.0.1")
            #expect(trace.status == 405)
            #expect(trace.headers["allow"] == "GET")
            #expect(code(trace.body) == "method_not_allowed")
            let put = try await rawExchange(port: server.port, "DELETE /api/runs/abc HTTP/1.1\r\nHost: 127.0.0.1")
            #expect(put.status == 405)
            #expect(put.headers["allow"] == "GET")
            let getVerify = try await rawExchange(port: server.port, "GET /api/journal/verify HTTP/1.1\r\nHost: 127.0.0.1")
            #expect(getVerify.status == 405)
            #expect(getVerify.headers["allow"] == "POST")
            let unknown = try await rawExchange(port: server.port, "GET /api/nothing-here HTTP/1.1\r\nHost: 127.0.0.1")
            #expect(unknown.status == 404)
            #expect(code(unknown.body) == "not_found")
        }
    }
}

@Suite("Content-Type recognition")
struct ContentTypeTests {
    @Test("JSON media types, any case, with parameters and blanks", arguments: [
        "application/json", "Application/JSON", " application/json ; charset=utf-8", "application/json;charset=UTF-8",
        "application/vnd.api+json", "\tAPPLICATION/problem+JSON\t",
    ])
    func json(_ contentType: String) {
        #expect(CrossSiteGuard.isJSON(contentType))
    }

    @Test("Anything else is not JSON", arguments: [
        "", "text/plain", "application/x-www-form-urlencoded", "multipart/form-data; boundary=x", "application/+json",
        "application/a/b+json", "application/jsonp", "text/json", "application/json5", "xapplication/json", "application/ json",
    ])
    func notJSON(_ contentType: String) {
        #expect(!CrossSiteGuard.isJSON(contentType))
    }
}
