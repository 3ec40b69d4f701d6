import Foundation
import NIOCore
import NIOPosix
import TandemDomain
import TandemJournal
import TandemServer
import TandemHTTPTestSupport
import TandemTestSupport
import Testing

/// Streams on a reused (keep-alive) connection, written and read as raw HTTP/1.1 bytes so that the
/// test sees exactly one TCP connection.
@Suite("Keep-alive streaming", .timeLimit(.minutes(1)))
struct KeepAliveTests {
    @Test("Consecutive runs stream on one connection; a client leaving on a reused connection still cancels its run")
    func runsShareOneConnection() async throws {
        let provider = FakeProvider()
        try await TestServer.with(provider: provider) { server in
            let connection = try await RawConnection.open(port: server.port)
            try await connection.channel.executeThenClose { inbound, outbound in
                var reader = RawConnection.Reader(inbound.makeAsyncIterator())
                for n in 1...2 {
                    try await outbound.write(RawConnection.post(#"{"query":"Keep alive","run_id":"keep-\#(n)"}"#))
                    let head = try await reader.read(through: "\r\n\r\n")
                    #expect(head.hasPrefix("HTTP/1.1 200"))
                    #expect(!head.lowercased().contains("connection: close"))
                    await provider.flash.waitForCalls(n)
                    provider.flash.send(.complete("Quick."))
                    _ = try await reader.read(through: "event: preliminary")
                    provider.pro.send(.complete("Verified."))
                    // The stream ends with `done` and the chunked body's last chunk; the connection stays open.
                    let body = try await reader.read(through: "\r\n0\r\n\r\n")
                    #expect(body.contains("event: done"))
                }
                try await outbound.write(RawConnection.post(#"{"query":"Leaving","run_id":"keep-3"}"#))
                _ = try await reader.read(through: "\r\n\r\n")
                await provider.flash.waitForCalls(3)
                await provider.pro.waitForCalls(3)
            }
            // The client closed the connection mid-stream: both calls of the third run are cancelled.
            await provider.flash.waitForEnds(3)
            await provider.pro.waitForEnds(3)
            #expect(provider.flash.cancellations == 1)
            #expect(provider.pro.cancellations == 1)
            let run = try #require(RunID("keep-3"))
            try await waitUntilDone(server, run)
            let all = try events(server, run)
            #expect(all.contains { if case .clientDisconnected = $0 { true } else { false } })
            let first = try #require(RunID("keep-1"))
            #expect(try server.journal.seqs(of: first).isEmpty == false)
        }
    }
}

extension KeepAliveTests {
    @Test("An idle kept-alive connection is closed after TANDEM_IDLE_CONNECTION_S; a stream longer than that is not")
    func idleConnectionsClose() async throws {
        let provider = FakeProvider()
        // Real time (the idle timer is Hummingbird's, on the event loop): long enough that a busy
        // machine delaying the first request after connecting does not look idle.
        let configuration = ServerConfiguration(idleConnectionTimeout: .seconds(1))
        try await TestServer.with(provider: provider, server: configuration) { server in
            let connection = try await RawConnection.open(port: server.port)
            try await connection.channel.executeThenClose { inbound, outbound in
                var reader = RawConnection.Reader(inbound.makeAsyncIterator())
                try await outbound.write(RawConnection.post(#"{"query":"Slow","run_id":"idle-1"}"#))
                _ = try await reader.read(through: "\r\n\r\n")
                // The stream stays open well past the idle timeout: a response in progress is not idle.
                await provider.flash.waitForCalls(1)
                try await Task.sleep(for: .seconds(2))  // the only way to show real idle time passing
                provider.flash.send(.complete("Quick."))
                provider.pro.send(.complete("Verified."))
                let body = try await reader.read(through: "\r\n0\r\n\r\n")
                #expect(body.contains("event: done"))
                // Then, with no next request, the server closes the connection.
                do {
                    _ = try await reader.read(through: "never sent")
                    Issue.record("the server sent more bytes")
                } catch is RawConnection.ConnectionClosed {
                }
            }
        }
    }
}

extension KeepAliveTests {
    @Test("A client following a run (GET …/stream) that leaves does not touch the run: its own client still gets every frame")
    func followerLeaving() async throws {
        let provider = FakeProvider()
        try await TestServer.with(provider: provider) { server in
            let stream = try await query(server, #"{"query":"Followed","run_id":"followed-1"}"#)
            await provider.flash.waitForCalls(1)
            let follower = try await RawConnection.open(port: server.port)
            try await follower.channel.executeThenClose { inbound, outbound in
                var reader = RawConnection.Reader(inbound.makeAsyncIterator())
                try await outbound.write(ByteBuffer(string: "GET /api/runs/followed-1/stream HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"))
                let head = try await reader.read(through: "\r\n\r\n")
                #expect(head.hasPrefix("HTTP/1.1 200"))
            }
            // The follower is gone; the run goes on for the client that started it.
            provider.flash.send(.complete("Quick."))
            #expect(try await stream.next()?.event == "preliminary")
            provider.pro.send(.complete("Verified."))
            let rest = try await stream.rest()
            #expect(rest.names == ["final", "done"])
            #expect(rest[1].json["status"] as? String == "ok")
            let run = try #require(RunID("followed-1"))
            #expect(try !events(server, run).contains { if case .clientDisconnected = $0 { true } else { false } })
        }
    }
}

/// One raw TCP connection to the test server.
private struct RawConnection {
    let channel: NIOAsyncChannel<ByteBuffer, ByteBuffer>

    static func open(port: Int) async throws -> RawConnection {
        let channel = try await ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .connect(host: "127.0.0.1", port: port) { channel in
                channel.eventLoop.makeCompletedFuture {
                    try NIOAsyncChannel<ByteBuffer, ByteBuffer>(wrappingChannelSynchronously: channel)
                }
            }
        return RawConnection(channel: channel)
    }

    /// An HTTP/1.1 POST of a query, keep-alive (the default).
    static func post(_ body: String) -> ByteBuffer {
        ByteBuffer(string: "POST /api/reasoning/query HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
            + "Content-Length: \(body.utf8.count)\r\n\r\n\(body)")
    }

    /// Reads the connection's bytes as text, up to a marker.
    struct Reader {
        var bytes: NIOAsyncChannelInboundStream<ByteBuffer>.AsyncIterator
        var pending = ""

        init(_ bytes: NIOAsyncChannelInboundStream<ByteBuffer>.AsyncIterator) {
            self.bytes = bytes
        }

        /// Everything up to and including the next `marker`; fails if the server closes first.
        mutating func read(through marker: String) async throws -> String {
            while true {
                if let range = pending.range(of: marker) {
                    let text = String(pending[..<range.upperBound])
                    pending = String(pending[range.upperBound...])
                    return text
                }
                guard let buffer = try await bytes.next(isolation: #isolation) else {
                    throw ConnectionClosed(waitingFor: marker, received: pending)
                }
                pending += String(buffer: buffer)
            }
        }
    }

    struct ConnectionClosed: Error {
        let waitingFor: String
        let received: String
    }
}
