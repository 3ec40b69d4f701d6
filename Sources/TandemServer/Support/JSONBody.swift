import HTTPTypes
import Hummingbird
import NIOCore
import TandemDomain

/// JSON response bodies, encoded canonically.
enum JSONBody {
    /// `X-Content-Type-Options` (HTTPTypes has no constant for it).
    static let contentTypeOptions = HTTPField.Name("X-Content-Type-Options")!

    static func encode(_ value: some Encodable) -> [UInt8] {
        (try? CanonicalJSON.encode(value)) ?? Array(#"{"error":"response could not be encoded","code":"internal"}"#.utf8)
    }

    /// The headers of every API JSON response: its type, no sniffing it as anything else, and no
    /// caching (runs and journal state are live and may hold personal data).
    static func addAPIHeaders(_ headers: inout HTTPFields) {
        headers[.contentType] = "application/json; charset=utf-8"
        headers[contentTypeOptions] = "nosniff"
        headers[.cacheControl] = "no-store"
    }

    /// A `200` (or `status`) JSON response.
    static func response(_ value: some Encodable, status: HTTPResponse.Status = .ok) -> Response {
        var headers = HTTPFields()
        addAPIHeaders(&headers)
        return Response(status: status, headers: headers, body: .init(byteBuffer: ByteBuffer(bytes: encode(value))))
    }

    /// A response whose body is already-encoded JSON.
    static func raw(_ bytes: [UInt8], status: HTTPResponse.Status = .ok) -> Response {
        var headers = HTTPFields()
        addAPIHeaders(&headers)
        return Response(status: status, headers: headers, body: .init(byteBuffer: ByteBuffer(bytes: bytes)))
    }
}
