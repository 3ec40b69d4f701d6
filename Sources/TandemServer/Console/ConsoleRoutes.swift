import HTTPTypes
import Hummingbird
import NIOCore

/// `GET /console` and `GET /console/…`: the forensic console's page and its assets.
///
/// The files hold no data (every number on the page comes from the API, with the API key), so
/// they are served without authentication. Every response carries a strict
/// `Content-Security-Policy`: scripts, styles and connections only from this origin, no inline
/// script or style, no framing.
struct ConsoleRoutes {
    static let contentSecurityPolicy = [
        "default-src 'self'", "script-src 'self'", "style-src 'self'", "img-src 'self'", "connect-src 'self'",
        "object-src 'none'", "base-uri 'none'", "form-action 'self'", "frame-ancestors 'none'",
    ].joined(separator: "; ")

    func register(on router: Router<TandemRequestContext>) {
        router.get("/console") { _, _ in file("index.html") }
        router.get("/console/**") { _, context in
            file(context.parameters.getCatchAll().joined(separator: "/"))
        }
    }

    private func file(_ path: String) -> Response {
        guard let asset = ConsoleAssets.asset(at: path) else {
            return APIError.consoleFileNotFound(path).response
        }
        var headers = HTTPFields()
        headers[.contentType] = asset.contentType
        headers[.cacheControl] = "no-cache"
        headers[.contentSecurityPolicy] = Self.contentSecurityPolicy
        headers[JSONBody.contentTypeOptions] = "nosniff"
        headers[HTTPField.Name("Referrer-Policy")!] = "no-referrer"
        return Response(status: .ok, headers: headers, body: .init(byteBuffer: ByteBuffer(bytes: asset.body)))
    }
}
