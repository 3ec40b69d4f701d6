import Synchronization
import TandemDomain
import TandemTestSupport
import Testing

@testable import TandemRuns

@Suite("Delta coalescer")
struct DeltaCoalescerTests {
    private func coalescer(window: Duration = .milliseconds(50), maxBytes: Int = 4_096, redact: Bool = true) -> DeltaCoalescer {
        DeltaCoalescer(
            limits: DeltaLimits(window: window, maxBytes: maxBytes), redactor: StreamingRedactor(Redactor(enabled: redact))
        )
    }

    @Test("Pieces wait for the window since the first buffered piece, then go out as one delta")
    func window() {
        var deltas = coalescer(redact: false)
        #expect(deltas.append("Hello ", at: .milliseconds(10)) == [])
        #expect(deltas.dueAt == .milliseconds(60))
        #expect(deltas.append("there ", at: .milliseconds(30)) == [])
        #expect(deltas.dueAt == .milliseconds(60), "the window runs from the first buffered piece")
        #expect(deltas.flushIfDue(at: .milliseconds(59)) == [])
        #expect(deltas.flushIfDue(at: .milliseconds(60)) == ["Hello there "])
        #expect(deltas.dueAt == nil)
        #expect(deltas.append("again", at: .milliseconds(70)) == [])
        #expect(deltas.finish() == ["again"])
    }

    @Test("A secret split across pieces is never released in clear: the redactor's held-back tail waits past the window")
    func secretAcrossPieces() {
        var deltas = coalescer()
        var released = deltas.append("my password=hun", at: .zero)
        released += deltas.flushIfDue(at: .milliseconds(100))
        #expect(!released.joined().contains("hun"))
        released += deltas.append("ter22 ok", at: .milliseconds(110))
        released += deltas.flushIfDue(at: .milliseconds(200))
        released += deltas.finish()
        #expect(!released.joined().contains("hunter22"))
        #expect(released.joined() == Redactor(enabled: true).redact("my password=hunter22 ok"))
    }

    @Test("A zero window releases each piece at once")
    func zeroWindow() {
        var deltas = coalescer(window: .zero, redact: false)
        #expect(deltas.append("one", at: .zero) == ["one"])
        #expect(deltas.append("two", at: .zero) == ["two"])
        #expect(deltas.dueAt == nil)
    }

    @Test("A full buffer goes out at once, and a larger piece is split, never inside a UTF-8 character")
    func maxBytes() {
        var deltas = coalescer(maxBytes: 64, redact: false)
        // 1 + 80 + 40 bytes: the 64th byte is the middle of an "é".
        let piece = "a" + String(repeating: "é", count: 40) + String(repeating: "😀", count: 10)
        let out = deltas.append(piece, at: .zero)
        #expect(out == ["a" + String(repeating: "é", count: 31)], "cut before the character, at 63 bytes")
        let rest = deltas.finish()
        #expect(rest == [String(repeating: "é", count: 9) + String(repeating: "😀", count: 10)])
        #expect((out + rest).joined() == piece)
    }

    @Test("A secret split across pieces is never released in clear; the deltas make the redacted whole")
    func splitSecret() {
        var deltas = coalescer(window: .zero)
        let pieces = ["Write to jo", "hn.doe@exam", "ple.com today ", "please."]
        var out: [String] = []
        for piece in pieces { out += deltas.append(piece, at: .zero) }
        out += deltas.finish()
        #expect(!out.joined().contains("john"))
        #expect(out.joined() == Redactor(enabled: true).redact(pieces.joined()))
    }

    @Test("Dropping a failed attempt's buffer forgets its text")
    func dropBuffered() {
        var deltas = coalescer(redact: false)
        _ = deltas.append("half an ans", at: .zero)
        deltas.dropBuffered()
        #expect(deltas.dueAt == nil)
        _ = deltas.append("The answer.", at: .milliseconds(5))
        #expect(deltas.finish() == ["The answer."])
    }
}

@Suite("Call deltas on the injected clock", .timeLimit(.minutes(1)))
struct CallDeltasTests {
    @Test("The window is a timer: a lone piece is handed over when it passes, not only on the next piece")
    func timerFlushes() async {
        let clock = ManualClock()
        let scheduler = DeadlineScheduler(clock: clock)
        let mailbox = RunMailbox()
        let deltas = CallDeltas(
            role: .pro,
            coalescer: DeltaCoalescer(limits: DeltaLimits(window: .milliseconds(50)), redactor: StreamingRedactor(Redactor(enabled: false))),
            clock: clock, scheduler: scheduler, inputs: mailbox
        )
        await withTaskGroup(of: Void.self) { group in
            group.addTask { await scheduler.run() }
            clock.advance(to: .milliseconds(100))
            deltas.received("first words ")
            await clock.waitForSleepers(1)
            clock.advance(to: .milliseconds(149))
            deltas.received("and more ")
            clock.advance(to: .milliseconds(150))
            #expect(await mailbox.next() == [.delta(.pro, "first words and more ")])
            deltas.received("tail")
            deltas.close()
            deltas.received("after the end")
            deltas.close()
            #expect(await mailbox.next() == [.delta(.pro, "tail")], "close hands over the rest once; later pieces are dropped")
            scheduler.stop()
        }
    }

    @Test("A new attempt drops what the failed one buffered")
    func attemptRestart() async {
        let clock = ManualClock()
        let scheduler = DeadlineScheduler(clock: clock)
        let mailbox = RunMailbox()
        let deltas = CallDeltas(
            role: .flash,
            coalescer: DeltaCoalescer(limits: DeltaLimits(), redactor: StreamingRedactor(Redactor(enabled: false))),
            clock: clock, scheduler: scheduler, inputs: mailbox
        )
        deltas.received("broken ")
        deltas.attemptRestarted()
        deltas.received("whole")
        deltas.close()
        #expect(await mailbox.next() == [.delta(.flash, "whole")])
    }
}
