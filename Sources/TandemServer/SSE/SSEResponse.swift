import HTTPTypes
import Hummingbird
import Logging
import NIOCore
import ServiceLifecycle
import TandemDomain
import TandemRuns

/// Where a stream's frames come from.
enum FrameSource: Sendable {
    /// A run this request just started: frames straight from its orchestrator.
    case live(RunStream)
    /// A run read back from the journal (replay, resume, follow).
    case journal(RunFollower)
    /// A finished run's frames read from elsewhere (the fleet store).
    case replayed([SSEFrame])
}

/// Builds `text/event-stream` responses: writes each frame as it comes, `: ping` while idle, and
/// always ends after the terminal `done` frame.
struct SSEResponse {
    let pings: PingTicker
    let coordinator: RunCoordinator
    let departures: ClientDepartures
    let logger: Logger

    func response(runID: String, source: FrameSource, channel: any Channel) -> Response {
        var headers = HTTPFields()
        headers[.contentType] = "text/event-stream; charset=utf-8"
        headers[.cacheControl] = "no-cache"
        headers[HTTPField.Name("X-Request-ID")!] = runID
        headers[HTTPField.Name("X-Accel-Buffering")!] = "no"
        let items: AsyncStream<StreamItem>
        let sink: AsyncStream<StreamItem>.Continuation
        switch source {
        case .live(let stream):
            (items, sink) = (stream.items, stream.pings)
        case .journal, .replayed:
            (items, sink) = AsyncStream.makeStream(of: StreamItem.self)
        }
        // Registered before the head goes out: a client that has the head gets every tick's ping.
        let pingRegistration = pings.register(sink)
        return Response(status: .ok, headers: headers, body: ResponseBody { writer in
            defer { pings.unregister(pingRegistration) }
            // A live run records its client leaving and ends with `done`; a read-back just stops.
            departures.watch(channel) {
                if case .live(let stream) = source { stream.control.clientDisconnected() } else { sink.finish() }
            }
            defer { departures.stopWatching(channel) }
            do {
                try await withGracefulShutdownHandler {
                    try await pump(source, items: items, sink: sink, into: &writer)
                } onGracefulShutdown: {
                    coordinator.beginShutdown()
                }
            } catch {
                // The client went away mid-write: the run goes on and records the disconnect.
                if case .live(let stream) = source { stream.control.clientDisconnected() }
                logger.debug("stream ended early", metadata: ["run_id": "\(runID)", "error": "\(error)"])
                return
            }
            try await writer.finish(nil)
        })
    }

    /// Writes items (frames and the ticker's pings) until the terminal frame; a read-back's
    /// frames are fed in from the journal alongside.
    private func pump(
        _ source: FrameSource, items: AsyncStream<StreamItem>, sink: AsyncStream<StreamItem>.Continuation,
        into writer: inout any ResponseBodyWriter
    ) async throws {
        try await withThrowingTaskGroup(of: Void.self) { group in
            if case .journal(let follower) = source {
                group.addTask {
                    do {
                        for try await frame in follower {
                            sink.yield(.frames([frame], committedAt: nil))
                            if frame.isTerminal { break }
                        }
                    } catch is CancellationError {
                        // The stream ended first (client gone, shutdown): nothing went wrong.
                    } catch {
                        logger.error("replaying a run from the journal failed", metadata: ["error": "\(error)"])
                    }
                    sink.finish()
                }
            }
            if case .replayed(let frames) = source {
                sink.yield(.frames(frames, committedAt: nil))
                sink.finish()
            }
            defer { group.cancelAll() }
            for await item in items {
                switch item {
                case .ping:
                    try await writer.write(ByteBuffer(bytes: SSEFrame.ping))
                case .frames(let frames, let committedAt):
                    var buffer = ByteBuffer()
                    for frame in frames { buffer.writeBytes(frame.encoded) }
                    try await writer.write(buffer)
                    if let committedAt { coordinator.frameWritten(committedAt: committedAt) }
                    if frames.contains(where: \.isTerminal) { return }
                }
            }
        }
    }
}
