import Testing

@testable import TandemFleet

/// PostgreSQL's COPY text format as the shipper writes it.
@Suite("COPY text rows")
struct CopyTextTests {
    @Test("columns are tab-separated, rows end with a newline; backslash, tab, newline and CR are escaped, all else copied")
    func escaping() {
        var text = CopyText()
        text.column(Array("plain".utf8), first: true)
        text.column(Array("a\tb\nc\\d\re\\".utf8))
        text.endRow()
        text.column(Array("\\\\".utf8), first: true)
        text.column(Array("".utf8))
        text.endRow()
        #expect(String(decoding: text.bytes, as: UTF8.self) == "plain\ta\\tb\\nc\\\\d\\re\\\\\n\\\\\\\\\t\n")
    }

    @Test("number columns are written as decimal digits")
    func numbers() {
        var text = CopyText()
        text.column(Array("n".utf8), first: true)
        for number: UInt64 in [0, 7, 10, 1_234_567_890, .max] { text.column(number) }
        text.endRow()
        #expect(String(decoding: text.bytes, as: UTF8.self) == "n\t0\t7\t10\t1234567890\t18446744073709551615\n")
    }

    @Test("an escaped NUL is found only where it is an escape, and only then is the payload rewritten")
    func escapedNUL() {
        let cases: [(json: String, holds: Bool, jsonb: String)] = [
            (#"{"a":"plain \"quoted\" \n"}"#, false, #"{"a":"plain \"quoted\" \n"}"#),
            (#"{"a":"x\u0000y"}"#, true, #"{"a":"x\ufffdy"}"#),
            (#"{"a":"x\\u0000y"}"#, false, #"{"a":"x\\u0000y"}"#),
            (#"{"a":"x\\\u0000"}"#, true, #"{"a":"x\\\ufffd"}"#),
            (#"{"a":"\u0001"}"#, false, #"{"a":"\u0001"}"#),
        ]
        for (json, holds, jsonb) in cases {
            #expect(JSONBText.holdsEscapedNUL(Array(json.utf8)) == holds, "\(json)")
            #expect(String(decoding: JSONBText.replacingEscapedNUL(Array(json.utf8)), as: UTF8.self) == jsonb, "\(json)")
        }
    }
}
