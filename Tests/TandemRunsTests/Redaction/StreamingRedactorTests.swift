import TandemRuns
import Testing

/// ``StreamingRedactor`` (used for token streaming, SPEC §10) gives, however the text is split,
/// exactly what ``Redactor/redact(_:)`` gives for the whole text, and never a secret in clear.
@Suite("Streaming redaction")
struct StreamingRedactorTests {
    let redactor = Redactor(enabled: true)

    /// Texts holding one secret of each rule, with the secret that must never come out.
    static let secrets: [(text: String, secret: String)] = [
        (#"use {"api_key": "sk-live-1"} please"#, "sk-live-1"),
        (#"{'password':'hunter2'} é"#, "hunter2"),
        ("at postgres://admin:pw1234@10.0.0.5/app", "pw1234"),
        ("key sk-abcdefghijklmnop1234 ok", "sk-abcdefghijklmnop1234"),
        ("gh ghp_abcdefghijklmnopqrstuvwxyz0123 ok", "ghp_abcdefghijklmnopqrstuvwxyz0123"),
        ("aws AKIAABCDEFGHIJKLMNOP ok", "AKIAABCDEFGHIJKLMNOP"),
        ("slack xoxb-1234567890-abc ok", "xoxb-1234567890-abc"),
        ("google AIzaSyA1234567890abcdefghijklmnopqrstuv ok", "AIzaSyA1234567890abcdefghijklmnopqrstuv"),
        ("auth Bearer eyJhbGciOiJIUzI1NiJ9.abc ok", "eyJhbGciOiJIUzI1NiJ9"),
        ("DB_PASSWORD=s3cr3t-Pa55 😀", "s3cr3t-Pa55"),
        ("x password: SEC12 y", "SEC12"),
        ("Cookie: session=abc123; theme=dark\nnext line", "abc123"),
        ("mail a.b-c@example.co.uk, thanks", "a.b-c@example.co.uk"),
        ("ssn 078-05-1120 ok", "078-05-1120"),
        ("card 4111 1111 1111 1111 ok", "4111 1111 1111 1111"),
        ("call +44 20 7946 0958 now", "7946 0958"),
        ("日本語 bob@example.com と", "bob@example.com"),
    ]

    /// Runs `pieces` through a fresh streaming redactor; returns every output, the last from `finish()`.
    private func stream(_ pieces: [String], _ redactor: Redactor) -> [String] {
        var streaming = StreamingRedactor(redactor)
        return pieces.map { streaming.append($0) } + [streaming.finish()]
    }

    /// `text` cut at the given unicode-scalar offsets.
    private func pieces(_ text: String, cutAt offsets: [Int]) -> [String] {
        let scalars = Array(text.unicodeScalars)
        var result: [String] = []
        var start = 0
        for offset in offsets.sorted() where offset >= start && offset <= scalars.count {
            result.append(String(String.UnicodeScalarView(scalars[start..<offset])))
            start = offset
        }
        result.append(String(String.UnicodeScalarView(scalars[start...])))
        return result
    }

    @Test("Every rule's secret split at every position: the same bytes as the whole, the secret never in clear")
    func everySplit() {
        for (text, secret) in Self.secrets {
            let whole = redactor.redact(text)
            #expect(!whole.contains(secret), "\(text)")
            for cut in 0...text.unicodeScalars.count {
                let outputs = stream(pieces(text, cutAt: [cut]), redactor)
                #expect(outputs.joined() == whole, "\(text) cut at \(cut)")
                #expect(!outputs.joined().contains(secret))
            }
            // One scalar at a time: the finest split there is.
            let single = stream(text.unicodeScalars.map { String($0) }, redactor)
            #expect(single.joined() == whole, "\(text) one scalar at a time")
        }
    }

    @Test("Random splits of random texts built from the rules' own characters give the whole text's bytes")
    func randomSplits() {
        var random = SplitMix64(seed: 19)
        let alphabet = ["a", "Z", "0", "4", "1", "@", ".", "-", "_", " ", "\n", "=", ":", "\"", "'", "/", "+", "(", ")", "é", "😀", "日",
                        "password", "token", "sk-", "Bearer ", "://", "4111 1111 1111 1111", "078-05-1120", "x@y.io", "&", "\\"]
        for _ in 0..<400 {
            let length = Int(random.next() % 60)
            let text = (0..<length).map { _ in alphabet[Int(random.next() % UInt64(alphabet.count))] }.joined()
            let whole = redactor.redact(text)
            let scalarCount = text.unicodeScalars.count
            for _ in 0..<4 {
                let cuts = (0..<Int(random.next() % 6)).map { _ in Int(random.next() % UInt64(scalarCount + 1)) }
                #expect(stream(pieces(text, cutAt: cuts), redactor).joined() == whole, "\(text.debugDescription) cut at \(cuts)")
            }
        }
    }

    @Test("Only a bounded tail is held back, and a swallowed value is never held")
    func boundedHoldBack() {
        var streaming = StreamingRedactor(redactor)
        let sentence = "an ordinary sentence with words, numbers 12 and é; "
        var given = 0
        var returned = 0
        for _ in 0..<200 {
            given += sentence.utf8.count
            returned += streaming.append(sentence).utf8.count
            #expect(given - returned <= 500, "held back \(given - returned) bytes")
        }
        #expect(given == returned + streaming.finish().utf8.count)

        // The value's first byte decides (a line break there would mean no value); then the
        // value goes as it comes, and what follows it comes out at once.
        var value = StreamingRedactor(redactor)
        #expect(value.append("export DB_PASSWORD=") == "export ")
        #expect(value.append("a") == "DB_PASSWORD=[REDACTED_KEY]")
        for _ in 0..<100 { #expect(value.append("abcdefgh").isEmpty) }
        #expect(value.append(" done\n") == " done\n")
        #expect(value.finish().isEmpty)
    }

    @Test("With redaction off the text passes through piece by piece")
    func off() {
        var streaming = StreamingRedactor(enabled: false)
        #expect(streaming.append("bob@exa") == "bob@exa")
        #expect(streaming.append("mple.com password=x") == "mple.com password=x")
        #expect(streaming.finish().isEmpty)
    }
}

/// A small seeded generator (SplitMix64): the random tests are the same on every run.
struct SplitMix64 {
    private var state: UInt64

    init(seed: UInt64) {
        state = seed
    }

    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var value = state
        value = (value ^ (value >> 30)) &* 0xBF58_476D_1CE4_E5B9
        value = (value ^ (value >> 27)) &* 0x94D0_49BB_1331_11EB
        return value ^ (value >> 31)
    }
}
