import Foundation
import Logging
import TandemDomain
import TandemJournal
import TandemTestSupport
import Testing

@testable import TandemProjections

@Suite("Projections")
struct ProjectionTests {
    private func journal(_ directory: TemporaryDirectory) throws -> Journal {
        try Journal(JournalConfiguration(directory: directory.path), logger: Logger(label: "test"))
    }

    private func fold(_ events: [DomainEvent], run: String = "r") async throws -> DualRunRecord {
        let directory = try TemporaryDirectory()
        let journal = try journal(directory)
        let entries = try await journal.append(events, for: RunID(run)!)
        var record = DualRunRecord(runID: run, firstSeq: entries[0].seq)
        for entry in entries { RecordFold.apply(entry.entry, to: &record) }
        return record
    }

    @Test("Fold rules: each outcome gives its status and model traces", arguments: 0..<8)
    func foldRules(kind: Int) async throws {
        let record = try await fold(Workload.events(forRun: kind))
        #expect(record.query == "question \(kind)")
        #expect(record.contextJSON.map { String(decoding: $0, as: UTF8.self) } == #"{"user_id":"u\#(kind % 7)"}"#)
        #expect(record.events == Workload.events(forRun: kind).count)
        #expect(record.endedAt != nil)
        switch Workload.scenario(ofRun: kind) {
        case .bothAnswer:
            #expect(record.status == .ok)
            #expect(record.flash?.outcome == .completed)
            #expect(record.flash?.latencyMs == Double(100 + kind))
            #expect(record.flash?.ttftMs == Double(100 + kind) / 4)
            #expect(record.flash?.version == "flash-001")
            #expect(record.flash?.promptTokens == 10)
            #expect(record.pro?.outcome == .completed)
            #expect(record.pro?.requestID == "req-\(kind)")
            #expect(record.durationMs == Double(1_000 + kind))
        case .flashTimesOut:
            #expect(record.status == .partial)
            #expect(record.flash?.outcome == .timeout)
            #expect(record.flash?.errorClass == "timeout_total")
            #expect(record.pro?.attempts == 2)
        case .proFails:
            #expect(record.status == .partial)
            #expect(record.pro?.outcome == .failed)
            #expect(record.pro?.errorClass == "upstream_http_4xx")
            #expect(record.pro?.error == "bad request")
        case .bothTimeOut:
            #expect(record.status == .timeout)
            #expect(record.flash?.errorClass == "timeout_first_token")
            #expect(record.pro?.errorClass == "timeout_idle")
        case .clientGone:
            #expect(record.status == .cancelled)
            #expect(record.clientDisconnected)
            #expect(record.flash?.outcome == .cancelled)
            #expect(record.flash?.error == "client_disconnected")
        case .abortedAfterPro:
            #expect(record.status == .aborted)
            #expect(record.flash?.error == "superseded")
            #expect(record.pro?.outcome == .completed)
        }
        #expect(DualRunRecord(json: record.json) == record, "the stored form reads back to the same record")
    }

    @Test("The payload scanner finds members after strings with escaped quotes and backslashes")
    func scanner() throws {
        let json = #"{"a":"say \"hi\" \\","b":{"c":[1,"]}\"",{"d":2}]},"e":"\\\"x","n":-12.5,"t":true,"z":null}"#
        let fields = try #require(JSONFields(Array(json.utf8)[...]))
        #expect(fields.string("a") == #"say "hi" \"#)
        #expect(fields.object("b")?.raw("c").map { String(decoding: $0, as: UTF8.self) } == #"[1,"]}\"",{"d":2}]"#)
        #expect(fields.string("e") == #"\"x"#)
        #expect(fields.double("n") == -12.5)
        #expect(fields.bool("t") == true)
        #expect(fields.isNull("z"))
        #expect(JSONFields(Array(#"{"a":"unterminated}"#.utf8)[...]) == nil)
        let record = try #require(DualRunRecord(json: DualRunRecord(runID: "x", firstSeq: 1).json))
        #expect(record.runID == "x")
    }

    @Test("Metrics fold: counters and histograms from every event kind")
    func metricsFold() async throws {
        let directory = try TemporaryDirectory()
        let journal = try journal(directory)
        try await Workload.append(runs: 16, to: journal)
        var metrics = MetricsState()
        for entry in try journal.entries(from: 1) { metrics.apply(entry) }
        #expect(metrics.runs == ["ok": 6, "partial": 4, "timeout": 2, "cancelled": 2, "aborted": 2])
        #expect(metrics.timeouts == ["flash|total": 2, "flash|first_token": 2, "pro|idle": 2])
        #expect(metrics.errors == ["pro|upstream_http_4xx": 2])
        #expect(metrics.cancellations == ["flash|client_disconnected": 2, "pro|client_disconnected": 2, "flash|superseded": 2])
        #expect(metrics.tokens["flash|input"] == 8 * 10)
        #expect(metrics.latencySummary("flash").count == 8)
        #expect(metrics.latencySummary("pro").count == 10)
        #expect(MetricsState(json: metrics.json) == metrics, "the stored form reads back to the same state")
        #expect(MetricsState(json: metrics.json)?.json == metrics.json)
    }

