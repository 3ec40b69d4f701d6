/// One of `count` disjoint parts of the journal's runs, chosen by a stable hash of the run id.
///
/// All entries of a run fall in the same shard, and scanning every shard of a count visits every
/// entry exactly once — so per-run work (folding a run's record) can be split across threads.
public struct RunShard: Sendable, Hashable {
    /// Which part, `0..<count`.
    public let index: Int
    /// How many parts the runs are split into.
    public let count: Int

    /// Every run.
    public static let all = RunShard(index: 0, of: 1)

    /// Part `index` of `count` (`count` ≥ 1, `index` in `0..<count`; out-of-range values are clamped).
    public init(index: Int, of count: Int) {
        self.count = max(1, count)
        self.index = min(max(0, index), self.count - 1)
    }

    /// The shards `0..<count`.
    public static func split(into count: Int) -> [RunShard] {
        (0..<max(1, count)).map { RunShard(index: $0, of: count) }
    }

    /// Whether the run whose id is `bytes` belongs to this shard (FNV-1a of the id's bytes).
    func contains(runIDBytes bytes: UnsafeRawBufferPointer) -> Bool {
        guard count > 1 else { return true }
        return Int(Self.hash(bytes) % UInt64(count)) == index
    }

    /// The 64-bit FNV-1a hash of `bytes`: stable across processes and versions (unlike `Hasher`),
    /// which is what splitting runs into shards, or noting them in a filter, needs.
    package static func hash(_ bytes: UnsafeRawBufferPointer) -> UInt64 {
        var hash: UInt64 = 0xcbf2_9ce4_8422_2325
        for byte in bytes {
            hash = (hash ^ UInt64(byte)) &* 0x0000_0100_0000_01b3
        }
        return hash
    }

    /// Whether `run` belongs to this shard.
    public func contains(_ run: RunID) -> Bool {
        var text = run.rawValue
        return text.withUTF8 { contains(runIDBytes: UnsafeRawBufferPointer($0)) }
    }
}
