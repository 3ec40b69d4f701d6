import Testing
import TandemJournal
import TandemTestSupport

@testable import TandemFleet

/// PostgreSQL's COPY text format as the fleet benchmark's raw baseline writes it.
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

    @Test("escaping equals a byte-by-byte reference for values of every length with specials anywhere, UTF-8 and other control bytes included")
    func escapingMatchesReference() {
        func reference(_ value: [UInt8]) -> [UInt8] {
            value.flatMap { byte -> [UInt8] in
                switch byte {
                case UInt8(ascii: "\t"): Array("\\t".utf8)
                case UInt8(ascii: "\n"): Array("\\n".utf8)
                case UInt8(ascii: "\r"): Array("\\r".utf8)
                case UInt8(ascii: "\\"): Array("\\\\".utf8)
                default: [byte]
                }
            }
        }
        // Deterministic: a fixed linear congruential sequence over an alphabet heavy in the
        // bytes that matter and their neighbours.
        let alphabet: [UInt8] = [0x09, 0x0A, 0x0D, 0x5C, 0x01, 0x1F, 0x20, 0x5B, 0x5D, 0x7F, 0x80, 0xC3, 0xA9, 0xFF] + Array("abcdefgh{}\":,".utf8)
        var state: UInt64 = 42
        for length in 0..<70 {
            for _ in 0..<20 {
                let value = (0..<length).map { _ -> UInt8 in
                    state = state &* 6364136223846793005 &+ 1442695040888963407
                    // Mostly plain text, so runs of eight clean bytes occur too.
                    let pick = Int(state >> 33)
                    return pick % 4 == 0 ? alphabet[pick % alphabet.count] : UInt8(ascii: "a") + UInt8(pick % 26)
                }
                var text = CopyText()
                text.column(value, first: true)
                #expect(text.bytes == reference(value), "\(value)")
            }
        }
    }
}

/// The rows the shipper binds.
@Suite("journal rows")
struct JournalRowsTests {
    @Test("a line that is not valid UTF-8 (an altered journal file) is named, and its batch refused, not repaired into the store")
    func invalidUTF8LineIsNamed() async throws {
        let node = try await TestNode("node-a", runs: 2)
        var entries = try node.journal.entries(from: 1)
        #expect(ShipBatch(node: "node-a", entries: entries, records: [], head: 0)?.invalidTextSeq == nil)
        let altered = 3
        var line = Array(entries[altered].line)
        // A byte no UTF-8 text holds, inside the first string value of the payload.
        let data = try #require(line.indices.first { line[$0...].starts(with: Array(#""data":{"#.utf8)) })
        let value = Array(#"":""#.utf8)
        let at = try #require(line.indices.first { $0 > data + 8 && line[$0...].starts(with: value) }) + value.count
        line.insert(0xFF, at: at)
        entries[altered] = try JournalEntry(line: line)
        let batch = try #require(ShipBatch(node: "node-a", entries: entries, records: [], head: 0))
        #expect(batch.invalidTextSeq == entries[altered].seq)
        #expect(batch.rows(from: altered + 1).firstInvalidLine == nil)
        #expect(batch.rows(from: 1).firstInvalidLine == altered - 1)
        // The altered line also breaks the link after it; the divergence names the line itself,
        // before any round trip (the store here never answers).
        #expect(batch.brokenLinkSeq == entries[altered + 1].seq)
        let blackHole = try LoopbackSocket(.blackHole)
        try await withStore("postgres://tandem@127.0.0.1:\(blackHole.port)/fleet?sslmode=disable") { store in
            await #expect(throws: FleetError.divergence(
                node: "node-a", seq: entries[altered].seq,
                reason: "the local journal's line here is not text PostgreSQL can hold (not valid UTF-8, or a NUL byte; the journal writes neither, so the file was altered); run `tandem journal verify`"
            )) {
                try await store.ship(node: "node-a", entries: entries, records: [], head: 0)
            }
        }
    }

    @Test("the benchmark's COPY text holds the rows the shipper binds: a row per entry, eight columns, the line as stored")
    func copyTextOfRows() async throws {
        let node = try await TestNode("node-a", runs: 2)
        let entries = try node.journal.entries(from: 1)
        var text = CopyText()
        text.append(JournalRows(entries), node: Array("node-a".utf8))
        let rows = String(decoding: text.bytes, as: UTF8.self).split(separator: "\n", omittingEmptySubsequences: false).dropLast()
        #expect(rows.count == entries.count)
        for (row, entry) in zip(rows, entries) {
            let columns = row.split(separator: "\t", omittingEmptySubsequences: false)
            #expect(columns.count == 8)
            #expect(columns[0] == "node-a" && columns[1] == "\(entry.seq)" && columns[7] == Substring(entry.prev))
            #expect(Array(Self.unescaped(columns[6]).utf8) == entry.line)
        }
    }

    /// A COPY text column's value: `\\`, `\t`, `\n` and `\r` read back.
    static func unescaped(_ column: Substring) -> String {
        var result = ""
        var escaping = false
        for character in column {
            if escaping {
                result.append(["t": "\t", "n": "\n", "r": "\r"][character] ?? character)
                escaping = false
            } else if character == "\\" {
                escaping = true
            } else {
                result.append(character)
            }
        }
        return result
    }

    @Test("a line holding a NUL byte (valid UTF-8 that PostgreSQL's text refuses) is named too")
    func nulByteLineIsNamed() async throws {
        let node = try await TestNode("node-a", runs: 1)
        var entries = try node.journal.entries(from: 1)
        var line = Array(entries[1].line)
        let data = try #require(line.indices.first { line[$0...].starts(with: Array(#""data":{"#.utf8)) })
        let value = Array(#"":""#.utf8)
        line.insert(0, at: try #require(line.indices.first { $0 > data + 8 && line[$0...].starts(with: value) }) + value.count)
        entries[1] = try JournalEntry(line: line)
        #expect(ShipBatch(node: "node-a", entries: entries, records: [], head: 0)?.invalidTextSeq == entries[1].seq)
    }
}
