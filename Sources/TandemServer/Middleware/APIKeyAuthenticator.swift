import HTTPTypes
import Hummingbird
import TandemJournal
import TandemRuns

/// Requires a configured API key on every endpoint but `/health` and the console's files
/// (`TANDEM_API_KEYS`): a browser cannot send a header when it opens a page, and the files hold
/// no data — the console sends the key on every API call it makes.
///
/// Keys are compared as SHA-256 digests in constant time (every configured key is checked, with
/// no early exit), and never stored or journaled: the context gets the key's id, an HMAC under
/// the ``KeyIDSecret`` computed once per configured key here. A client address with too many
/// missing or wrong keys gets 429 (``AuthFailureThrottle``). On `/health` a valid key only marks
/// the request as authenticated (the full health body); a missing or wrong one is no failure.
struct APIKeyAuthenticator: RouterMiddleware {
    typealias Context = TandemRequestContext

    private struct Credential {
        var digest: [UInt8]
        var id: String
    }

    private let credentials: [Credential]
    private let throttle: AuthFailureThrottle

    init(keys: [String], secret: KeyIDSecret, throttle: AuthFailureThrottle) {
        credentials = keys.map { Credential(digest: ChainHash.hexBytes(of: Array($0.utf8)), id: secret.id(of: $0)) }
        self.throttle = throttle
    }

    @concurrent
    func handle(_ request: Request, context: Context, next: @concurrent (Request, Context) async throws -> Response) async throws -> Response {
        guard !credentials.isEmpty else { return try await next(request, context) }
        let path = request.uri.path
        if path == "/health" {
            var context = context
            context.keyID = Self.presentedKey(request).flatMap(matchingID)
            return try await next(request, context)
        }
        guard !Self.isPublic(path) else { return try await next(request, context) }
        let client = context.remoteIP ?? "unknown"
        if let retryAfter = throttle.retryAfter(client) {
            return APIError.authFailuresLimited(retryAfter: retryAfter).response
        }
        guard let id = Self.presentedKey(request).flatMap(matchingID) else {
            if let retryAfter = throttle.recordFailure(client) {
                return APIError.authFailuresLimited(retryAfter: retryAfter).response
            }
            return APIError.unauthorized.response
        }
        var context = context
        context.keyID = id
        return try await next(request, context)
    }

    /// Paths served without a key: `/health` (in short) and the console's files (never a path
    /// that could step out of `/console/` with `..` or percent-encoding).
    static func isPublic(_ path: String) -> Bool {
        path == "/health" || path == "/console"
            || (path.hasPrefix("/console/") && !path.contains("..") && !path.contains("%"))
    }

    private static func presentedKey(_ request: Request) -> String? {
        if let key = request.headers[HTTPField.Name("x-api-key")!], !key.isEmpty { return key }
        if let authorization = request.headers[.authorization] {
            let parts = authorization.split(separator: " ", maxSplits: 1)
            if parts.count == 2, parts[0].lowercased() == "bearer" { return String(parts[1]) }
        }
        return nil
    }

    /// The id of the configured key equal to `key`, found without an early exit.
    private func matchingID(_ key: String) -> String? {
        let presented = ChainHash.hexBytes(of: Array(key.utf8))
        var found: String?
        for credential in credentials {
            var difference: UInt8 = 0
            for (a, b) in zip(presented, credential.digest) { difference |= a ^ b }
            if difference == 0 { found = credential.id }
        }
        return found
    }
}
