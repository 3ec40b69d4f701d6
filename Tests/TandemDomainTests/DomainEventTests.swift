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
        #expect(DomainEvent.allTypes.count == 18)
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
        let result = try SchemaChecker.check(mode: "journal", file: file)
        #expect(result.status == 0, "\(result.output)")
        #expect(result.output.contains("\(SampleEvents.all.count) valid, 0 invalid"))

        // And the checker is not a rubber stamp: a payload missing a required field fails.
        let bad = directory.path + "/bad.ndjson"
        let broken = lines.split(separator: "\n")[0].replacingOccurrences(of: #""request_digest""#, with: #""digest""#)
        try broken.write(toFile: bad, atomically: true, encoding: .utf8)
        #expect(try SchemaChecker.check(mode: "journal", file: bad).status == 1)
    }
}
