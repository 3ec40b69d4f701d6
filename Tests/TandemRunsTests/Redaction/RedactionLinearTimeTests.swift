#if canImport(Glibc)
import Glibc
#endif
import Foundation
import TandemRuns
import Testing

/// SPEC §11 "Linear time": every rule costs time linear in its input. Before, the e-mail rule
/// backtracked: `"a"*16000+"@"` took 2.2 s, `"a"*32000+"@"` 7.8 s, a 64 KiB string 33 s.
///
/// Each input is built to make one rule look as far as it can at as many positions as it can;
/// the CPU time of its 64 KiB form over its 32 KiB form is about 2 for linear work (4 for
/// quadratic). CPU time of the measuring thread, the median ratio of several rounds: other work
/// on a busy machine does not count.
@Suite("Redaction runs in linear time", .serialized)
struct RedactionLinearTimeTests {
    let redactor = Redactor(enabled: true)

    /// The adversarial pattern of each rule, repeated to size (plus a trailing `@`).
    static let patterns: [(rule: String, unit: String)] = [
        ("e-mail local part", "a"),
        ("e-mail domain", String(repeating: "a", count: 64) + "@" + String(repeating: "b", count: 250)),
        ("e-mail, many @", "a.b-c@"),
        ("JSON-quoted pair", #""token":1,"#),
        ("JSON-quoted key, unclosed", #"""#),
        ("URL credentials", "a://"),
        ("URL credentials, long user", "a://" + String(repeating: "u", count: 127) + ":"),
        ("key shapes", "sk-" + String(repeating: "a", count: 15) + " "),
        ("bearer", "bearer "),
        ("assignment names", "a:"),
        ("sensitive assignments", "token:a "),
        ("long names", String(repeating: "n", count: 127) + " ="),
        ("SSN", "123-45-678 "),
        ("card numbers", "4111 "),
        ("phone numbers", "+1 ("),
        ("digits", "1"),
    ]

    private static func threadCPUTime() -> Double {
        var time = timespec()
        clock_gettime(CLOCK_THREAD_CPUTIME_ID, &time)
        return Double(time.tv_sec) + Double(time.tv_nsec) / 1e9
    }

    /// The CPU time of redacting `text` once.
    private func cost(_ text: String) -> Double {
        let start = Self.threadCPUTime()
        let redacted = redactor.redact(text)
        let end = Self.threadCPUTime()
        #expect(!redacted.isEmpty)
        return end - start
    }

    /// The median over several rounds of `large`'s cost over `small`'s, each round measuring
    /// both back to back (so a slow spell of the machine touches both sides of a ratio).
    private func medianRatio(_ large: String, _ small: String, rounds: Int = 9) -> Double {
        _ = cost(small)
        let ratios = (0..<rounds).map { _ in
            let smallCost = cost(small)
            return cost(large) / max(smallCost, 1e-9)
        }.sorted()
        return ratios[rounds / 2]
    }

    private static func text(_ unit: String, bytes: Int) -> String {
        String(String(repeating: unit, count: bytes / unit.utf8.count + 1).utf8.prefix(bytes - 1))! + "@"
    }

    @Test("64 KiB costs less than three times 32 KiB, for every rule's worst input", .timeLimit(.minutes(1)), arguments: patterns)
    func linear(rule: String, unit: String) {
        let ratio = medianRatio(Self.text(unit, bytes: 64 * 1024), Self.text(unit, bytes: 32 * 1024))
        #expect(ratio < 3, "\(rule): 64 KiB / 32 KiB = \(ratio)")
    }

    @Test("Streaming one byte at a time is linear too", .timeLimit(.minutes(1)))
    func streamingLinear() {
        func streamed(_ text: String) -> Double {
            var streaming = StreamingRedactor(redactor)
            let start = Self.threadCPUTime()
            for scalar in text.unicodeScalars { _ = streaming.append(String(scalar)) }
            _ = streaming.finish()
            return Self.threadCPUTime() - start
        }
        let small = Self.text("a", bytes: 16 * 1024)
        let large = Self.text("a", bytes: 32 * 1024)
        _ = streamed(small)
        let ratios = (0..<5).map { _ in
            let smallCost = streamed(small)
            return streamed(large) / max(smallCost, 1e-9)
        }.sorted()
        #expect(ratios[2] < 3, "32 KiB / 16 KiB one scalar at a time = \(ratios[2])")
    }
}
