import ServiceLifecycle
import Synchronization
import TandemDomain
import TandemRuns

/// One timer for the `: ping` of every open stream: each interval it hands a ping to every
/// registered stream. A timer and a task per stream cost more than the rest of a short run's
/// streaming; pings only need to come at least once per interval while a stream is open.
///
/// A service of the application, listed first so that it stops last: streams still open during
/// a graceful shutdown's grace period keep getting pings.
final class PingTicker: Service {
    /// A stream's place in the ticker; hand it back to ``unregister(_:)``.
    struct Registration: Sendable {
        fileprivate let id: UInt64
    }

    private struct Streams {
        var nextID: UInt64 = 0
        var sinks: [UInt64: AsyncStream<StreamItem>.Continuation] = [:]
    }

    private let interval: Duration
    private let clock: any MonotonicClock
    private let streams = Mutex(Streams())
    private let afterTick: @Sendable (_ openStreams: Int) -> Void

    /// - Parameter afterTick: called after each tick with the streams still open.
    init(interval: Duration, clock: any MonotonicClock, afterTick: @escaping @Sendable (_ openStreams: Int) -> Void = { _ in }) {
        self.interval = interval
        self.clock = clock
        self.afterTick = afterTick
    }

    /// Pings go to `sink` from the next tick on.
    func register(_ sink: AsyncStream<StreamItem>.Continuation) -> Registration {
        streams.withLock { streams in
            streams.nextID += 1
            streams.sinks[streams.nextID] = sink
            return Registration(id: streams.nextID)
        }
    }

    func unregister(_ registration: Registration) {
        _ = streams.withLock { $0.sinks.removeValue(forKey: registration.id) }
    }

    func run() async throws {
        await cancelWhenGracefulShutdown {
            var due = self.clock.elapsed + self.interval
            while !Task.isCancelled {
                do {
                    try await self.clock.sleep(untilElapsed: due)
                } catch {
                    return
                }
                due = due + self.interval
                self.tick()
            }
        }
    }

    /// Pings every registered stream; forgets those whose reader is gone (a response that never
    /// started, say); reports how many are left.
    private func tick() {
        let sinks = streams.withLock { $0.sinks }
        var finished: [UInt64] = []
        for (id, sink) in sinks {
            if case .terminated = sink.yield(.ping) { finished.append(id) }
        }
        let open = streams.withLock { streams in
            for id in finished { streams.sinks.removeValue(forKey: id) }
            return streams.sinks.count
        }
        afterTick(open)
    }
}
