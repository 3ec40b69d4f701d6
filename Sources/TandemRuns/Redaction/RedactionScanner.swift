/// The one engine behind policy `default-v3`: a forward-only scanner over UTF-8 that takes text
/// in pieces and gives back the redacted text as soon as it can tell.
///
/// At each position the rules (``RedactionRules``) are asked in priority order; the first that
/// does not decline decides: it matches (its replacement is written, and it may go on to swallow
/// a value of any length), or it cannot tell yet — then the scanner stops there and holds the rest
/// back until more text (or the end) arrives. Every rule looks at most a bounded distance ahead
/// (``RedactionRules/longestLookahead`` bytes), so what is held back is bounded, each position
/// costs bounded work, and the whole run is linear in the input. A decision never depends on where
/// the pieces were split: a rule only decides once it has seen what it needs, so feeding text in
/// any pieces gives the same bytes as feeding it whole.
struct RedactionScanner: Sendable {
    /// Text received and not yet decided (at most a bounded tail after each `feed`).
    private var pending: [UInt8] = []
    /// A value being swallowed across pieces, if any.
    private var swallow: Swallow?
    /// What precedes `pending[0]` in the input.
    private var context = ScanContext()
    /// Shared state rules keep to stay linear (indices into `pending`).
    private var memo = ScanMemo()

    /// Appends `piece` and returns the redacted text that is now certain; with `final`, the input
    /// ends here and everything left is returned.
    mutating func feed(_ piece: String, final: Bool) -> String {
        var piece = piece
        piece.withUTF8 { pending.append(contentsOf: $0) }
        var output: [UInt8] = []
        output.reserveCapacity(pending.count)
        let consumed = pending.withUnsafeBufferPointer { bytes in
            scan(Window(bytes: bytes, isFinal: final), into: &output)
        }
        pending.removeFirst(consumed)
        memo.rebase(by: consumed)
        return String(decoding: output, as: UTF8.self)
    }

    /// Decides as far as it can; returns how many bytes of `pending` were consumed.
    private mutating func scan(_ window: Window, into output: inout [UInt8]) -> Int {
        var index = 0
        let end = window.bytes.count
        scanning: while true {
            if let current = swallow {
                guard let step = try? current.step(window, at: index) else { break }
                switch step {
                case .consume:
                    context.observe(window.bytes[index])
                    swallow = current.after(window.bytes[index])
                    index += 1
                case .close(let closer):
                    context.observe(window.bytes[index])
                    output.append(closer)
                    index += 1
                    swallow = nil
                case .stop:
                    swallow = nil
                }
                continue
            }
            guard index < end else { break }
            let byte = window.bytes[index]
            guard RedactionRules.mayStart(byte), !memo.onlyFailedEmailCanStart(window, at: index, after: context) else {
                output.append(byte)
                context.observe(byte)
                index += 1
                continue
            }
            let decision: RuleMatch?
            do {
                decision = try RedactionRules.match(window, at: index, context: context, memo: &memo)
            } catch {
                break scanning
            }
            guard let match = decision else {
                output.append(byte)
                context.observe(byte)
                index += 1
                continue
            }
            output.append(contentsOf: match.replacement)
            for offset in index..<(index + match.length) { context.observe(window.bytes[offset]) }
            index += match.length
            swallow = match.then
        }
        return index
    }
}

/// What precedes the scanner's position: rules that start at a word or line boundary look here.
struct ScanContext: Sendable {
    /// The byte before the position (`nil` at the start of the input).
    var previous: UInt8?
    /// Whether only spaces and tabs stand between the last line break (or the start) and the position.
    var atLineStart = true

    mutating func observe(_ byte: UInt8) {
        previous = byte
        switch byte {
        case UInt8(ascii: "\n"), UInt8(ascii: "\r"): atLineStart = true
        case UInt8(ascii: " "), UInt8(ascii: "\t"): break
        default: atLineStart = false
        }
    }
}

/// Facts a rule learned at one position that also hold at the next ones (so that a long run is
/// read once, not once per position). Indices are into the scanner's pending bytes.
struct ScanMemo: Sendable {
    /// Bytes from the current position up to here are known e-mail local-part characters.
    var localPartUntil = 0
    /// The last `@` whose domain was checked, and where that domain's match ends (`nil`: none):
    /// the up to 64 starts that share an `@` check its domain once.
    var checkedDomain: (at: Int, matchEnd: Int?)?

