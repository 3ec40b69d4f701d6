import Foundation
@testable import TandemDomain
import Testing

/// The request-body fast path gives JSONDecoder's value for everything it accepts.
@Suite("Common-form JSON parser")
struct CommonFormJSONParserTests {
    static let accepted: [String] = [
        #"{"query":"Why is the sky blue?"}"#,
        #" { "query" : "x" , "context" : { "a" : [ 1 , -2 , true , false , null , { } , [ ] ] } } "#,
        #"{"query":"tab\there \"quoted\" back\\slash \/ \b\f\n\r","run_id":"abc-123"}"#,
        #"{"query":"ünïcödé 🌍 日本語","context":{"ключ":"значение","emoji 🔑":"✓"}}"#,
        #"{"n":9223372036854775807,"m":-9223372036854775808,"z":0,"one":1,"neg":-1}"#,
        #"{"zero":0,"nested":{"deeper":{"deepest":[[[["x"]]]]}}}"#,
        "\t\n\r{\"query\":\"whitespace around\"}\n",
        #"[1,"two",{"three":3}]"#, #""just a string""#, "42", "true", "null",
        #"{"":""}"#, #"{"a":"","b":[""]}"#,
        "{\"query\":\"line\u{2028}separator and DEL \u{7F}\"}",
    ]

    static let leftToJSONDecoder: [String] = [
        #"{"x":1.5}"#, #"{"x":1e3}"#, #"{"x":1E3}"#, #"{"x":-0}"#, #"{"x":01}"#, #"{"x":9223372036854775808}"#,
        #"{"x":-9223372036854775809}"#, #"{"x":"\u00e9"}"#, #"{"x":"\ud83c\udf0d"}"#, #"{"a":1,"a":2}"#,
        "{\"x\":\"raw\u{01}control\"}", #"{"x":"\q"}"#, #"{"x":1,}"#, #"[1,]"#, #"{"x" 1}"#, #"{x:1}"#,
        #"{"x":tru}"#, #"{"x":nul}"#, "", "   ", #"{"x":1} trailing"#, #"{"x":"unterminated"#, "{", "[", "-", #"{"x":-}"#,
        #"{"x":+1}"#, #"{"x":.5}"#, #"{"x":NaN}"#, "\u{FEFF}{\"x\":1}",
        String(repeating: "[", count: 70) + String(repeating: "]", count: 70),
    ]

    @Test("Accepted inputs parse to the value JSONDecoder gives", arguments: CommonFormJSONParserTests.accepted)
    func acceptedInputs(_ text: String) throws {
        let fast = try #require(parse(text), "the common form must be accepted: \(text)")
        let decoded = try JSONDecoder().decode(JSONValue.self, from: Data(text.utf8))
        #expect(fast == decoded)
    }

    @Test("Anything else is left to JSONDecoder", arguments: CommonFormJSONParserTests.leftToJSONDecoder)
    func leftToDecoder(_ text: String) {
        #expect(parse(text) == nil)
    }

    @Test("Invalid UTF-8 inside a string is left to JSONDecoder")
    func invalidUTF8() {
        let bytes: [UInt8] = Array(#"{"x":""#.utf8) + [0xC3, 0x28] + Array(#""}"#.utf8)
        #expect(bytes.withUnsafeBytes { JSONValue.parseCommonForm($0) } == nil)
    }

    private func parse(_ text: String) -> JSONValue? {
        Array(text.utf8).withUnsafeBytes { JSONValue.parseCommonForm($0) }
    }
}
