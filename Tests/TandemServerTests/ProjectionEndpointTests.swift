import Foundation
import NIOHTTP1
import TandemDomain
import TandemJournal
import TandemProviders
import TandemRuns
import TandemServer
import TandemHTTPTestSupport
import TandemTestSupport
import Testing

/// The audit read endpoints over HTTP.
@Suite("Projection endpoints", .timeLimit(.minutes(1)))
struct ProjectionEndpointTests {
    private func json(_ body: String) -> [String: Any] {
        (try? JSONSerialization.jsonObject(with: Data(body.utf8))) as? [String: Any] ?? [:]
    }

    @Test("Read-your-writes: once the client has done, GET /api/runs/{id} returns the completed record")
    func readYourWrites() async throws {
        let provider = FakeProvider()
        try await TestServer.with(provider: provider) { server in
            for index in 0..<5 {
                provider.flash.send(.complete("quick \(index)"))
                provider.pro.send(.complete("verified \(index)"))
                let stream = try await query(server, #"{"query":"q\#(index)","run_id":"ryw-\#(index)"}"#)
                let frames = try await stream.rest()
                #expect(frames.last?.event == "done")
                let response = try await HTTPTestClient.send(server.baseURL, "/api/runs/ryw-\(index)")
                #expect(response.status == 200)
                let record = json(response.body)
                #expect(record["status"] as? String == "ok")
                #expect((record["pro"] as? [String: Any])?["outcome"] as? String == "completed")
                #expect((record["input"] as? [String: Any])?["query"] as? String == "q\(index)")
                #expect(record["last_seq"] as? Int == Int(frames.last?.id ?? 0))
            }
            let missing = try await HTTPTestClient.send(server.baseURL, "/api/runs/never")
            #expect(missing.status == 404)
            #expect(json(missing.body)["code"] as? String == "run_not_found")
        }
    }

    @Test("GET /api/runs pages newest first with a cursor, filters by status, validates its parameters")
    func listing() async throws {
        let provider = FakeProvider()
        try await TestServer.with(provider: provider) { server in
            for index in 0..<6 {
                provider.flash.send(.complete("a"))
                if index % 2 == 0 {
                    provider.pro.send(.complete("b"))
                } else {
                    provider.pro.send(.fail(ProviderError(errorClass: "upstream_http_5xx", message: "x", retryable: true)))
                }
                _ = try await query(server, #"{"query":"q","run_id":"list-\#(index)"}"#).rest()
            }
            let first = json(try await HTTPTestClient.send(server.baseURL, "/api/runs?limit=4").body)
            let firstIDs = (first["runs"] as? [[String: Any]] ?? []).compactMap { $0["run_id"] as? String }
            #expect(firstIDs == ["list-5", "list-4", "list-3", "list-2"])
            let cursor = try #require(first["next_cursor"] as? String)
            let second = json(try await HTTPTestClient.send(server.baseURL, "/api/runs?limit=4&cursor=\(cursor)").body)
            #expect((second["runs"] as? [[String: Any]] ?? []).compactMap { $0["run_id"] as? String } == ["list-1", "list-0"])
            #expect(second["next_cursor"] is NSNull)
            let partial = json(try await HTTPTestClient.send(server.baseURL, "/api/runs?status=partial").body)
            #expect((partial["runs"] as? [[String: Any]] ?? []).count == 3)
            for bad in ["limit=0", "limit=1001", "status=weird", "cursor=zz", "cursor=%2Bf", "cursor=-1", "since=yesterday"] {
                let response = try await HTTPTestClient.send(server.baseURL, "/api/runs?\(bad)")
                #expect(response.status == 422, "\(bad)")
            }
            let experiments = json(try await HTTPTestClient.send(server.baseURL, "/api/experiments?limit=2").body)
            #expect(experiments["count"] as? Int == 2)
            let row = try #require((experiments["experiments"] as? [[String: Any]])?.first)
            for column in ["id", "query", "context", "flash_response", "pro_response", "flash_latency_ms", "pro_latency_ms", "created_at", "user_id", "status"] {
                #expect(row.keys.contains(column), "experiments lacks \(column)")
            }
        }
    }

    @Test("/metrics is valid Prometheus text (parsed by prometheus_client); /api/metrics has the percentiles")
    func metrics() async throws {
        let provider = FakeProvider()
        try await TestServer.with(provider: provider) { server in
            for index in 0..<3 {
                let start = server.clock.elapsed
                let stream = try await query(server)
                await provider.pro.waitForCalls(index + 1)
                server.clock.advance(to: start + .milliseconds(150))
                provider.flash.send(.complete("quick"))
                _ = try await stream.next()
                server.clock.advance(to: start + .milliseconds(2_000))
                provider.pro.send(.complete("verified"))
                _ = try await stream.rest()
            }
            let text = try await HTTPTestClient.send(server.baseURL, "/metrics")
            #expect(text.status == 200)
            #expect(text.headers.first { $0.0.lowercased() == "content-type" }?.1.hasPrefix("text/plain; version=0.0.4") == true)
            let file = server.directory.path + "/metrics.txt"
            try text.body.write(toFile: file, atomically: true, encoding: .utf8)
            let parsed = try await PythonTool.run("Tools/prometheus_check.py", [file])
            #expect(parsed.status == 0, "\(parsed.output)")
            #expect(parsed.output.contains("tandem_model_latency_seconds histogram"))
            #expect(parsed.output.contains("tandem_model_latency_seconds_count [('model', 'flash')] 3\n"))
            #expect(parsed.output.contains("tandem_model_latency_seconds_bucket [('le', '0.16'), ('model', 'flash')] 3\n"))
            #expect(parsed.output.contains("tandem_model_latency_seconds_bucket [('le', '0.08'), ('model', 'flash')] 0\n"))
            #expect(parsed.output.contains("tandem_runs_total [('status', 'ok')] 3\n"))

            let summary = json(try await HTTPTestClient.send(server.baseURL, "/api/metrics").body)
            let flash = try #require(((summary["models"] as? [String: Any])?["flash"] as? [String: Any])?["latency_ms"] as? [String: Any])
            #expect(flash["count"] as? Int == 3)
            #expect(abs((flash["p99"] as? Double ?? 0) - 150) < 1)
            let pro = try #require(((summary["models"] as? [String: Any])?["pro"] as? [String: Any])?["latency_ms"] as? [String: Any])
            #expect((flash["mean"] as? Double ?? 0) < (pro["mean"] as? Double ?? 0))
        }
    }
}

/// Real HTTP output against the JSON Schemas and the OpenAPI document in `Schemas/`.
@Suite("Schemas of HTTP output", .timeLimit(.minutes(1)))
struct HTTPSchemaTests {
    @Test("SSE payloads of every frame kind and GET /api/runs/{id} validate against Schemas/; openapi.json is valid OpenAPI 3.1")
    func schemas() async throws {
        let provider = FakeProvider()
        try await TestServer.with(provider: provider) { server in
            var frames: [ClientFrame] = []
            provider.flash.send(.complete("quick"))
            let answered = try await query(server, #"{"query":"a","run_id":"schema-1","context":{"k":"v"}}"#)
            // Pro answers only once the preliminary frame is out, so that both answer frames occur.
            frames += [try #require(try await answered.next())]
            provider.pro.send(.complete("one\n\ntwo"))
            frames += try await answered.rest()
            provider.flash.send(.fail(ProviderError(errorClass: "upstream_http_5xx", message: "x", retryable: true)))
            provider.pro.send(.fail(ProviderError(errorClass: "upstream_http_5xx", message: "y", retryable: true)))
            frames += try await query(server, #"{"query":"b"}"#).rest()
            #expect(Set(frames.map(\.event)) == ["preliminary", "final", "error", "done"])
            for event in Set(frames.map(\.event)) {
                let file = server.directory.path + "/\(event).ndjson"
                try frames.filter { $0.event == event }.map(\.data).joined(separator: "\n").write(toFile: file, atomically: true, encoding: .utf8)
                let result = try await SchemaChecker.check(mode: "sse/\(event).schema.json", file: file)
                #expect(result.status == 0, "\(event): \(result.output)")
            }
            let record = try await HTTPTestClient.send(server.baseURL, "/api/runs/schema-1")
            let file = server.directory.path + "/record.ndjson"
            try record.body.write(toFile: file, atomically: true, encoding: .utf8)
            let result = try await SchemaChecker.check(mode: "dual-run-record.schema.json", file: file)
            #expect(result.status == 0, "\(result.output)")
            let openapi = try await PythonTool.run("Tools/schema_check.py", ["openapi"])
            #expect(openapi.status == 0, "\(openapi.output)")
        }
    }
}
