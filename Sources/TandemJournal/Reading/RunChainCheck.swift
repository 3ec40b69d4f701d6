/// The outcome of re-checking one run's entries against the journal's hash chain.
public struct RunChainReport: Sendable, Equatable {
    /// The run's first and last seq (0 when the run has no entries).
    public var firstSeq: UInt64
    public var lastSeq: UInt64
    /// How many of the run's entries were checked.
    public var entries: Int
    /// The first broken link, `nil` when every entry chains to its neighbours.
    public var problem: VerificationReport.Problem?

    /// Whether every entry of the run verified.
    public var isValid: Bool { problem == nil }
}

extension Journal {
    /// Checks each of `entries` (one run's, in seq order) against its neighbours in the journal: its
    /// `prev` against the hash of the line before it, and its hash against the `prev` of the line
    /// after it (or the recorded head hash when it is the last entry).
    ///
    /// A run's entries are interleaved with other runs', so this is a check of the run's links, not
    /// of the whole chain: `verify()` is that.
    /// - Throws: ``JournalError`` when the journal cannot be read.
    public func verifyLinks(of entries: [JournalEntry]) throws -> RunChainReport {
        var report = RunChainReport(firstSeq: entries.first?.seq ?? 0, lastSeq: entries.last?.seq ?? 0, entries: 0)
        for entry in entries {
            report.entries += 1
            if let problem = try linkProblem(of: entry) {
                report.problem = problem
                return report
            }
        }
        return report
    }

    private func linkProblem(of entry: JournalEntry) throws -> VerificationReport.Problem? {
        if entry.seq > 1 {
            guard let before = try self.entry(entry.seq - 1) else {
                return .init(seq: entry.seq - 1, reason: "entry missing (seq \(entry.seq) follows it)")
            }
            var chain = ChainWalk(after: before)
            if !chain.step(entry) {
                return .init(seq: entry.seq, reason: "prev does not match the hash of seq \(entry.seq - 1)")
            }
        } else {
            var chain = ChainWalk()
            if !chain.step(entry) { return .init(seq: 1, reason: "prev is not 64 zeros") }
        }
        var chain = ChainWalk(after: entry)
        if let after = try self.entry(entry.seq + 1) {
            if !chain.step(after) {
                return .init(seq: entry.seq, reason: "its hash does not match seq \(entry.seq + 1)'s prev")
            }
        } else {
            let head = try head()
            if head.seq == entry.seq, !chain.ends(at: head.hash) {
                return .init(seq: entry.seq, reason: "its hash does not match the journal head")
            }
        }
        return nil
    }
}
