public import TandemJournal

/// Recomputes each node's chain inside the fleet store, streaming its rows in seq-ordered pages,
/// and, on a node, compares the local journal with the fleet copy byte for byte.
public struct FleetVerifier: Sendable {
    /// One thing found wrong, named by node and seq.
    public struct Problem: Sendable, Equatable, CustomStringConvertible {
        public var nodeID: String
        public var seq: UInt64
        public var reason: String
        public var description: String { "node \(nodeID) seq \(seq): \(reason)" }
    }

    /// What verify found for one node.
    public struct NodeReport: Sendable, Equatable {
        public var nodeID: String
        public var rows: UInt64
        public var shippedSeq: UInt64
        /// Entries compared with the local journal (0 when it was not compared).
        public var comparedLocally: UInt64
        public var problems: [Problem]
    }

    let store: FleetStore
    let pageSize: Int

    public init(store: FleetStore, pageSize: Int = 5_000) {
        self.store = store
        self.pageSize = pageSize
    }

    /// Verifies `only` (or every node), comparing with `local` when it is one of them.
    public func verify(only: String? = nil, local: (nodeID: String, journal: Journal)? = nil) async throws(FleetError) -> [NodeReport] {
        var reports: [NodeReport] = []
        for node in try await store.nodes() where only == nil || node.nodeID == only {
            reports.append(try await verify(node, local: local?.nodeID == node.nodeID ? local?.journal : nil))
        }
        if let only, !reports.contains(where: { $0.nodeID == only }) {
            reports.append(NodeReport(nodeID: only, rows: 0, shippedSeq: 0, comparedLocally: 0, problems: [
                Problem(nodeID: only, seq: 0, reason: "the fleet store has no such node"),
            ]))
        }
        return reports
    }

    private func verify(_ node: FleetNodeRow, local: Journal?) async throws(FleetError) -> NodeReport {
        var report = NodeReport(nodeID: node.nodeID, rows: 0, shippedSeq: node.shippedSeq, comparedLocally: 0, problems: [])
        func problem(_ seq: UInt64, _ reason: String) { report.problems.append(Problem(nodeID: node.nodeID, seq: seq, reason: reason)) }
        if let divergence = node.divergence { problem(node.shippedSeq, "shipping is stopped: \(divergence)") }
        var expected: UInt64 = 1
        var chain = ChainWalk()
        var localHead: UInt64 = 0
        if let local {
            localHead = try read { try local.head().seq }
            if localHead < node.shippedSeq {
                problem(localHead + 1, "the local journal ends at seq \(localHead) but the fleet holds this node up to seq \(node.shippedSeq)")
            }
        }
        while true {
            let rows = try await store.rows(of: node.nodeID, after: expected - 1, limit: pageSize)
            guard let last = rows.last else { break }
            let localLines: [UInt64: [UInt8]]
            if let local, rows[0].seq <= localHead {
                let entries = try read { try local.entries(from: rows[0].seq, through: min(last.seq, localHead)) }
                localLines = Dictionary(uniqueKeysWithValues: entries.map { ($0.seq, $0.line) })
            } else {
                localLines = [:]
            }
            for row in rows {
                report.rows += 1
                if row.seq != expected { problem(expected, "rows \(expected)…\(row.seq - 1) are missing") }
                expected = row.seq + 1
                guard let entry = try? JournalEntry(line: row.line), entry.seq == row.seq else {
                    problem(row.seq, "the stored line is not this seq's canonical journal line (edited in PostgreSQL)")
                    chain.pass(over: row.line)
                    continue
                }
                if !chain.step(entry) {
                    problem(row.seq, "its prev does not match the hash of the stored row \(row.seq - 1): row \(row.seq - 1) or this row was edited in PostgreSQL")
                }
                if !row.columnsAgree {
                    problem(row.seq, "the row's columns (ts, run_id, type, data, prev) do not match its line (edited in PostgreSQL)")
                }
                if let localLine = localLines[row.seq] {
                    report.comparedLocally += 1
                    if localLine != row.line {
                        problem(row.seq, "the local journal's line differs from the fleet copy: one of them was rewritten after shipping")
                    }
                }
            }
            if rows.count < pageSize { break }
        }
        if expected - 1 != node.shippedSeq {
            problem(node.shippedSeq, "the shipped mark is \(node.shippedSeq) but the stored rows end at \(expected - 1)")
        } else if node.shippedSeq > 0, !chain.ends(at: node.shippedHash.utf8) {
            problem(node.shippedSeq, "the hash of the last stored row is not the shipped hash: the row was edited in PostgreSQL")
        }
        return report
    }

    private func read<T>(_ body: () throws -> T) throws(FleetError) -> T {
        do {
            return try body()
        } catch {
            throw .journal(error)
        }
    }
}
