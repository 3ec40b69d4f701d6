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

    /// What a load level measured.
    struct Outcome {
        /// Time to the end of each measured run's stream, in milliseconds.
        var latencies: [Double]
        /// Runs sent, counting the warm-up's.
        var allRuns: Int
        /// From the end of the warm-up to the end of the last measured run.
        var measuredSeconds: Double
    }

    /// Runs `clients` concurrent clients until `deadline`.
    ///
    /// - Parameters:
    ///   - stagger: client `i` of `n` sends its first query `i/n` of this after the start, so that
    ///     clients of a fixed-latency model do not run in lockstep (which would make every
    ///     completion arrive in bursts of `n`).
    ///   - warmUp: runs sent in this first stretch are not measured (connections and caches warm up).
    func run(clients: Int, body: String, stagger: TimeAmount, warmUp: TimeAmount, until deadline: NIODeadline) async throws -> Outcome {
        let request = Self.request(body: body)
        let start = NIODeadline.now()
        let measureFrom = start + max(warmUp, stagger)
        let tallies = try await withThrowingTaskGroup(of: ClientTally.self) { tasks in
            for index in 0..<clients {
                let firstSend = start + .nanoseconds(stagger.nanoseconds * Int64(index) / Int64(clients))
                tasks.addTask {
                    let finished = group.next().makePromise(of: ClientTally.self)
                    _ = try await ClientBootstrap(group: finished.futureResult.eventLoop)
                        .channelOption(.socketOption(.tcp_nodelay), value: 1)
                        .channelInitializer { channel in
                            channel.eventLoop.makeCompletedFuture {
                                try channel.pipeline.syncOperations.addHandler(
                                    StreamingClient(
                                        request: request, firstSend: firstSend, measureFrom: measureFrom, deadline: deadline, finished: finished
                                    )
                                )
                            }
                        }
                        .connect(host: "127.0.0.1", port: port).get()
                    return try await finished.futureResult.get()
                }
            }
            return try await tasks.reduce(into: []) { $0.append($1) }
        }
        let end = tallies.map(\.lastCompletion).max() ?? measureFrom
        return Outcome(
            latencies: tallies.flatMap(\.latencies), allRuns: tallies.map(\.runs).reduce(0, +),
            measuredSeconds: Double((end - measureFrom).nanoseconds) / 1e9
        )
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

/// What one client of ``StreamingLoadGenerator`` measured.
private struct ClientTally: Sendable {
    var latencies: [Double] = []
    var runs = 0
    var lastCompletion = NIODeadline.uptimeNanoseconds(0)
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
    private let firstSend: NIODeadline
    private let measureFrom: NIODeadline
    private let deadline: NIODeadline
    private let finished: EventLoopPromise<ClientTally>
    private var tally = ClientTally()
    private var response: [UInt8] = []
    private var sentAt = NIODeadline.now()
    private var isFinished = false

    init(request: ByteBuffer, firstSend: NIODeadline, measureFrom: NIODeadline, deadline: NIODeadline, finished: EventLoopPromise<ClientTally>) {
        self.request = request
        self.firstSend = firstSend
        self.measureFrom = measureFrom
        self.deadline = deadline
        self.finished = finished
        response.reserveCapacity(4_096)
    }

    func channelActive(context: ChannelHandlerContext) {
        context.eventLoop.assumeIsolated().scheduleTask(deadline: firstSend) { self.send(context) }
        context.fireChannelActive()
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let bytes = unwrapInboundIn(data)
        let headWasIncomplete = !response.contains(bytes: Self.headEnd)
        response.append(contentsOf: bytes.readableBytesView)
        if headWasIncomplete, response.contains(bytes: Self.headEnd), !response.starts(with: Self.okStatus) {
            let statusLine = String(decoding: response.prefix { $0 != 13 }, as: UTF8.self)
            return finish(context, .failure(StreamingClientError.refused(statusLine: statusLine)))
        }
        guard response.ends(with: Self.lastChunk) else { return }
        guard response.contains(bytes: Self.doneEvent) else { return finish(context, .failure(StreamingClientError.noDone)) }
        let now = NIODeadline.now()
        tally.runs += 1
        if sentAt >= measureFrom {
            tally.latencies.append(Double((now - sentAt).nanoseconds) / 1e6)
            tally.lastCompletion = now
        }
        if now < deadline { send(context) } else { finish(context, .success(tally)) }
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

    private func finish(_ context: ChannelHandlerContext, _ result: Result<ClientTally, any Error>) {
        guard !isFinished else { return }
        isFinished = true
        finished.completeWith(result)
        context.close(promise: nil)
    }
}

extension [UInt8] {
    /// Whether `needle` occurs in the array (the generic `contains` of the standard library costs
    /// the load generator ten times more CPU per run).
    func contains(bytes needle: [UInt8]) -> Bool {
        guard count >= needle.count, let first = needle.first else { return needle.isEmpty }
        var start = startIndex
        while let found = self[start...(count - needle.count)].firstIndex(of: first) {
            if self[found..<(found + needle.count)].elementsEqual(needle) { return true }
            start = found + 1
            if start > count - needle.count { return false }
        }
        return false
    }

    /// Whether the array's last bytes are `suffix`.
    fileprivate func ends(with suffix: [UInt8]) -> Bool {
        count >= suffix.count && self[(count - suffix.count)...].elementsEqual(suffix)
    }
}
