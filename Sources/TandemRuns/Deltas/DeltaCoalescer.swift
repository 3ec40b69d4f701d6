/// How pieces of streamed text are coalesced into journaled deltas (`TANDEM_DELTA_WINDOW_MS`,
/// `TANDEM_DELTA_MAX_BYTES`, SPEC §10).
public struct DeltaLimits: Sendable, Equatable {
    /// The longest a buffered piece waits before it is journaled; zero journals each piece at once.
    public var window: Duration
    /// The most UTF-8 bytes of one delta; a fuller buffer (or a larger piece) is journaled at once,
    /// split at character boundaries.
    public var maxBytes: Int

    /// The allowed delta sizes (`TANDEM_DELTA_MAX_BYTES`).
    public static let maxBytesRange: ClosedRange<Int> = 64...65_536

    public init(window: Duration = .milliseconds(50), maxBytes: Int = 4_096) {
        self.window = window
        self.maxBytes = maxBytes
    }
}

/// Coalesces the pieces of text one model call streams into the deltas to journal: pure, timed by
/// the times its caller passes in (the caller keeps the window's timer).
///
/// Pieces go through a ``StreamingRedactor`` first, so a secret split across pieces is never
/// released in clear; the redacted text is buffered and released as deltas when the window passed
/// since the first buffered piece (``flushIfDue(at:)``), when the buffer holds ``DeltaLimits/maxBytes``
/// (``append(_:at:)``), and at the call's end (``finish()``). Deltas never split a UTF-8 character,
/// and all the deltas of a call concatenate to the redacted whole of its pieces.
public struct DeltaCoalescer: Sendable {
    private let limits: DeltaLimits
    private var redactor: StreamingRedactor
    private let freshRedactor: StreamingRedactor
    /// Redacted text not yet released.
    private var buffer: [UInt8] = []
    /// When the oldest piece not yet released arrived; `nil` when none waits.
    public private(set) var firstPieceAt: Duration?

    /// A coalescer for one call, redacting with `redactor`.
    public init(limits: DeltaLimits, redactor: StreamingRedactor) {
        var limits = limits
        // A delta holds at least one character (at most 4 bytes), so every cut makes progress.
        limits.maxBytes = max(limits.maxBytes, 4)
        self.limits = limits
        self.redactor = redactor
        self.freshRedactor = redactor
    }

    /// When the buffered text is due (``flushIfDue(at:)`` then releases it); `nil` when nothing waits.
    public var dueAt: Duration? { firstPieceAt.map { $0 + limits.window } }

    /// Takes a piece that arrived at `now`; returns the deltas due at once (a full buffer, or every
    /// piece with a zero window).
    public mutating func append(_ piece: String, at now: Duration) -> [String] {
        guard !piece.isEmpty else { return [] }
        if firstPieceAt == nil { firstPieceAt = now }
        buffer += redactor.append(piece).utf8
        if limits.window == .zero { return release(all: true) }
        return release(all: false)
    }

    /// The buffered text when the window passed at `now`, else nothing.
    public mutating func flushIfDue(at now: Duration) -> [String] {
        guard let dueAt, now >= dueAt else { return [] }
        return release(all: true)
    }

    /// The call ended: everything held back or buffered, as deltas.
    public mutating func finish() -> [String] {
        buffer += redactor.finish().utf8
        return release(all: true)
    }

    /// Forgets what is buffered or held back (an attempt failed before its text was journaled):
    /// the next piece starts a fresh answer.
    public mutating func dropBuffered() {
        buffer = []
        redactor = freshRedactor
        firstPieceAt = nil
    }

    /// Cuts the buffer into deltas of at most `maxBytes` at character boundaries: every full-size
    /// delta, and the rest too when `all`.
    private mutating func release(all: Bool) -> [String] {
        var deltas: [String] = []
        var start = 0
        while buffer.count - start >= limits.maxBytes || (all && start < buffer.count) {
            var end = min(start + limits.maxBytes, buffer.count)
            // Back off continuation bytes (10xxxxxx): a delta ends at a character boundary. A
            // character is at most 4 bytes and a delta at least 4, so this always leaves text.
            while end < buffer.count, buffer[end] & 0xC0 == 0x80 { end -= 1 }
            deltas.append(String(decoding: buffer[start..<end], as: UTF8.self))
            start = end
        }
        buffer.removeFirst(start)
        // Text the redactor still holds back is released by a later piece or the end; a timer for
        // it alone would only fire to find nothing.
        if buffer.isEmpty { firstPieceAt = nil }
        return deltas
    }
}
