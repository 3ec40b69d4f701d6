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
}
