#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The one walk along the hash chain: fed lines in seq order, it says whether each line's `prev`
/// is the SHA-256 of the line before, then expects the hash of the line it was fed. Every check
/// of `prev` links goes through it: the journal's verify and a run's link check, the shipper's
/// batches and the fleet store's mark, the fleet verifier's stored rows.
///
/// Each line is hashed once, into a buffer the walk reuses (no allocation per line).
public struct ChainWalk: Sendable {
    /// What the next line's `prev` must be: 64 lowercase hex bytes.
    public private(set) var expectedPrev: [UInt8]

    /// A walk from the journal's start: the first line's `prev` must be 64 zeros.
    public init() {
        expectedPrev = ChainHash.genesis
    }

    /// A walk that continues after a line whose hash is `hash` (64 hex digits, e.g. a stored mark
    /// or the journal head).
    public init(afterHash hash: [UInt8]) {
        expectedPrev = hash
    }

    /// A walk that continues after `entry`.
    public init(after entry: JournalEntry) {
        expectedPrev = ChainHash.hexBytes(of: entry.line)
    }

    /// Steps over `entry`.
    /// - Returns: whether its `prev` is the expected hash (the link from the line before holds).
    public mutating func step(_ entry: JournalEntry) -> Bool {
        entry.line.withUnsafeBytes { line in
            step(line: line, prev: UnsafeRawBufferPointer(rebasing: line[entry.layout.prev]))
        }
    }

    /// Steps over a raw `line` whose `prev` field is `prev` (`nil` when the line has none: the
    /// link is broken, and the walk still goes on after the line).
    /// - Returns: whether `prev` is the expected hash.
    public mutating func step(line: UnsafeRawBufferPointer, prev: UnsafeRawBufferPointer?) -> Bool {
        let linked = prev.map { prev in
            expectedPrev.withUnsafeBytes { expected in
                expected.count == prev.count && (prev.isEmpty || memcmp(expected.baseAddress!, prev.baseAddress!, prev.count) == 0)
            }
        } ?? false
        hash(line)
        return linked
    }

    /// Steps over a raw `line` that is not a canonical entry: the walk goes on after it.
    public mutating func pass(over line: [UInt8]) {
        line.withUnsafeBytes { hash($0) }
    }

    private mutating func hash(_ line: UnsafeRawBufferPointer) {
        ChainHash.writeHex(of: line, into: &expectedPrev)
    }

    /// Whether the last line stepped over hashes to `hash` (64 hex digits).
    public func ends(at hash: some Sequence<UInt8>) -> Bool {
        expectedPrev.elementsEqual(hash)
    }
}