    @Test("Live (in uneven batches, metrics stored whole or as additions) and rebuilt projections of 1,000 mixed runs have the same digest")
    func rebuildMatchesLive() async throws {
        let directory = try TemporaryDirectory()
        let journal = try journal(directory)
        let location = ProjectionLocation(dataDirectory: directory.path)
        let live = try ProjectionStore(directory: location.path(of: "live"), name: "live", readOnly: false)
        var appended = 0
        var batch = 1
        while appended < 1_000 {
            let runs = min(1_000 - appended, 37 * batch % 101 + 1)
            try await Workload.append(runs: runs, to: journal, firstRun: appended)
            appended += runs
            batch += 1
            // Catch up like the projector does, in chunks that split runs at arbitrary points,
            // storing the whole metrics now and then and only their additions in between; each
            // batch starts from what the store holds, as after a restart.
            var folder = try ProjectionFolder(store: live)
            for entry in try journal.entries(from: folder.applied + 1) {
                try folder.apply(entry, store: live)
                if entry.seq % 113 == 0 { try folder.flush(to: live, wholeMetrics: entry.seq % 3 == 0) }
            }
            try folder.flush(to: live, wholeMetrics: batch % 4 == 0)
        }
        let expected = try live.digest()
        // Any number of shards, committing often or once, gives the live projection byte for byte.
        for (shards, entriesPerCommit) in [(1, 131_072), (2, 131_072), (3, 97), (8, 5)] {
            let name = "rebuilt-\(shards)-\(entriesPerCommit)"
            let rebuilt = try ProjectionRebuild.rebuild(
                journal: journal, location: location, name: name, shards: shards, entriesPerCommit: entriesPerCommit
            )
            #expect(try rebuilt.store.digest() == expected, "\(shards) shards, a commit every \(entriesPerCommit) entries")
            #expect(try rebuilt.store.metrics() == live.metrics())
            #expect(try rebuilt.events == journal.head().seq)
        }
        #expect(try live.checkpoint() == journal.head().seq)
        #expect(try live.metrics().runs.values.reduce(0, +) == 1_000)

        // Applying entries again (a crash between journal and projection commit) changes nothing.
        var replay = try ProjectionFolder(store: live)
        for entry in try journal.entries(from: 1, limit: 500) { try replay.apply(entry, store: live) }
        #expect(!replay.hasUnflushedChanges)
    }

