public import TandemRuns

/// How the HTTP server listens and guards its endpoints.
public struct ServerConfiguration: Sendable {
    public var host: String
    public var port: Int
    /// Accepted API keys; empty means no authentication (`TANDEM_API_KEYS`).
    public var apiKeys: [String]
    /// Runs a client may start per minute; 0 disables the limit (`RATE_LIMIT_PER_MINUTE`).
    public var rateLimitPerMinute: Int
    /// The largest request body accepted (413 beyond).
    public var maxBodyBytes: Int
    /// How often `: ping` is sent on an idle stream (`TANDEM_SSE_PING_S`).
    public var ssePingInterval: Duration
    /// How long a kept-alive connection may wait for its next request before it is closed
    /// (`TANDEM_IDLE_CONNECTION_S`); a stream in progress never counts as idle.
    public var idleConnectionTimeout: Duration
    /// How long a client may accept no bytes of a response before its connection is closed
    /// (`TANDEM_WRITE_TIMEOUT_S`); a live run then records `client_disconnected`.
    public var writeTimeout: Duration
    /// How long a request body may take to arrive (`TANDEM_REQUEST_BODY_TIMEOUT_S`); 408 beyond.
    public var requestBodyTimeout: Duration
    /// The secret of `client.key_id` (`TANDEM_KEY_ID_SECRET_FILE`, else the data dir's own).
    public var keyIDSecret: KeyIDSecret
    /// Missing or wrong keys a client address may send per minute before it gets 429
    /// (`TANDEM_AUTH_FAILURES_PER_MINUTE`); 0 turns the throttle off.
    public var authFailuresPerMinute: Int
    /// Host names accepted besides localhost, 127.0.0.1 and [::1] while listening on a loopback
    /// address (`TANDEM_ALLOWED_HOSTS`).
    public var allowedHosts: [String]
    /// Origins (`scheme://host[:port]`) allowed to send requests other than GET/HEAD besides the
    /// server's own (`TANDEM_ALLOWED_ORIGINS`).
    public var allowedOrigins: [String]

    public init(
        host: String = "127.0.0.1",
        port: Int = 8080,
        apiKeys: [String] = [],
        rateLimitPerMinute: Int = 0,
        maxBodyBytes: Int = 256 * 1024,
        ssePingInterval: Duration = .seconds(15),
        idleConnectionTimeout: Duration = .seconds(60),
        writeTimeout: Duration = .seconds(30),
        requestBodyTimeout: Duration = .seconds(10),
        keyIDSecret: KeyIDSecret = .random(),
        authFailuresPerMinute: Int = 20,
        allowedHosts: [String] = [],
        allowedOrigins: [String] = []
    ) {
        self.host = host
        self.port = port
        self.apiKeys = apiKeys
        self.rateLimitPerMinute = rateLimitPerMinute
        self.maxBodyBytes = maxBodyBytes
        self.ssePingInterval = ssePingInterval
        self.idleConnectionTimeout = idleConnectionTimeout
        self.writeTimeout = writeTimeout
        self.requestBodyTimeout = requestBodyTimeout
        self.keyIDSecret = keyIDSecret
        self.authFailuresPerMinute = authFailuresPerMinute
        self.allowedHosts = allowedHosts
        self.allowedOrigins = allowedOrigins
    }
}
