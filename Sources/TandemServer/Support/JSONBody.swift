import Hummingbird
import NIOCore
import TandemDomain

/// JSON response bodies, encoded canonically.
enum JSONBody {
    static func encode(_ value: some Encodable) -> [UInt8] {
        (try? CanonicalJSON.encode(value)) ?? Array(#"{"error":"response could not be encoded","code":"internal"}"#.utf8)
    }

    /// A `200` (or `status`) JSON response.
    static func response(_ value: some Encodable, status: HTTPResponse.Status = .ok) -> Response {
        var headers = HTTPFields()
        headers[.contentType] = "application/json; charset=utf-8"
        return Response(status: status, headers: headers, body: .init(byteBuffer: ByteBuffer(bytes: encode(value))))
    }

    /// A response whose body is already-encoded JSON.
    static func raw(_ bytes: [UInt8], status: HTTPResponse.Status = .ok) -> Response {
        var headers = HTTPFields()
        headers[.contentType] = "application/json; charset=utf-8"
        return Response(status: status, headers: headers, body: .init(byteBuffer: ByteBuffer(bytes: bytes)))
    }
}
