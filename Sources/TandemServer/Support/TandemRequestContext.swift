public import Hummingbird
import NIOCore

/// The per-request context: Hummingbird's core storage, the client's address, and the API key id
/// set by ``APIKeyAuthenticator``.
public struct TandemRequestContext: RequestContext {
    public var coreContext: CoreRequestContextStorage
    /// The peer's IP address.
    public let remoteIP: String?
    /// A short, non-reversible id of the API key used, once authenticated.
    public var keyID: String?

    public init(source: ApplicationRequestContextSource) {
        coreContext = .init(source: source)
        remoteIP = source.channel.remoteAddress?.ipAddress
    }
}
