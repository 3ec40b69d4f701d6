import Testing

@testable import TandemJournal

@Suite("Entry lines")
struct EntryLineTests {
    /// The definition the word-at-a-time check must agree with.
    private static func isHexDigit(_ byte: UInt8) -> Bool {
        (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(byte) || (UInt8(ascii: "a")...UInt8(ascii: "f")).contains(byte)
    }

    @Test("The lowercase-hex check agrees with its definition for every byte value, at both edges of the first two words, inside them and in the tail")
    func lowercaseHex() {
        // 64 bytes (a prev field: eight whole words) and 67 (three more, checked one by one).
        for length in [64, 67] {
            let valid = (0..<length).map { Array("0123456789abcdef".utf8)[$0 % 16] }
            #expect(valid.withUnsafeBytes { EntryLine.isLowercaseHex($0) })
            for position in Set([0, 1, 7, 8, 31, 63, length - 1]) {
                for byte in UInt8.min...UInt8.max {
                    var bytes = valid
                    bytes[position] = byte
                    let checked = bytes.withUnsafeBytes { EntryLine.isLowercaseHex($0) }
                    #expect(checked == Self.isHexDigit(byte), "byte \(byte) at \(position) of \(length)")
                }
            }
        }
        // A byte of 0x80 or more next to valid ones must not make a neighbour look valid or not.
        var mixed = Array(repeating: UInt8(ascii: "f"), count: 64)
        mixed[3] = 0xFF
        #expect(!mixed.withUnsafeBytes { EntryLine.isLowercaseHex($0) })
        #expect([UInt8]().withUnsafeBytes { EntryLine.isLowercaseHex($0) })
    }
}
