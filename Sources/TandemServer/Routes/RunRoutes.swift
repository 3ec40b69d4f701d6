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
        // Before the body is read: a limited client costs no body read, however slowly it sends.
        if let retryAfter = limiter.acquire(context.keyID ?? context.remoteIP ?? "unknown") {
            return APIError.rateLimited(retryAfter: retryAfter).response
        }
        var request = request
        let runRequest: RunRequest
        do {
            runRequest = try await parser.parse(&request, context: context)
        } catch {
            return error.response
        }
        // No refusal on an earlier journal failure: a replay needs no write, and a new run's
        // `run_started` append is itself the probe (503 `journal_unavailable` if it fails).
        do {
            switch try await coordinator.admit(runRequest) {
            case .started(let stream):
                return sse.response(runID: runRequest.runID.rawValue, source: .live(stream), channel: context.channel)
            case .replay:
                let follower = try coordinator.follow(runRequest.runID)
                return sse.response(runID: runRequest.runID.rawValue, source: .journal(follower), channel: context.channel)
            }
        } catch {
            return APIError(error).response
        }
    }

    // MARK: GET /api/runs/{run_id}/stream

    private func stream(_ request: Request, context: TandemRequestContext) async -> Response {
        let header = request.headers[HTTPField.Name("Last-Event-ID")!] ?? request.uri.queryParameters.get("last_event_id")
        var after: UInt64 = 0
        if let header, !header.isEmpty {
            // 1-19 ASCII digits, exactly the OpenAPI document's pattern (every such number fits a seq).
            guard header.utf8.count <= 19, header.utf8.allSatisfy({ (UInt8(ascii: "0")...UInt8(ascii: "9")).contains($0) }),
                  let seq = UInt64(header)
            else {
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
        do {
            // A resume at or after the run's end: 204 tells an `EventSource` to stop reconnecting.
            if after > 0, let last = try journal.entries(of: run).last, last.seq <= after, try DomainEvent(last).endsRun {
                return Response(status: .noContent)
            }
            let follower = try coordinator.follow(run, afterSeq: after)
            return sse.response(runID: run.rawValue, source: .journal(follower), channel: context.channel)
        } catch {
            return APIError(error).response
        }
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
            return APIError(error).response
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
            throw APIError(error)
        }
        guard exists else { throw .notFound(raw) }
        return run
    }
}
