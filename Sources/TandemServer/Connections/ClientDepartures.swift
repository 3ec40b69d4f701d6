import NIOCore
import Synchronization

/// Tells a streaming response that its client went away, while the connection stays reusable.
///
/// Hummingbird's own way (`consumeWithInboundCloseHandler`) reads the request's connection itself
/// and closes it after the response, so every run would pay a new TCP connection. Instead, each
/// connection's pipeline holds a ``DepartureHandler`` that sees the client's end of the socket
/// close (the server allows half-closure, so that arrives as `ChannelEvent.inputClosed`, or as the
/// channel going inactive) and calls whatever the connection's current response registered.
final class ClientDepartures: Sendable {
    /// What is known about one open connection.
    private struct Connection {
        var departed = false
        var onDeparture: (@Sendable () -> Void)?
    }

    private let connections = Mutex<[ObjectIdentifier: Connection]>([:])
    /// How long a connection may stay unwritable (its client accepts no bytes) before it is
    /// closed, which counts as the client leaving (`TANDEM_WRITE_TIMEOUT_S`).
    let writeTimeout: TimeAmount

    init(writeTimeout: TimeAmount = .seconds(30)) {
        self.writeTimeout = writeTimeout
    }

    /// The handler to put in one new connection's pipeline.
    func makeHandler() -> DepartureHandler { DepartureHandler(departures: self) }

    /// Calls `onDeparture` once when the client of `channel` leaves before ``stopWatching(_:)`` —
    /// at once if it already has, or if the connection is no longer open.
    func watch(_ channel: any Channel, onDeparture: @escaping @Sendable () -> Void) {
        let id = ObjectIdentifier(channel)
        let alreadyGone = connections.withLock { connections -> Bool in
            guard connections[id]?.departed == false else { return true }
            connections[id]?.onDeparture = onDeparture
            return false
        }
        if alreadyGone { onDeparture() }
    }

    /// Ends the watch of ``watch(_:onDeparture:)``: the response is over, the connection may serve another.
    func stopWatching(_ channel: any Channel) {
        connections.withLock { $0[ObjectIdentifier(channel)]?.onDeparture = nil }
    }

    fileprivate func opened(_ id: ObjectIdentifier) {
        connections.withLock { $0[id] = Connection() }
    }

    fileprivate func departed(_ id: ObjectIdentifier) {
        let onDeparture = connections.withLock { connections -> (@Sendable () -> Void)? in
            connections[id]?.departed = true
            defer { connections[id]?.onDeparture = nil }
            return connections[id]?.onDeparture
        }
        onDeparture?()
    }

    fileprivate func closed(_ id: ObjectIdentifier) {
        let onDeparture = connections.withLock { $0.removeValue(forKey: id)?.onDeparture }
        onDeparture?()
    }
}

/// The per-connection half of ``ClientDepartures``: passes every request part on unchanged,
/// reports the client's end of the connection closing, and closes a connection that stays
/// unwritable for the write timeout — a client that stopped reading would otherwise hold its
/// response's handler (and a shutdown) forever, since a write waits for the client to take bytes.
final class DepartureHandler: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = NIOAny
    typealias InboundOut = NIOAny

    private let departures: ClientDepartures
    private var id: ObjectIdentifier?
    private var stalled: Scheduled<Void>?

    fileprivate init(departures: ClientDepartures) {
        self.departures = departures
    }

    func handlerAdded(context: ChannelHandlerContext) {
        let id = ObjectIdentifier(context.channel)
        self.id = id
        departures.opened(id)
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        if let id { departures.closed(id) }
        id = nil
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        context.fireChannelRead(data)
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if let event = event as? ChannelEvent, event == .inputClosed, let id {
            departures.departed(id)
        }
        context.fireUserInboundEventTriggered(event)
    }

    func channelInactive(context: ChannelHandlerContext) {
        stalled?.cancel()
        stalled = nil
        if let id { departures.departed(id) }
        context.fireChannelInactive()
    }

    func channelWritabilityChanged(context: ChannelHandlerContext) {
        if context.channel.isWritable {
            stalled?.cancel()
            stalled = nil
        } else if stalled == nil {
            let channel = context.channel
            stalled = context.eventLoop.scheduleTask(in: departures.writeTimeout) {
                // Closing fails the pending write; the departure callback then ends the stream
                // (a live run journals `client_disconnected`).
                channel.close(promise: nil)
            }
        }
        context.fireChannelWritabilityChanged()
    }
}
