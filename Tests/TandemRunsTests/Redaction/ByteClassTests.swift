@testable import TandemRuns
import Testing

/// The redaction scanner's byte classes are bit masks written out as constants; each must hold
/// exactly the bytes its definition names.
@Suite("Redaction byte classes")
struct ByteClassTests {
    private static func letter(_ byte: UInt8) -> Bool {
        (UInt8(ascii: "a")...UInt8(ascii: "z")).contains(byte) || (UInt8(ascii: "A")...UInt8(ascii: "Z")).contains(byte)
    }

    private static func digit(_ byte: UInt8) -> Bool {
        (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(byte)
    }

    /// Letters and digits, and the bytes of `extra`.
    private static func alphanumeric(_ extra: String) -> (UInt8) -> Bool {
        { letter($0) || digit($0) || extra.utf8.contains($0) }
    }

    /// Every byte from 0x20 up but those of `excluded`.
    private static func printable(excluding excluded: String) -> (UInt8) -> Bool {
        { $0 >= 0x20 && !excluded.utf8.contains($0) }
    }

    /// Each class, its name, its ASCII members by definition and whether bytes ≥ 0x80 belong.
    static var definitions: [(String, ByteClass, (UInt8) -> Bool, Bool)] {
        [
            ("letter", .letter, letter, false),
            ("digit", .digit, digit, false),
            ("word", .word, alphanumeric("_"), false),
            ("name", .name, alphanumeric("_.-"), false),
            ("keyTail", .keyTail, alphanumeric("_-"), false),
            ("hostLabel", .hostLabel, alphanumeric("-"), false),
            ("domain", .domain, alphanumeric(".-"), false),
            ("localPart", .localPart, alphanumeric("._%+-"), false),
            ("upperAlphanumeric", .upperAlphanumeric, { digit($0) || (UInt8(ascii: "A")...UInt8(ascii: "Z")).contains($0) }, false),
            ("bearerToken", .bearerToken, alphanumeric("._~+/=-"), false),
            ("scheme", .scheme, alphanumeric("+.-"), false),
            ("userInfo", .userInfo, printable(excluding: " \t\r\n:/@?#"), true),
            ("password", .password, printable(excluding: " \t\r\n/@?#"), true),
            ("phone", .phone, { digit($0) || " \t().-".utf8.contains($0) }, false),
            ("blank", .blank, { " \t".utf8.contains($0) }, false),
            ("whitespace", .whitespace, { " \t\r\n".utf8.contains($0) }, false),
            ("bareJSONValue", .bareJSONValue, { !" \t\r\n,;}]".utf8.contains($0) }, true),
            ("valueEnd", .valueEnd, { " \t\r\n\"'&<>".utf8.contains($0) }, false),
            ("ruleStart", .ruleStart, alphanumeric("\"'+(_.%-"), false),
        ]
    }

    @Test("Every class holds exactly the bytes of its definition, all 256 checked")
    func masksMatchDefinitions() {
        for (name, byteClass, member, nonASCII) in Self.definitions {
            for byte in UInt8.min...UInt8.max {
                let expected = byte < 0x80 ? member(byte) : nonASCII
                #expect(byteClass.contains(byte) == expected, "\(name) at byte \(byte)")
            }
        }
    }
}
