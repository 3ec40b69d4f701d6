import Foundation
import HTTPTypes
import Hummingbird
import Logging
import TandemDomain
import TandemJournal
import TandemRuns

/// The streaming endpoint and the run read-back endpoints.
struct RunRoutes {
    let journal: Journal
    let coordinator: RunCoordinator
    let parser: QueryRequestParser
    let limiter: RateLimiter
    let sse: SSEResponse
    let logger: Logger
    /// Reads of runs that are not local.
    let fleet: FleetFallback

    func register(on router: Router<TandemRequestContext>) {
        router.post("/api/reasoning/query") { request, context in await query(request, context: context) }
        router.get("/api/runs/{run_id}/stream") { request, context in await stream(request, context: context) }
        router.get("/api/runs/{run_id}/events") { request, context in await events(request, context: context) }
    }

    // MARK: POST /api/reasoning/query

    private func query(_ request: Request, context: TandemRequestContext) async -> Response {
        var request = request
        let runRequest: RunRequest
        do {
            runRequest = try await parser.parse(&request, context: context)
        } catch {
            return error.response
        }
        if let retryAfter = limiter.acquire(context.keyID ?? context.remoteIP ?? "unknown") {
            return APIError.rateLimited(retryAfter: retryAfter).response
        }
        if let failure = journal.lastAppendFailure {
            return APIError.journalUnavailable(failure.message).response
        }
        do {
            switch try await coordinator.admit(runRequest) {
            case .started(let stream):
                return sse.response(runID: runRequest.runID.rawValue, source: .live(stream), channel: context.channel)
            case .replay:
                let follower = RunFollower(journal: journal, run: runRequest.runID)
                return sse.response(runID: runRequest.runID.rawValue, source: .journal(follower), channel: context.channel)
            }
        } catch {
            switch error {
            case .conflict: return APIError.conflict.response
            case .overloaded: return APIError.overloaded.response
            case .shuttingDown: return APIError.shuttingDown.response
            case .journalUnavailable(let detail): return APIError.journalUnavailable(detail).response
            }
        }
    }

    // MARK: GET /api/runs/{run_id}/stream

    private func stream(_ request: Request, context: TandemRequestContext) async -> Response {
        let header = request.headers[HTTPField.Name("Last-Event-ID")!] ?? request.uri.queryParameters.get("last_event_id")
        var after: UInt64 = 0
        if let header, !header.isEmpty {
            guard let seq = UInt64(header.trimmingCharacters(in: .whitespaces)) else {
                return APIError.validation("Last-Event-ID", "Last-Event-ID must be the seq (a whole number) of the last frame received.").response
            }
            after = seq
        }
        let run: RunID
        do {
            run = try existingRun(context)
        } catch {
            guard error.code == APIError.notFound("").code, let raw = context.parameters.get("run_id") else { return error.response }
            do {
                guard let (node, frames) = try await fleet.frames(raw, afterSeq: after) else { return error.response }
                let response = sse.response(runID: raw, source: .replayed(frames), channel: context.channel)
                return FleetFallback.tagged(response, node: node)
            } catch {
                return error.response
            }
        }
        let follower = RunFollower(journal: journal, run: run, afterSeq: after)
        return sse.response(runID: run.rawValue, source: .journal(follower), channel: context.channel)
    }

    // MARK: GET /api/runs/{run_id}/events

    private func events(_ request: Request, context: TandemRequestContext) async -> Response {
        do {
            let run = try existingRun(context)
            let entries = try journal.entries(of: run)
            return JSONBody.raw(FleetFallback.array(of: entries))
        } catch let error as APIError {
            guard error.code == APIError.notFound("").code, let raw = context.parameters.get("run_id") else { return error.response }
            do {
                return try await fleet.events(raw) ?? error.response
            } catch {
                return error.response
            }
        } catch {
            return APIError.journalUnavailable("\(error)").response
        }
    }

    /// The run named in the path, if the journal has it.
    private func existingRun(_ context: TandemRequestContext) throws(APIError) -> RunID {
        let raw = context.parameters.get("run_id") ?? ""
        guard let run = RunID(raw) else {
            throw .validation("run_id", "run_id must be 1-64 characters of [A-Za-z0-9_-].")
        }
        let exists: Bool
        do {
            exists = try !journal.seqs(of: run).isEmpty
        } catch {
            throw .journalUnavailable("\(error)")
        }
        guard exists else { throw .notFound(raw) }
        return run
    }
}
