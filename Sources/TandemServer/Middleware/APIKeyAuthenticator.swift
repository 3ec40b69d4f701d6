import HTTPTypes
import Hummingbird
import TandemJournal

/// Requires a configured API key on every endpoint but `/health` and the console's files
/// (`TANDEM_API_KEYS`): a browser cannot send a header when it opens a page, and the files hold
/// no data — the console sends the key on every API call it makes.
///
/// Keys are compared as SHA-256 digests in constant time (every configured key is checked, with
/// no early exit), and never stored or journaled: the context gets only ``keyID(of:)``.
struct APIKeyAuthenticator: RouterMiddleware {
    typealias Context = TandemRequestContext

    private let digests: [[UInt8]]

    init(keys: [String]) {
        digests = keys.map { ChainHash.hexBytes(of: Array($0.utf8)) }
    }

    /// A short, non-reversible id of `key` (16 hex digits), safe to journal.
    static func keyID(of key: String) -> String {
        ServerConfiguration.keyID(of: key)
    }

    @concurrent
    func handle(_ request: Request, context: Context, next: @concurrent (Request, Context) async throws -> Response) async throws -> Response {
        guard !digests.isEmpty, !Self.isPublic(request.uri.path) else {
            return try await next(request, context)
        }
        guard let key = Self.presentedKey(request), matches(key) else {
            return APIError.unauthorized.response
        }
        var context = context
        context.keyID = Self.keyID(of: key)
        return try await next(request, context)
    }

    /// Paths served without a key: `/health` and the console's files (never a path that could
    /// step out of `/console/` with `..` or percent-encoding).
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

    private func matches(_ key: String) -> Bool {
        let presented = ChainHash.hexBytes(of: Array(key.utf8))
        var found: UInt8 = 0
        for digest in digests {
            var difference: UInt8 = 0
            for (a, b) in zip(presented, digest) { difference |= a ^ b }
            found |= difference == 0 ? 1 : 0
        }
        return found == 1
    }
}
