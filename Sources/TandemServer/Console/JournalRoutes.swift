import Hummingbird
import TandemDomain
import TandemJournal

/// The journal's integrity over HTTP, for the console's chain badge and journal page:
/// `GET /api/runs/{run_id}/verify`, `GET /api/journal`, `POST /api/journal/verify`.
///
/// `GET /api/journal` answers from the counts the journal's writer keeps (no scan); verifies run
/// on a bounded thread pool (``BlockingPool``), single-flight: one whole-journal verify at a time
/// (409 while one runs), one chain check per run however many ask for it.
struct JournalRoutes {
    let journal: Journal
    let verifications: JournalVerifications
    let runVerifications: RunVerifications
    let pool: BlockingPool
    let clock: any MonotonicClock

    func register(on router: Router<TandemRequestContext>) {
        router.get("/api/runs/{run_id}/verify") { _, context in await verifyRun(context) }
        router.get("/api/journal") { _, _ in await summary() }
        router.post("/api/journal/verify") { _, _ in await verifyJournal() }
    }

    // MARK: GET /api/runs/{run_id}/verify

    private struct RunVerification: Encodable {
        var ok: Bool
        var firstSeq: UInt64
        var lastSeq: UInt64
        var entries: Int
        var brokenAt: UInt64?
        var reason: String?

        enum CodingKeys: String, CodingKey {
            case ok, entries, reason
            case firstSeq = "first_seq"
            case lastSeq = "last_seq"
            case brokenAt = "broken_at"
        }
    }

    private func verifyRun(_ context: TandemRequestContext) async -> Response {
        let raw = context.parameters.get("run_id") ?? ""
        guard let run = RunID(raw) else {
            return APIError.validation("run_id", "run_id must be 1-64 characters of [A-Za-z0-9_-].").response
        }
        let report: RunChainReport
        do {
            report = try await runVerifications.report(of: run, in: journal)
        } catch {
            return APIError(error).response
        }
        guard report.entries > 0 else { return APIError.notFound(raw).response }
        return JSONBody.response(RunVerification(
            ok: report.isValid, firstSeq: report.firstSeq, lastSeq: report.lastSeq, entries: report.entries,
            brokenAt: report.problem?.seq, reason: report.problem?.reason
        ))
    }

    // MARK: GET /api/journal

    private struct Summary: Encodable {
        var headSeq: UInt64
        var headHash: String
        var entries: UInt64
        var bytes: UInt64
        var fileBytes: UInt64
        var firstTs: String?
        var lastTs: String?
        var openRuns: Int
        var verifyInProgress: Bool
        var lastVerify: JournalVerifications.Outcome?

        enum CodingKeys: String, CodingKey {
            case entries, bytes
            case headSeq = "head_seq"
            case headHash = "head_hash"
            case fileBytes = "file_bytes"
            case firstTs = "first_ts"
            case lastTs = "last_ts"
            case openRuns = "open_runs"
            case verifyInProgress = "verify_in_progress"
            case lastVerify = "last_verify"
        }
    }

    private func summary() async -> Response {
        let stats: JournalStats
        do {
            stats = try journal.liveStats()
        } catch {
            return APIError(error).response
        }
        return JSONBody.response(Summary(
            headSeq: stats.head.seq, headHash: stats.head.hashHex, entries: stats.entries, bytes: stats.lineBytes,
            fileBytes: stats.fileBytes, firstTs: stats.firstTimestamp, lastTs: stats.lastTimestamp, openRuns: stats.openRuns,
            verifyInProgress: verifications.isRunning, lastVerify: verifications.last
        ))
    }

    // MARK: POST /api/journal/verify

    private func verifyJournal() async -> Response {
        guard verifications.begin() else {
            return APIError.verifyInProgress.response
        }
        let journal = journal
        let started = clock.elapsed
        let report: VerificationReport
        do {
            report = try await pool.run { try journal.verify() }
        } catch {
            verifications.finish(nil)
            return APIError(error).response
        }
        let outcome = JournalVerifications.Outcome(
            ok: report.isValid, entries: report.entriesChecked, headSeq: report.head.seq, headHash: report.head.hashHex,
            brokenAt: report.problem?.seq, reason: report.problem?.reason,
            finishedAt: String(decoding: JournalClock.timestamp(microseconds: JournalClock.system.microsecondsSinceEpoch()), as: UTF8.self),
            durationMs: CanonicalJSON.milliseconds((clock.elapsed - started).milliseconds)
        )
        verifications.finish(outcome)
        return JSONBody.response(outcome)
    }
}
