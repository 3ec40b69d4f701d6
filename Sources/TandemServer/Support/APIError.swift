import Hummingbird
import NIOCore

/// A refusal: status, stable `code`, a human sentence, and where relevant the offending field and
/// when to retry. Rendered as `{"error": "...", "code": "...", "field"?: "..."}`.
struct APIError: Error, Sendable {
    var status: HTTPResponse.Status
    var code: String
    var message: String
    var field: String?
    var retryAfterSeconds: Int?

    static func invalidJSON(_ detail: String) -> APIError {
        APIError(status: .badRequest, code: "invalid_json", message: "The request body is not valid JSON: \(detail)")
    }

    static func validation(_ field: String, _ message: String) -> APIError {
        APIError(status: .unprocessableContent, code: "validation_error", message: message, field: field)
    }

    static func payloadTooLarge(limit: Int) -> APIError {
        APIError(status: .contentTooLarge, code: "payload_too_large", message: "The request body is larger than \(limit) bytes.")
    }

    /// The body did not arrive in time; the connection is closed (`Connection: close`).
    static func requestTimeout(seconds: Int) -> APIError {
        APIError(
            status: .requestTimeout, code: "request_timeout",
            message: "The request body did not arrive within \(seconds) s; send it at once, then retry."
        )
    }

    static let unauthorized = APIError(
        status: .unauthorized, code: "unauthorized",
        message: "Unauthorized: send a valid API key in x-api-key or Authorization: Bearer."
    )

    /// Too many missing or wrong keys from one client address (`TANDEM_AUTH_FAILURES_PER_MINUTE`).
    static func authFailuresLimited(retryAfter: Int) -> APIError {
        APIError(
            status: .tooManyRequests, code: "rate_limited",
            message: "Too many requests without a valid API key from this address; retry after \(retryAfter) s.", retryAfterSeconds: retryAfter
        )
    }

    static let misdirectedRequest = APIError(
        status: .misdirectedRequest, code: "misdirected_request",
        message: "This server does not answer for that Host: use localhost or 127.0.0.1, or add the name to TANDEM_ALLOWED_HOSTS."
    )

    static let originNotAllowed = APIError(
        status: .forbidden, code: "origin_not_allowed",
        message: "Requests from this Origin are refused: use the console served by this server, or add the origin to TANDEM_ALLOWED_ORIGINS."
    )

    static let unsupportedMediaType = APIError(
        status: .unsupportedMediaType, code: "unsupported_media_type",
        message: "The request body must be JSON: send it with Content-Type: application/json."
    )

    static func rateLimited(retryAfter: Int) -> APIError {
        APIError(
            status: .tooManyRequests, code: "rate_limited",
            message: "Too many requests: this client's rate limit is used up; retry after \(retryAfter) s.", retryAfterSeconds: retryAfter
        )
    }

    static let conflict = APIError(
        status: .conflict, code: "run_id_conflict",
        message: "A run with this run_id already exists for a different request; use a new run_id."
    )
    static let overloaded = APIError(
        status: .serviceUnavailable, code: "overloaded",
        message: "Too many runs in progress; retry shortly.", retryAfterSeconds: 1
    )
    static let shuttingDown = APIError(
        status: .serviceUnavailable, code: "shutting_down",
        message: "The server is shutting down; retry against another instance or after restart.", retryAfterSeconds: 5
    )

    static func journalUnavailable(_ detail: String) -> APIError {
        APIError(
            status: .serviceUnavailable, code: "journal_unavailable",
            message: "The audit journal cannot record runs right now (\(detail)); no run was started.", retryAfterSeconds: 5
        )
    }

    static func projectionLagging(_ detail: String) -> APIError {
        APIError(
            status: .serviceUnavailable, code: "projection_lagging",
            message: "The audit records are behind the journal (\(detail)).", retryAfterSeconds: 1
        )
    }

    static func notFound(_ run: String) -> APIError {
        APIError(status: .notFound, code: "run_not_found", message: "No run with run_id '\(run)' is in the journal.")
    }

    static let verifyInProgress = APIError(
        status: .conflict, code: "verify_in_progress",
        message: "A journal verify is already running; wait for it to finish (GET /api/journal shows its result).",
        retryAfterSeconds: 1
    )

    static let routeNotFound = APIError(status: .notFound, code: "not_found", message: "No such endpoint; see Schemas/openapi.json.")

    static func methodNotAllowed(_ method: String) -> APIError {
        APIError(
            status: .methodNotAllowed, code: "method_not_allowed",
            message: "This endpoint does not take \(method) requests; the Allow header lists the methods it takes."
        )
    }

    static func consoleFileNotFound(_ path: String) -> APIError {
        APIError(status: .notFound, code: "not_found", message: "The console has no file '\(path)'.")
    }

    var response: Response {
        var object: [String: String] = ["error": message, "code": code]
        if let field { object["field"] = field }
        var headers = HTTPFields()
        JSONBody.addAPIHeaders(&headers)
        if let retryAfterSeconds { headers[.retryAfter] = "\(retryAfterSeconds)" }
        if status == .requestTimeout { headers[.connection] = "close" }
        let body = JSONBody.encode(object)
        return Response(status: status, headers: headers, body: .init(byteBuffer: ByteBuffer(bytes: body)))
    }
}
