import TandemJournal

/// A Bloom filter of run ids: `mayContain` answers `false` only for a run never inserted.
///
/// A rebuild's folder notes every run it writes, so the first entry of a run it never wrote
/// needs no store lookup; a false positive only costs the lookup the live folder always makes.
struct RunFilter {
    private var words: [UInt64]
    private let mask: UInt64

    /// A filter of about `bits` bits (rounded to a power of two, 2^16 ... 2^28): ~10 bits per run
    /// keep false positives near 1 %.
    init(bits: Int) {
        let size = 1 << min(28, max(16, Int.bitWidth - max(0, bits - 1).leadingZeroBitCount))
        words = Array(repeating: 0, count: size / 64)
        mask = UInt64(size - 1)
    }

    mutating func insert(_ run: String) {
        let (first, step) = hash(run)
        for index in 0..<3 {
            let bit = (first &+ UInt64(index) &* step) & mask
            words[Int(bit >> 6)] |= 1 << (bit & 63)
        }
    }

    func mayContain(_ run: String) -> Bool {
        let (first, step) = hash(run)
        for index in 0..<3 {
            let bit = (first &+ UInt64(index) &* step) & mask
            if words[Int(bit >> 6)] & (1 << (bit & 63)) == 0 { return false }
        }
        return true
    }

    /// The first bit position and the step between the three (double hashing of one FNV-1a hash).
    private func hash(_ run: String) -> (UInt64, UInt64) {
        var run = run
        let hash = run.withUTF8 { RunShard.hash(UnsafeRawBufferPointer($0)) }
        return (hash, (hash >> 32) | 1)
    }
}
