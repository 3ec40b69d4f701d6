import ArgumentParser
import AsyncHTTPClient
import NIOCore
import NIOHTTP1

/// Many streams held open at once, each read until a marker frame, so the server's memory can be
/// read while they stay open (`tandem-bench serve`'s 10,000 answers streams, `deltas`' 2,000).
struct OpenStreams {
    let port: Int
    /// The query each stream posts.
    let body: String
    /// What the stream must have sent before it counts as open (e.g. `event: preliminary\n`).
    let marker: String

    /// Posts a query and reads its stream until ``marker``.
    private func openUntilMarker(_ client: HTTPClient) async throws {
        var request = HTTPClientRequest(url: "http://127.0.0.1:\(port)/api/reasoning/query")
        request.method = .POST
        request.headers.add(name: "content-type", value: "application/json")
        request.body = .bytes(ByteBuffer(string: body))
        let response = try await client.execute(request, timeout: .seconds(120))
        guard response.status == .ok else { throw ValidationError("server answered \(response.status)") }
        let wanted = Array(marker.utf8)
        var seen: [UInt8] = []
        for try await chunk in response.body {
            seen += chunk.readableBytesView
            if seen.contains(bytes: wanted) { return }
        }
        throw ValidationError("stream ended before \(marker)")
    }

    /// Opens `streams` streams (each until ``marker``) and keeps them open for a second after the
    /// last one opened, while the caller's server is measured. Returns how many opened, how many
    /// failed to, and why the first that failed did (`nil` when none did).
    func hold(_ client: HTTPClient, streams: Int) async throws -> (opened: Int, failed: Int, firstFailure: String?) {
        let (outcomes, sink) = AsyncStream.makeStream(of: String?.self)
        return try await withThrowingTaskGroup(of: Void.self) { group in
            for index in 0..<streams {
                if index % 500 == 0 && index > 0 { try await Task.sleep(for: .milliseconds(100)) }
                group.addTask {
                    do {
                        try await openUntilMarker(client)
                        sink.yield(nil)
                        try await Task.sleep(for: .seconds(3_600))
                    } catch is CancellationError {
                    } catch {
                        sink.yield("\(error)")
                    }
                }
            }
            var opened = 0
            var failed = 0
            var firstFailure: String?
            for await failure in outcomes {
                if let failure {
                    failed += 1
                    firstFailure = firstFailure ?? failure
                } else {
                    opened += 1
                }
                if opened + failed == streams { break }
            }
            try await Task.sleep(for: .seconds(1))
            group.cancelAll()
            return (opened, failed, firstFailure)
        }
    }
}
