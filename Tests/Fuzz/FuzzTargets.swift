// The libFuzzer entry point of the reliability suite's fuzzing part (Tools/reliability/fuzzing.py).
// Built with `swiftc -sanitize=fuzzer` together with the tandem source files each target needs
// (their `import Tandem…` lines removed: here they are one module). FUZZ_TARGET picks the target.
import Foundation

/// The fuzzed code paths; each must answer any bytes without trapping.
enum FuzzTarget: String {
    /// The request body parser's JSON front end: the fast common-form parser, then the Foundation
    /// decoder the server falls back to, and the field checks a query body goes through.
    case requestBody = "request_body"
    /// The upstream SSE parser, fed the input in two pieces split at its first byte's value.
    case upstreamSSE = "upstream_sse"
    /// The journal line parser (`EntryLine.parse`): a line it takes rebuilds to the same bytes.
    case journalLine = "journal_line"
    /// The redaction scanners over text, and over the input parsed as JSON.
    case redaction

    static let current: FuzzTarget = {
        guard let name = ProcessInfo.processInfo.environment["FUZZ_TARGET"], let target = FuzzTarget(rawValue: name) else {
            FileHandle.standardError.write(Data("FUZZ_TARGET must be request_body, upstream_sse, journal_line or redaction\n".utf8))
            exit(2)
        }
        return target
    }()
}

let redactor = Redactor(enabled: true)

/// An input slower than this is a failure (FUZZ_SLOW_MS, 100 by default): scanners must stay linear.
let slowLimitNanoseconds: UInt64 = UInt64(ProcessInfo.processInfo.environment["FUZZ_SLOW_MS"].flatMap { UInt64($0) } ?? 100) * 1_000_000

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzOneInput(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let bytes = UnsafeRawBufferPointer(start: data, count: size)
    let start = DispatchTime.now().uptimeNanoseconds
    run(FuzzTarget.current, bytes)
    let took = DispatchTime.now().uptimeNanoseconds - start
    if took > slowLimitNanoseconds {
        // A trap makes libFuzzer keep the input as a crash artifact, like any other failure.
        FileHandle.standardError.write(Data("slow unit: \(took / 1_000_000) ms for \(size) bytes\n".utf8))
        abort()
    }
    return 0
}

func run(_ target: FuzzTarget, _ bytes: UnsafeRawBufferPointer) {
    let size = bytes.count
    switch target {
    case .requestBody:
        let parsed = JSONValue.parseCommonForm(bytes)
        let decoded = try? JSONDecoder().decode(JSONValue.self, from: Data(bytes))
        // What the common form accepts, the full decoder must read the same way.
        if let parsed, let decoded, parsed != decoded {
            fatalError("common-form parse differs from JSONDecoder: \(parsed) vs \(decoded)")
        }
        if case .object(let fields)? = parsed ?? decoded {
            if case .string(let query)? = fields["query"] { _ = query.unicodeScalars.contains { !$0.properties.isWhitespace } }
            if case .object(let context)? = fields["context"] { _ = context.count }
            if case .string(let id)? = fields["run_id"] { _ = RunID(id) }
        }
    case .upstreamSSE:
        var parser = SSEParser()
        let cut = size == 0 ? 0 : Int(bytes[0]) % (size + 1)
        _ = parser.feed(bytes[..<cut])
        _ = parser.feed(bytes[cut...])
        _ = parser.finish()
    case .journalLine:
        if let layout = try? EntryLine.parse(bytes) {
            // A line that parses is rebuilt from its fields to the same bytes.
            precondition(layout.runID.upperBound <= size && layout.data.upperBound <= size && layout.prev.upperBound <= size)
            // The envelope is checked here, the payload by `verify --payloads`: a payload the writer
            // would refuse (a CR inside, say) may parse, but the run id always obeys its rules.
            guard let runID = RunID(String(decoding: bytes[layout.runID], as: UTF8.self)) else {
                preconditionFailure("a journal line parsed with an invalid run id")
            }
            if let entry = try? PendingEntry(runID: runID, type: String(decoding: bytes[layout.type], as: UTF8.self), data: Array(bytes[layout.data])) {
                var line: [UInt8] = []
                _ = EntryLine.build(into: &line, seq: layout.seq, timestamp: Array(bytes[layout.ts]), entry: entry, prev: Array(bytes[layout.prev]))
                precondition(line.elementsEqual(bytes), "a parsed journal line does not rebuild to its bytes")
            }
        }
    case .redaction:
        let text = String(decoding: bytes, as: UTF8.self)
        _ = redactor.redact(text)
        if let value = JSONValue.parseCommonForm(bytes) { _ = redactor.redact(value) }
    }
}
