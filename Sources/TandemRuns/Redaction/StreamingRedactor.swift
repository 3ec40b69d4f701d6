/// Redacts text that arrives in pieces (an upstream's stream) exactly as ``Redactor`` redacts it
/// whole: the concatenation of every ``append(_:)`` and the ``finish()`` is, byte for byte,
/// `redactor.redact(wholeText)`, however the text was split, and no secret split across pieces
/// is ever returned in clear.
///
/// It holds back only the shortest tail that could still begin a match — at most
/// ``RedactionRules/longestLookahead`` bytes (a URL's credentials are the longest) — and a
/// value that is being dropped (a `password=` value, the rest of a key) is dropped as it arrives,
/// never held. Pieces are cut at UTF-8 scalar boundaries. With redaction off it passes text through.
public struct StreamingRedactor: Sendable {
    /// `nil` when redaction is off.
    private var scanner: RedactionScanner?

    /// A redactor applying `redactor`'s policy (nothing when it is `off`).
    public init(_ redactor: Redactor) {
        scanner = redactor.isEnabled ? RedactionScanner() : nil
    }

    /// A redactor applying policy ``Redactor/currentPolicy``, or nothing when `enabled` is false.
    public init(enabled: Bool) {
        self.init(Redactor(enabled: enabled))
    }

    /// Consumes one piece; returns the redacted text now safe to journal (may be empty).
    public mutating func append(_ piece: String) -> String {
        scanner?.feed(piece, final: false) ?? piece
    }

    /// Ends the stream; returns the held-back rest, redacted. The redactor then starts over.
    public mutating func finish() -> String {
        guard let rest = scanner?.feed("", final: true) else { return "" }
        scanner = RedactionScanner()
        return rest
    }
}
