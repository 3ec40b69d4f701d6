import Foundation
import Logging
import TandemDomain
import TandemJournal
import TandemTestSupport
import Testing

@Suite("Domain events")
struct DomainEventTests {
    @Test("Every event type has a sample, and the samples cover every type")
    func coverage() {
        #expect(Set(SampleEvents.all.map(\.type)) == Set(DomainEvent.allTypes))
        #expect(DomainEvent.allTypes.count == 20)
    }

    @Test("Encode then decode gives the same event", arguments: SampleEvents.all)
    func roundTrip(event: DomainEvent) throws {
        let data = try event.encodedData()
        #expect(try DomainEvent(type: event.type, data: data) == event)
        // Canonical: encoding the decoded event gives the same bytes.
        #expect(try DomainEvent(type: event.type, data: data).encodedData() == data)
    }

    @Test("Canonical bytes are stable: sorted keys, no spaces, raw UTF-8, unescaped slashes")
    func canonicalBytes() throws {
        let event = DomainEvent.modelCompleted(.flash, ModelCompleted(
            model: "gemini-2.5-flash", content: "a/b ⚡", usage: TokenUsage(inputTokens: 1, outputTokens: 2), latencyMs: 12.34
        ))
        #expect(
            String(decoding: try event.encodedData(), as: UTF8.self)
                == #"{"content":"a/b ⚡","latency_ms":12.34,"model":"gemini-2.5-flash","usage":{"input_tokens":1,"output_tokens":2}}"#
        )
        let context = JSONValue.object(["z": .int(1), "a": .object(["y": .null, "b": .double(1.5)])])
        #expect(String(decoding: try CanonicalJSON.encode(context), as: UTF8.self) == #"{"a":{"b":1.5,"y":null},"z":1}"#)
    }

    @Test("Unknown types and malformed payloads are refused with a clear error")
    func rejects() {
        #expect(throws: DomainEventError.unknownType("flash_exploded")) {
            try DomainEvent(type: "flash_exploded", data: Array("{}".utf8))
        }
        #expect(throws: DomainEventError.unknownType("gpt_started")) {
            try DomainEvent(type: "gpt_started", data: Array("{}".utf8))
        }
        #expect(throws: DomainEventError.self) { try DomainEvent(type: "done", data: Array(#"{"status":"weird","duration_ms":1}"#.utf8)) }
        #expect(throws: DomainEventError.self) { try DomainEvent(type: "done", data: Array("{not json".utf8)) }
        #expect(throws: DomainEventError.self) { try DomainEvent(type: "flash_started", data: Array(#"{"model":"m"}"#.utf8)) }
    }

    @Test("Milliseconds are rounded to 2 decimals")
    func milliseconds() {
        #expect(CanonicalJSON.milliseconds(12.345678) == 12.35)
        #expect(CanonicalJSON.milliseconds(0.004) == 0)
    }

    @Test("Real journal output validates against Schemas/ (jsonschema, draft 2020-12)")
    func schemas() async throws {
        let directory = try TemporaryDirectory()
        let journal = try Journal(JournalConfiguration(directory: directory.path), logger: Logger(label: "test"))
        _ = try await journal.append(SampleEvents.all, for: RunID("schema-run")!)
        let lines = try journal.entries(from: 1).map(\.text).joined(separator: "\n")
        let file = directory.path + "/journal.ndjson"
        try lines.write(toFile: file, atomically: true, encoding: .utf8)
        let result = try await SchemaChecker.check(mode: "journal", file: file)
        #expect(result.status == 0, "\(result.output)")
        #expect(result.output.contains("\(SampleEvents.all.count) valid, 0 invalid"))

        // And the checker is not a rubber stamp: a payload missing a required field fails.
        let bad = directory.path + "/bad.ndjson"
        let broken = lines.split(separator: "\n")[0].replacingOccurrences(of: #""request_digest""#, with: #""digest""#)
        try broken.write(toFile: bad, atomically: true, encoding: .utf8)
        #expect(try await SchemaChecker.check(mode: "journal", file: bad).status == 1)
    }
}

@Suite("Hand-written canonical JSON")
struct CanonicalWriterTests {
    /// What Foundation's `JSONEncoder` (sorted keys, unescaped slashes) gives for the payload.
    private func reference(_ event: DomainEvent) throws -> [UInt8] {
        switch event {
        case .runStarted(let payload): try CanonicalJSON.encode(payload)
        case .modelStarted(_, let payload): try CanonicalJSON.encode(payload)
        case .firstToken(_, let payload): try CanonicalJSON.encode(payload)
        case .modelCompleted(_, let payload): try CanonicalJSON.encode(payload)
        case .modelDelta(_, let payload): try CanonicalJSON.encode(payload)
        case .modelRetry(_, let payload): try CanonicalJSON.encode(payload)
        case .modelTimeout(_, let payload): try CanonicalJSON.encode(payload)
        case .modelFailed(_, let payload): try CanonicalJSON.encode(payload)
        case .modelCancelled(_, let payload): try CanonicalJSON.encode(payload)
        case .clientDisconnected(let payload): try CanonicalJSON.encode(payload)
        case .runAborted(let payload): try CanonicalJSON.encode(payload)
        case .done(let payload): try CanonicalJSON.encode(payload)
        }
    }

