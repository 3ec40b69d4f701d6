public import Hummingbird
public import NIOCore

/// The per-request context: Hummingbird's core storage, the client's address, and the API key id
/// set by ``APIKeyAuthenticator``.
public struct TandemRequestContext: RequestContext {
    public var coreContext: CoreRequestContextStorage
    /// The connection the request came on (to notice its client leaving mid-stream).
    public let channel: any Channel
    /// The peer's IP address.
    public let remoteIP: String?
    /// A short, non-reversible id of the API key used, once authenticated.
    public var keyID: String?

    public init(source: ApplicationRequestContextSource) {
        coreContext = .init(source: source)
        channel = source.channel
        remoteIP = source.channel.remoteAddress?.ipAddress
    }
}
