import Foundation
import HTTPTypes
import Hummingbird
import NIOCore
import TandemDomain
import TandemJournal
import TandemRuns

/// Turns a `POST /api/reasoning/query` into a ``RunRequest``, or the refusal the contract names.
struct QueryRequestParser {
    static let maxQueryCharacters = 32_768
    static let maxContextBytes = 64 * 1024

    let maxBodyBytes: Int
    /// The longest a body may take to arrive (a body trickled in would hold the connection).
    let bodyTimeout: Duration
    let clock: any MonotonicClock

    func parse(_ request: inout Request, context: TandemRequestContext) async throws(APIError) -> RunRequest {
        if let length = request.headers[.contentLength].flatMap(Int.init), length > maxBodyBytes {
            throw .payloadTooLarge(limit: maxBodyBytes)
        }
        let buffer = try await collectBody(request.body)
        let body: JSONValue
        if let parsed = buffer.withUnsafeReadableBytes({ JSONValue.parseCommonForm($0) }) {
            body = parsed
        } else {
            do {
                body = try JSONDecoder().decode(JSONValue.self, from: Data(buffer.readableBytesView))
            } catch {
                throw .invalidJSON(Self.describe(error))
            }
        }
        guard case .object(let fields) = body else {
            throw .validation("body", "The request body must be a JSON object with a \"query\" string.")
        }
        guard let queryValue = fields["query"], queryValue != .null else {
            throw .validation("query", "\"query\" is required.")
        }
        guard case .string(let query) = queryValue else {
            throw .validation("query", "\"query\" must be a string.")
        }
        // White_Space is the set `CharacterSet.whitespacesAndNewlines` holds.
        guard query.unicodeScalars.contains(where: { !$0.properties.isWhitespace }) else {
            throw .validation("query", "\"query\" must not be empty.")
        }
        // A character is at least one UTF-8 byte: count characters only when the bytes could exceed the limit.
        guard query.utf8.count <= Self.maxQueryCharacters || query.count <= Self.maxQueryCharacters else {
            throw .validation("query", "\"query\" must be at most \(Self.maxQueryCharacters) characters (it has \(query.count)).")
        }
        var contextValue: JSONValue?
        switch fields["context"] {
        case nil, .null?:
            contextValue = nil
        case .object(let members)?:
            var writer = CanonicalWriter()
            JSONValue.object(members).write(&writer)
            let size = writer.bytes.count
            guard size <= Self.maxContextBytes else {
                throw .validation("context", "\"context\" must be at most \(Self.maxContextBytes) bytes of JSON (it has \(size)).")
            }
            contextValue = .object(members)
        default:
            throw .validation("context", "\"context\" must be a JSON object.")
        }
        let stream = try Self.streamMode(fields["stream"])
        let runID = try Self.runID(fields["run_id"], header: request.headers[HTTPField.Name("Idempotency-Key")!])
        let client = ClientInfo(
            ip: context.remoteIP,
            userAgent: request.headers[.userAgent].map { String($0.prefix(256)) },
            keyID: context.keyID
        )
        return RunRequest(
            runID: runID ?? Self.generatedRunID(),
            query: query, context: contextValue, client: client, clientChoseRunID: runID != nil, stream: stream
        )
    }

    /// The whole body, read within ``bodyTimeout`` (the read is cancelled when it passes).
    private func collectBody(_ body: RequestBody) async throws(APIError) -> ByteBuffer {
        let (limit, timeout, clock) = (maxBodyBytes, bodyTimeout, clock)
        let outcome: Result<ByteBuffer, any Error>? = await clock.race({ () async -> Result<ByteBuffer, any Error>? in
            do {
                return .success(try await body.collect(upTo: limit))
            } catch {
                return .failure(error)
            }
        }, within: timeout, else: nil)
        switch outcome {
        case .success(let buffer)?:
            return buffer
        case .failure(is NIOTooManyBytesError)?:
            throw .payloadTooLarge(limit: limit)
        case .failure(let error)?:
            throw .invalidJSON("the body could not be read (\(error))")
        case nil:
            throw .requestTimeout(seconds: Int(timeout.components.seconds))
        }
    }

    /// The request's `stream` field: `answers` when absent.
    private static func streamMode(_ field: JSONValue?) throws(APIError) -> StreamMode {
        switch field {
        case nil, .null?:
            return .answers
        case .string(let value)?:
            if let mode = StreamMode(rawValue: value) { return mode }
        default:
            break
        }
        throw .validation("stream", "\"stream\" must be \"answers\" (whole answers, the default) or \"deltas\" (also each piece as it streams).")
    }

    private static func runID(_ field: JSONValue?, header: String?) throws(APIError) -> RunID? {
        var chosen: String?
        switch field {
        case nil, .null?: chosen = nil
        case .string(let value)?: chosen = value
        default: throw .validation("run_id", "\"run_id\" must be a string of 1-64 characters [A-Za-z0-9_-].")
        }
        if let header {
            if let chosen, chosen != header {
                throw .validation("run_id", "\"run_id\" and the Idempotency-Key header differ; send one or make them equal.")
            }
            chosen = header
        }
        guard let chosen else { return nil }
        guard let runID = RunID(chosen) else {
            throw .validation("run_id", "\"run_id\" must be 1-64 characters of [A-Za-z0-9_-].")
        }
        return runID
    }

    /// 32 lowercase hex digits (a UUID4 without dashes), like the old service's ids. The bits
    /// come from the system's generator (`getrandom`): Foundation's `UUID()` opens and reads
    /// `/dev/urandom` for each id.
    static func generatedRunID() -> RunID {
        var generator = SystemRandomNumberGenerator()
        var bytes = (generator.next() as UInt64, generator.next() as UInt64)
        let hexDigits = Array("0123456789abcdef".utf8)
        let id = withUnsafeMutableBytes(of: &bytes) { bytes in
            bytes[6] = bytes[6] & 0x0F | 0x40  // version 4
            bytes[8] = bytes[8] & 0x3F | 0x80  // RFC 4122 variant
            return String(unsafeUninitializedCapacity: 32) { hex in
                for (offset, byte) in bytes.enumerated() {
                    hex[2 * offset] = hexDigits[Int(byte >> 4)]
                    hex[2 * offset + 1] = hexDigits[Int(byte & 0x0F)]
                }
                return 32
            }
        }
        // 32 characters of [0-9a-f] always make a valid run id.
        return RunID(id)!
    }

    private static func describe(_ error: any Error) -> String {
        if case DecodingError.dataCorrupted(let context) = error {
            return (context.underlyingError as NSError?)?.localizedDescription ?? context.debugDescription
        }
        return "\(error)"
    }
}