    @Test("A read of an entry not projected yet starts an update at once, whatever the update interval")
    func readerWakesProjector() async throws {
        let directory = try TemporaryDirectory()
        let journal = try journal(directory)
        defer { journal.close() }
        let projector = Projector(journal: journal, dataDirectory: directory.path, logger: Logger(label: "test"), updateInterval: .seconds(3_600))
        try projector.prepare()
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { try await projector.run() }
            // A first batch is projected by the first update; the second waits for the next one,
            // an hour away, unless the read asks for it.
            for batch in 0..<2 {
                _ = try await Workload.append(runs: 3, to: journal, concurrent: 1, firstRun: batch * 3)
                let store = try await projector.store(through: try journal.head().seq, timeout: .seconds(30))
                #expect(try store.checkpoint() == journal.head().seq)
                #expect(try store.record("run-\(batch * 3 + 2)")?.lastSeq == journal.head().seq)
            }
            group.cancelAll()
        }
    }

    @Test("An entry for a run whose record a rebuild already wrote and forgot is folded onto it")
    func lateEntryAfterFlush() async throws {
        let directory = try TemporaryDirectory()
        let journal = try journal(directory)
        try await Workload.append(runs: 30, to: journal, concurrent: 1)
        // A late event of run 0 (finished long ago), after many entries of other runs.
        _ = try await journal.append([.clientDisconnected(ClientDisconnected(elapsedMs: 5))], for: RunID("run-0")!)
        let location = ProjectionLocation(dataDirectory: directory.path)
        let live = try ProjectionStore(directory: location.path(of: "live"), name: "live", readOnly: false)
        var folder = try ProjectionFolder(store: live)
        for entry in try journal.entries(from: 1) {
            try folder.apply(entry, store: live)
            try folder.flush(to: live)
        }
        for shards in [1, 2] {
            let rebuilt = try ProjectionRebuild.rebuild(journal: journal, location: location, name: "r\(shards)", shards: shards, entriesPerCommit: 3)
            #expect(try rebuilt.store.digest() == live.digest())
            let record = try #require(try rebuilt.store.record("run-0"))
            #expect(record.clientDisconnected)
            #expect(record.events == Workload.events(forRun: 0).count + 1)
            #expect(record.status == .ok, "the late event does not reopen the run")
        }
    }

    @Test("Metrics of disjoint runs merge into the metrics of all of them")
    func metricsMerge() async throws {
        let directory = try TemporaryDirectory()
        let journal = try journal(directory)
        try await Workload.append(runs: 24, to: journal)
        var all = MetricsState()
        var parts = [MetricsState(), MetricsState(), MetricsState()]
        for entry in try journal.entries(from: 1) {
            all.apply(entry)
            parts[Int(entry.seq % 3)].apply(entry)
        }
        var merged = MetricsState()
        for part in parts { merged.merge(part) }
        #expect(merged == all)
        #expect(merged.json == all.json)
    }

    @Test("Event types are classified for the folds; unknown ones are ignored")
    func foldedEvents() {
        for type in DomainEvent.allTypes {
            #expect(FoldedEvent(Array(type.utf8)[...]) != .ignored, "\(type)")
        }
        #expect(FoldedEvent(Array("pro_first_token".utf8)[...]) == .model(.pro, .firstToken))
        #expect(FoldedEvent(Array("flash_completed".utf8)[...]) == .model(.flash, .completed))
        #expect(FoldedEvent(Array("done".utf8)[...]) == .done)
        for unknown in ["", "flash_", "pro", "flash_done", "xdone", "run_started_", "judge_completed"] {
            #expect(FoldedEvent(Array(unknown.utf8)[...]) == .ignored, "\(unknown)")
        }
    }

    @Test("The run filter never forgets a run it was given")
    func runFilter() {
        var filter = RunFilter(bits: 1_000)
        let runs = (0..<5_000).map { "run-\($0)" }
        for run in runs.prefix(2_500) { filter.insert(run) }
        #expect(runs.prefix(2_500).allSatisfy(filter.mayContain))
        let falsePositives = runs.suffix(2_500).filter(filter.mayContain).count
        #expect(falsePositives < 500, "a filter sized for the runs rarely claims an unknown one")
    }

    @Test("Listing: newest first, by status, since, stable cursor pages while runs are added")
    func listing() async throws {
        let directory = try TemporaryDirectory()
        let journal = try journal(directory)
        try await Workload.append(runs: 40, to: journal, concurrent: 1)
        let location = ProjectionLocation(dataDirectory: directory.path)
        let store = try ProjectionRebuild.rebuild(journal: journal, location: location, name: "s").store
        let (first, cursor) = try store.list(status: nil, since: nil, limit: 15, after: nil)
        #expect(first.count == 15)
        #expect(DualRunRecord(json: first[0])?.runID == "run-39")
        // New runs arrive between pages: they go to the front, the next page is not disturbed.
        try await Workload.append(runs: 5, to: journal, concurrent: 1, firstRun: 40)
        var folder = try ProjectionFolder(store: store)
        for entry in try journal.entries(from: folder.applied + 1) { try folder.apply(entry, store: store) }
        try folder.flush(to: store)
        let (second, _) = try store.list(status: nil, since: nil, limit: 15, after: cursor)
        #expect(second.compactMap { DualRunRecord(json: $0)?.runID } == (10...24).reversed().map { "run-\($0)" })
        let partial = try store.list(status: .partial, since: nil, limit: 100, after: nil).0.compactMap { DualRunRecord(json: $0) }
        #expect(partial.allSatisfy { $0.status == .partial })
        #expect(partial.count == 12)
        #expect(try store.list(status: nil, since: "2999-01-01", limit: 10, after: nil).0.isEmpty)
        #expect(try store.list(status: nil, since: "2000-01-01", limit: 100, after: nil).0.count == 45)
    }

    @Test("A store of another format version is rebuilt at start-up", .timeLimit(.minutes(1)))
    func formatVersion() async throws {
        let directory = try TemporaryDirectory()
        let journal = try journal(directory)
        try await Workload.append(runs: 10, to: journal)
        let location = ProjectionLocation(dataDirectory: directory.path)
        _ = try ProjectionRebuild.rebuild(journal: journal, location: location, name: "store-old")
        try location.publish("store-old")
        try RawLMDB.withEnvironment(location.path(of: "store-old"), journalSubdirectory: false) {
            try $0.put(database: "meta", key: Array("format".utf8), value: Array("tandem-projections/0".utf8))
        }
        let projector = Projector(journal: journal, dataDirectory: directory.path, logger: Logger(label: "test"))
        try projector.prepare()
        #expect(location.currentName() != "store-old")
        #expect(try projector.store?.checkpoint() == journal.head().seq)
    }
}

extension MetricsState {
    /// Applies one journal entry, as the folder does.
    mutating func apply(_ entry: JournalEntry) {
        apply(FoldedEvent(entry.typeUTF8), data: JSONFields(entry.data))
    }
}