    /// Strings and numbers at the edges of JSON escaping and number formatting.
    static let awkwardStrings: [String] = [
        "", "plain", String((0..<32).map { Character(Unicode.Scalar(UInt8($0))) }), #"quote " backslash \ slash /"#,
        "é 😀 \u{7f} \u{2028} \u{FEFF}", "e\u{301}", "line\r\nbreak\ttab",
    ]
    static let awkwardNumbers: [Double] = [
        0, -0.0, 1, -1, 12.5, 0.1, 1e-7, 2.5e-5, 123_456_789.25, 1e15, 1e16, 1e21, 100.0 / 3, 9_007_199_254_740_992,
        9_007_199_254_740_994, -3.75, 0.001, 59_999.99, Double.leastNonzeroMagnitude, Double.greatestFiniteMagnitude,
    ]

    static var events: [DomainEvent] {
        var events = SampleEvents.all
        for (index, text) in awkwardStrings.enumerated() {
            let number = awkwardNumbers[index % awkwardNumbers.count]
            let context: JSONValue = .object([
                text: .string(text), "n": .double(number), "i": .int(-42), "nested": .array([.null, .bool(true), .object(["é": .int(1), "e": .int(2), "\u{FEFF}": .int(3), "😀": .int(4), "\u{E000}": .int(5)])]),
            ])
            events.append(.runStarted(RunStarted(
                query: text, context: context, client: ClientInfo(ip: text, userAgent: nil, keyID: "k"),
                config: RunConfig(flashModel: text, proModel: "p", flashTimeoutS: number, proTimeoutS: 0.5, provider: "s", redaction: "off", onFlashFailure: "continue"),
                requestDigest: text
            )))
            events.append(.modelFailed(.pro, ModelFailed(errorClass: text, message: text, httpStatus: index % 2 == 0 ? nil : 503, retryable: index % 3 == 0)))
        }
        // Deeper than the writer's 64 inline levels, with siblings at every level.
        var deep: JSONValue = .array([.int(1), .int(2)])
        for level in 0..<150 { deep = level % 2 == 0 ? .array([deep, .int(Int64(level))]) : .object(["a": .int(0), "b": deep, "c": .null]) }
        events.append(.runStarted(RunStarted(
            query: "deep", context: deep, client: ClientInfo(),
            config: RunConfig(flashModel: "f", proModel: "p", flashTimeoutS: 1, proTimeoutS: 2, provider: "s", redaction: "off", onFlashFailure: "continue"),
            requestDigest: "d"
        )))
        for number in awkwardNumbers {
            events.append(.modelCompleted(.flash, ModelCompleted(
                model: "m", content: "c", usage: TokenUsage(inputTokens: 1, outputTokens: Int(number.magnitude.truncatingRemainder(dividingBy: 1e9))),
                latencyMs: number, ttftMs: -number, finishReason: nil, providerRequestID: "r"
            )))
            events.append(.done(RunDone(status: .ok, durationMs: number)))
        }
        return events
    }

    @Test("Every payload is written byte for byte as JSONEncoder writes it", arguments: CanonicalWriterTests.events)
    func sameBytesAsJSONEncoder(event: DomainEvent) throws {
        let written = try event.encodedData()
        #expect(String(decoding: written, as: UTF8.self) == String(decoding: try reference(event), as: UTF8.self))
    }

    @Test("A number JSON cannot hold is refused, as JSONEncoder refuses it")
    func nonFinite() {
        #expect(throws: (any Error).self) { try DomainEvent.firstToken(.flash, FirstToken(afterMs: .nan)).encodedData() }
        #expect(throws: (any Error).self) { try DomainEvent.done(RunDone(status: .ok, durationMs: .infinity)).encodedData() }
    }
}

/// Run-level event kinds name their journal types.
@Suite("Run event kinds")
struct RunEventKindTests {
    @Test("Raw values are the journal types, and every kind decodes to its event")
    func journalTypes() throws {
        #expect(RunEventKind.allCases.map(\.rawValue) == ["run_started", "client_disconnected", "run_aborted", "done"])
        let runLevel = SampleEvents.all.filter { $0.role == nil }
        #expect(Set(runLevel.map(\.type)) == Set(RunEventKind.allCases.map(\.rawValue)))
    }
}
