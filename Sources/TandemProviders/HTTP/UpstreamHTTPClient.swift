public import AsyncHTTPClient
import NIOCore

/// The one `HTTPClient` every upstream call goes through, with a pool sized for the concurrency
/// tandem admits: AsyncHTTPClient's default keeps 8 HTTP/1.1 connections per host, so with more
/// than four runs at once (two calls each) calls queued inside tandem and the queue ate Flash's
/// deadline. HTTP/2 is used where the upstream offers it (TLS with ALPN), one connection then
/// carrying many calls. A connection that cannot be established fails the calls waiting for it
/// instead of being retried inside the pool.
public enum UpstreamHTTPClient {
    /// Connections per upstream host when `TANDEM_UPSTREAM_MAX_CONNECTIONS` is not set.
    public static let defaultMaxConnections = 256

    /// A client keeping up to `maxConnections` HTTP/1.1 connections per host. The caller shuts it
    /// down (`shutdown()`) when done.
    public static func make(maxConnections: Int = defaultMaxConnections) -> HTTPClient {
        var configuration = HTTPClient.Configuration()
        configuration.connectionPool = .init(idleTimeout: .seconds(60), concurrentHTTP1ConnectionsPerHostSoftLimit: max(1, maxConnections))
        // A failed connect fails the call at once (`upstream_connection`), so tandem's own retry
        // policy (backoff with jitter, never past the deadline, each retry journaled) handles it.
        // With AsyncHTTPClient's default the pool retried the connect silently for its whole
        // connect timeout, and a refusing upstream only ever showed as the call's timeout.
        configuration.connectionPool.retryConnectionEstablishment = false
        configuration.httpVersion = .automatic
        return HTTPClient(eventLoopGroupProvider: .singleton, configuration: configuration)
    }
}
