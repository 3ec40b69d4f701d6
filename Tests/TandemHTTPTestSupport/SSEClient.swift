public import AsyncHTTPClient
public import Foundation
import NIOCore
public import NIOHTTP1

/// One frame as a client sees it.
public struct ClientFrame: Sendable, Equatable {
    public var id: UInt64?
    public var event: String
    public var data: String

    /// The payload parsed as a JSON object.
    public var json: [String: Any] {
        (try? JSONSerialization.jsonObject(with: Data(data.utf8))) as? [String: Any] ?? [:]
    }
}

/// An SSE connection to the test server over real HTTP (AsyncHTTPClient), read incrementally.
/// Cancelling the task that reads it closes the connection, as a browser tab closing would.
public final class SSEConnection: @unchecked Sendable {
    // `@unchecked Sendable`: the mutable state (`buffer`, `iterator`, `pings`) is only touched by
    // `next()`, which tests call from one task at a time.
    public let status: UInt
    public let headers: [(String, String)]
    private var iterator: HTTPClientResponse.Body.AsyncIterator
    private var buffer: [UInt8] = []
    /// `: ping` comments seen so far.
    public private(set) var pings = 0

    init(response: HTTPClientResponse) {
        status = response.status.code
        headers = response.headers.map { ($0.name, $0.value) }
        iterator = response.body.makeAsyncIterator()
    }

    public func header(_ name: String) -> String? {
        headers.first { $0.0.lowercased() == name.lowercased() }?.1
    }

    /// Opens `method path` with `body` and returns once the response head arrived.
    public static func open(
        _ baseURL: String, _ path: String, method: HTTPMethod = .POST, body: String? = nil, headers: [String: String] = [:]
    ) async throws -> SSEConnection {
        var request = HTTPClientRequest(url: baseURL + path)
        request.method = method
        request.headers.add(name: "content-type", value: "application/json")
        for (name, value) in headers { request.headers.add(name: name, value: value) }
        if let body { request.body = .bytes(ByteBuffer(string: body)) }
        let response = try await HTTPClient.shared.execute(request, timeout: .seconds(60))
        return SSEConnection(response: response)
    }

    /// The next frame (pings are counted and skipped), or `nil` at the end of the stream.
    public func next() async throws -> ClientFrame? {
        while true {
            if let frame = takeFrame() { return frame }
            guard let chunk = try await iterator.next() else { return nil }
            buffer += chunk.readableBytesView
        }
    }

    /// Reads every remaining frame.
    public func rest() async throws -> [ClientFrame] {
        var frames: [ClientFrame] = []
        while let frame = try await next() { frames.append(frame) }
        return frames
    }

    /// The whole body as text (for non-SSE responses).
    public func text() async throws -> String {
        while let chunk = try await iterator.next() { buffer += chunk.readableBytesView }
        return String(decoding: buffer, as: UTF8.self)
    }

    private func takeFrame() -> ClientFrame? {
        while let end = blockEnd() {
            let block = String(decoding: buffer[..<end], as: UTF8.self)
            buffer.removeFirst(end + 2)
            var frame = ClientFrame(id: nil, event: "message", data: "")
            var isComment = true
            for line in block.split(separator: "\n", omittingEmptySubsequences: false) {
                if line.hasPrefix(":") { continue }
                isComment = false
                if line.hasPrefix("id: ") { frame.id = UInt64(line.dropFirst(4)) }
                if line.hasPrefix("event: ") { frame.event = String(line.dropFirst(7)) }
                if line.hasPrefix("data: ") { frame.data += String(line.dropFirst(6)) }
            }
            if isComment {
                pings += 1
                continue
            }
            return frame
        }
        return nil
    }

    private func blockEnd() -> Int? {
        guard buffer.count >= 2 else { return nil }
        for index in 0..<(buffer.count - 1) where buffer[index] == 10 && buffer[index + 1] == 10 {
            return index
        }
        return nil
    }
}

/// Plain JSON requests to the test server.
public enum HTTPTestClient {
    /// Sends a request and returns status, headers and body text.
    public static func send(
        _ baseURL: String, _ path: String, method: HTTPMethod = .GET, body: String? = nil, headers: [String: String] = [:]
    ) async throws -> (status: UInt, headers: [(String, String)], body: String) {
        let connection = try await SSEConnection.open(baseURL, path, method: method, body: body, headers: headers)
        return (connection.status, connection.headers, try await connection.text())
    }
}
