import ArgumentParser
import Foundation
import NIOCore
import NIOPosix

/// The load of `tandem-bench serve`: each client is one keep-alive HTTP/1.1 connection that posts a
/// query, reads its event stream to the end, and posts the next until the deadline.
///
/// Written on raw NIO channels with the request bytes prepared once and the response only scanned
/// (status, `event: done`, the chunked body's last chunk), on one event-loop thread: the load
/// generator shares the machine's two cores with the server, and the less it spends per run the
/// more the figures are the server's own.
struct StreamingLoadGenerator {
    let port: Int
    let group: any EventLoopGroup

    /// Runs `clients` concurrent clients until `deadline`; returns each run's time to the end of
    /// its stream, in milliseconds.
    func run(clients: Int, body: String, until deadline: NIODeadline) async throws -> [Double] {
        let request = Self.request(body: body)
        let results = try await withThrowingTaskGroup(of: [Double].self) { tasks in
            for _ in 0..<clients {
                tasks.addTask {
                    let finished = group.next().makePromise(of: [Double].self)
                    _ = try await ClientBootstrap(group: finished.futureResult.eventLoop)
                        .channelOption(.socketOption(.tcp_nodelay), value: 1)
                        .channelInitializer { channel in
                            channel.eventLoop.makeCompletedFuture {
                                try channel.pipeline.syncOperations.addHandler(
                                    StreamingClient(request: request, deadline: deadline, finished: finished)
                                )
                            }
                        }
                        .connect(host: "127.0.0.1", port: port).get()
                    return try await finished.futureResult.get()
                }
            }
            return try await tasks.reduce(into: []) { $0 += $1 }
        }
        return results
    }

    private static func request(body: String) -> ByteBuffer {
        ByteBuffer(string: "POST /api/reasoning/query HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
            + "Content-Length: \(body.utf8.count)\r\n\r\n\(body)")
    }
}

/// Why a client of the load generator stopped.
enum StreamingClientError: Error, CustomStringConvertible {
    case refused(statusLine: String)
    case noDone
    case closedMidStream

    var description: String {
        switch self {
        case .refused(let statusLine): "the server answered \(statusLine)"
        case .noDone: "a stream ended without `event: done`"
        case .closedMidStream: "the server closed the connection mid-stream"
        }
    }
}

/// One client connection of ``StreamingLoadGenerator``; lives on its channel's event loop.
private final class StreamingClient: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    private static let lastChunk = Array("\r\n0\r\n\r\n".utf8)
    private static let headEnd = Array("\r\n\r\n".utf8)
    private static let okStatus = Array("HTTP/1.1 200".utf8)
    private static let doneEvent = Array("event: done\n".utf8)

    private let request: ByteBuffer
    private let deadline: NIODeadline
    private let finished: EventLoopPromise<[Double]>
    private var latencies: [Double] = []
    private var response: [UInt8] = []
    private var sentAt = NIODeadline.now()
    private var isFinished = false

    init(request: ByteBuffer, deadline: NIODeadline, finished: EventLoopPromise<[Double]>) {
        self.request = request
        self.deadline = deadline
        self.finished = finished
        response.reserveCapacity(4_096)
    }

    func channelActive(context: ChannelHandlerContext) {
        send(context)
        context.fireChannelActive()
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let bytes = unwrapInboundIn(data)
        let headWasIncomplete = !response.contains(Self.headEnd)
        response.append(contentsOf: bytes.readableBytesView)
        if headWasIncomplete, response.contains(Self.headEnd), !response.starts(with: Self.okStatus) {
            let statusLine = String(decoding: response.prefix { $0 != 13 }, as: UTF8.self)
            return finish(context, .failure(StreamingClientError.refused(statusLine: statusLine)))
        }
        guard response.ends(with: Self.lastChunk) else { return }
        guard response.contains(Self.doneEvent) else { return finish(context, .failure(StreamingClientError.noDone)) }
        let now = NIODeadline.now()
        latencies.append(Double((now - sentAt).nanoseconds) / 1e6)
        if now < deadline { send(context) } else { finish(context, .success(latencies)) }
    }

    func channelInactive(context: ChannelHandlerContext) {
        finish(context, .failure(StreamingClientError.closedMidStream))
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        finish(context, .failure(error))
    }

    private func send(_ context: ChannelHandlerContext) {
        response.removeAll(keepingCapacity: true)
        sentAt = .now()
        context.writeAndFlush(wrapOutboundOut(request), promise: nil)
    }

    private func finish(_ context: ChannelHandlerContext, _ result: Result<[Double], any Error>) {
        guard !isFinished else { return }
        isFinished = true
        finished.completeWith(result)
        context.close(promise: nil)
    }
}

extension [UInt8] {
    /// Whether `needle` occurs in the array.
    fileprivate func contains(_ needle: [UInt8]) -> Bool {
        guard count >= needle.count, let first = needle.first else { return needle.isEmpty }
        var start = startIndex
        while let found = self[start...(count - needle.count)].firstIndex(of: first) {
            if self[found..<(found + needle.count)].elementsEqual(needle) { return true }
            start = found + 1
            if start > count - needle.count { return false }
        }
        return false
    }

    fileprivate func ends(with suffix: [UInt8]) -> Bool {
        count >= suffix.count && self[(count - suffix.count)...].elementsEqual(suffix)
    }
}