    /// Whether no rule can match at `index` by what is known already: the position is inside a
    /// word (the byte before it and its own are word bytes), where every rule but the e-mail one
    /// declines (they start at a quote or at a word or name boundary), and the e-mail rule has
    /// read this local part to its end and found no `@` there. Every e-mail start in that local
    /// part fails the same way, so the scanner copies such bytes without asking the rules (the
    /// ~90 % of a prose answer's bytes that are inside words).
    func onlyFailedEmailCanStart(_ window: Window, at index: Int, after context: ScanContext) -> Bool {
        guard let previous = context.previous, ByteClass.word.contains(previous), ByteClass.word.contains(window.bytes[index]),
              localPartUntil > index, localPartUntil < window.bytes.count
        else { return false }
        let stop = window.bytes[localPartUntil]
        return stop != UInt8(ascii: "@") && !ByteClass.localPart.contains(stop)
    }

    mutating func rebase(by consumed: Int) {
        localPartUntil = max(0, localPartUntil - consumed)
        checkedDomain = checkedDomain.flatMap { checked in
            checked.at >= consumed ? (checked.at - consumed, checked.matchEnd.map { $0 - consumed }) : nil
        }
    }
}

/// The rule cannot tell yet: more input is needed.
struct NeedMore: Error {}

/// The bytes a rule may look at: the pending text, and whether the input ends with it.
struct Window {
    let bytes: UnsafeBufferPointer<UInt8>
    let isFinal: Bool

    /// The byte at `index`; `nil` when the input ends before it.
    /// - Throws: ``NeedMore`` when `index` lies beyond what has arrived so far.
    func peek(_ index: Int) throws(NeedMore) -> UInt8? {
        if index < bytes.count { return bytes[index] }
        if isFinal { return nil }
        throw NeedMore()
    }
}

/// A match of one rule at a position.
struct RuleMatch {
    /// Bytes of the input the match covers.
    var length: Int
    /// What is written instead.
    var replacement: [UInt8]
    /// A value of any length that follows and is dropped too.
    var then: Swallow?
}

/// Drops a value that follows a match, whatever its length, without holding it back.
enum Swallow: Sendable, Equatable {
    /// Bytes of `ByteClass`.
    case run(ByteClass)
    /// The rest of a host name: letters, digits and `-`, and a `.` when one of those follows.
    case domain
    /// Up to the closing `quote` (written back) or the end of the line; `escapes`: a backslash
    /// escapes the next byte.
    case quoted(UInt8, escapes: Bool, escaping: Bool)
    /// Up to the end of the line.
    case line
    /// Up to whitespace or a quote, `&`, `<`, `>`.
    case word

    enum Step {
        case consume
        case close(UInt8)
        case stop
    }

    /// What to do with the byte at `index` (`.stop` at the end of the input).
    func step(_ window: Window, at index: Int) throws(NeedMore) -> Step {
        guard let byte = try window.peek(index) else { return .stop }
        switch self {
        case .run(let bytes):
            return bytes.contains(byte) ? .consume : .stop
        case .domain:
            if ByteClass.hostLabel.contains(byte) { return .consume }
            guard byte == UInt8(ascii: ".") else { return .stop }
            guard let next = try window.peek(index + 1) else { return .stop }
            return ByteClass.hostLabel.contains(next) ? .consume : .stop
        case .quoted(let quote, _, let escaping):
            if escaping { return .consume }
            if byte == quote { return .close(quote) }
            return byte == UInt8(ascii: "\n") || byte == UInt8(ascii: "\r") ? .stop : .consume
        case .line:
            return byte == UInt8(ascii: "\n") || byte == UInt8(ascii: "\r") ? .stop : .consume
        case .word:
            return ByteClass.valueEnd.contains(byte) ? .stop : .consume
        }
    }

    /// The state after consuming `byte` (only quoted values carry one: a pending escape).
    func after(_ byte: UInt8) -> Swallow {
        guard case .quoted(let quote, let escapes, let escaping) = self else { return self }
        return .quoted(quote, escapes: escapes, escaping: !escaping && escapes && byte == UInt8(ascii: "\\"))
    }
}
