import Foundation
import HTTPTypes
import Hummingbird

/// Refuses what a hostile web page could make an operator's browser send (SPEC §11 "Cross-site"),
/// before authentication and before any route runs, so a refused request journals nothing:
///
/// 1. When the server listens on a loopback address, a `Host` other than `localhost`, `127.0.0.1`,
///    `[::1]` (any port) or a name in `TANDEM_ALLOWED_HOSTS` → 421 `misdirected_request`: a page
///    that rebinds its own name to 127.0.0.1 reaches the port, but with its own name as `Host`.
/// 2. A request other than GET/HEAD whose `Origin` is neither the server's own (`http://` or
///    `https://` + the `Host` that passed 1.) nor in `TANDEM_ALLOWED_ORIGINS` → 403
///    `origin_not_allowed`; `Origin: null` (sandboxed frames, `file:` pages) is foreign.
/// 3. A POST with a body whose `Content-Type` is not `application/json` or `application/*+json`
///    (parameters allowed; a missing type too) → 415 `unsupported_media_type`: the content types a
///    cross-site form or `fetch` may send without a preflight (`text/plain`, form encodings) are
///    exactly the ones refused.
///
/// Cheap on the hot path: a few header reads and comparisons of short strings, no allocation on
/// a request that passes but the lowercased `Host`.
struct CrossSiteGuard: RouterMiddleware {
    typealias Context = TandemRequestContext

    /// Whether `Host` is checked (the server listens on a loopback address).
    private let checksHost: Bool
    /// Lowercased bare host names accepted besides the loopback names.
    private let allowedHosts: Set<String>
    /// Lowercased origins (`scheme://host[:port]`) accepted besides the server's own.
    private let allowedOrigins: Set<String>

    init(listeningOn address: String, allowedHosts: [String], allowedOrigins: [String]) {
        checksHost = Self.isLoopback(address)
        self.allowedHosts = Set(allowedHosts.map { $0.lowercased() })
        self.allowedOrigins = Set(allowedOrigins.map { Self.normalizedOrigin($0) })
    }

    @concurrent
    func handle(_ request: Request, context: Context, next: @concurrent (Request, Context) async throws -> Response) async throws -> Response {
        let host = request.head.authority?.lowercased()
        if checksHost, let host, !isAllowedHost(Self.hostName(of: host)) {
            return APIError.misdirectedRequest.response
        }
        let method = request.method
        if method != .get, method != .head {
            if let origin = request.headers[.origin], !isAllowedOrigin(origin.lowercased(), host: host) {
                return APIError.originNotAllowed.response
            }
            if method == .post, Self.hasBody(request), !Self.isJSON(request.headers[.contentType]) {
                return APIError.unsupportedMediaType.response
            }
        }
        return try await next(request, context)
    }

    // MARK: Host

    private func isAllowedHost(_ name: Substring) -> Bool {
        name == "localhost" || name == "127.0.0.1" || name == "[::1]" || allowedHosts.contains(String(name))
    }

    /// `authority` without its port: `[::1]:8080` → `[::1]`, `localhost:8080` → `localhost`.
    static func hostName(of authority: String) -> Substring {
        if authority.hasPrefix("["), let close = authority.firstIndex(of: "]") {
            return authority[...close]
        }
        return authority.split(separator: ":", maxSplits: 1, omittingEmptySubsequences: false).first ?? ""
    }

    /// Whether `address` (what the server binds) is a loopback address or `localhost`.
    static func isLoopback(_ address: String) -> Bool {
        let address = address.lowercased()
        return address == "localhost" || address == "::1" || address == "[::1]" || address.hasPrefix("127.")
    }

    // MARK: Origin

    private func isAllowedOrigin(_ origin: String, host: String?) -> Bool {
        if let host, origin.hasSuffix(host) {
            let scheme = origin.dropLast(host.utf8.count)
            if scheme == "http://" || scheme == "https://" { return true }
        }
        return allowedOrigins.contains(origin)
    }

    /// An origin as browsers send it: lowercased, without a trailing slash.
    static func normalizedOrigin(_ origin: String) -> String {
        var origin = origin.lowercased()
        while origin.hasSuffix("/") { origin.removeLast() }
        return origin
    }

    // MARK: Content type

    private static func hasBody(_ request: Request) -> Bool {
        if request.headers[.transferEncoding] != nil { return true }
        guard let length = request.headers[.contentLength] else { return false }
        return length != "0"
    }

    /// `application/json` or `application/<anything>+json`, with or without parameters (ASCII
    /// case-insensitive; blanks around the media type ignored). Reads the bytes once: every POST
    /// passes here.
    static func isJSON(_ contentType: String?) -> Bool {
        guard let contentType else { return false }
        var utf8 = Substring(contentType).utf8
        if let semicolon = utf8.firstIndex(of: UInt8(ascii: ";")) { utf8 = utf8[..<semicolon] }
        let isBlank = { (byte: UInt8) in byte == UInt8(ascii: " ") || byte == UInt8(ascii: "\t") }
        while let first = utf8.first, isBlank(first) { utf8 = utf8.dropFirst() }
        while let last = utf8.last, isBlank(last) { utf8 = utf8.dropLast() }
        let prefix = "application/".utf8
        let suffix = "+json".utf8
        let lowered = utf8.lazy.map { (0x41...0x5A).contains($0) ? $0 | 0x20 : $0 }
        guard lowered.starts(with: prefix) else { return false }
        let subtype = lowered.dropFirst(prefix.count)
        if subtype.elementsEqual("json".utf8) { return true }
        guard subtype.count > suffix.count, subtype.reversed().starts(with: suffix.reversed()) else { return false }
        return !subtype.dropLast(suffix.count).contains(UInt8(ascii: "/"))
    }
}
