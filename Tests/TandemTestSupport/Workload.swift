public import TandemDomain
public import TandemJournal

/// Realistic journals without a server: interleaved runs with every kind of outcome, appended
/// straight to the journal in the order a server would.
public enum Workload {
    /// What happens in a run of the workload.
    public enum Scenario: CaseIterable, Sendable {
        /// Flash answers, then Pro: ok.
        case bothAnswer
        /// Flash times out; Pro is retried once, then answers: partial.
        case flashTimesOut
        /// Flash answers, Pro fails: partial.
        case proFails
        /// Both time out (first token, idle): timeout.
        case bothTimeOut
        /// The client leaves; both calls are cancelled: cancelled.
        case clientGone
        /// Pro answers first, then a crash leaves the run unfinished: aborted at restart.
        case abortedAfterPro
    }

    /// The scenario of run number `index`: they cycle through eight runs, three of them answered.
    public static func scenario(ofRun index: Int) -> Scenario {
        let cycle: [Scenario] = [.bothAnswer, .bothAnswer, .bothAnswer, .flashTimesOut, .proFails, .bothTimeOut, .clientGone, .abortedAfterPro]
        return cycle[index % cycle.count]
    }

    /// The event sequence of run number `index` (its ``scenario(ofRun:)``).
    public static func events(forRun index: Int, contentBytes: Int = 300) -> [DomainEvent] {
        let started = DomainEvent.runStarted(RunStarted(
            query: "question \(index)", context: .object(["user_id": .string("u\(index % 7)")]),
            client: ClientInfo(ip: "127.0.0.1"),
            config: RunConfig(flashModel: "gemini-2.5-flash", proModel: "gemini-2.5-pro", flashTimeoutS: 5, proTimeoutS: 45,
                              provider: "scripted", redaction: "default-v1", onFlashFailure: "continue"),
            requestDigest: String(repeating: "0", count: 64)
        ))
        let content = String(repeating: "answer \(index) ", count: max(1, contentBytes / 12))
        let flashLatency = Double(100 + index % 400)
        let proLatency = Double(1_000 + index % 3_000)
        func completed(_ role: ModelRole, _ latency: Double) -> DomainEvent {
            .modelCompleted(role, ModelCompleted(
                model: "\(role.rawValue)-001", content: content, usage: TokenUsage(inputTokens: 10, outputTokens: 20 + index % 50),
                latencyMs: latency, ttftMs: latency / 4, finishReason: "STOP", providerRequestID: "req-\(index)"
            ))
        }
        var events: [DomainEvent] = [
            started,
            .modelStarted(.flash, ModelStarted(model: "gemini-2.5-flash", attempt: 1)),
            .modelStarted(.pro, ModelStarted(model: "gemini-2.5-pro", attempt: 1)),
        ]
        switch scenario(ofRun: index) {
        case .bothAnswer:
            events += [.firstToken(.flash, FirstToken(afterMs: flashLatency / 4)), completed(.flash, flashLatency),
                       .firstToken(.pro, FirstToken(afterMs: proLatency / 4)), completed(.pro, proLatency),
                       .done(RunDone(status: .ok, durationMs: proLatency))]
        case .flashTimesOut:
            events += [.modelTimeout(.flash, ModelTimeout(timeoutS: 5, phase: .total, elapsedMs: 5_000)),
                       .modelRetry(.pro, ModelRetry(attempt: 1, delayMs: 200, errorClass: "upstream_http_5xx", httpStatus: 503)),
                       .modelStarted(.pro, ModelStarted(model: "gemini-2.5-pro", attempt: 2)),
                       completed(.pro, proLatency), .done(RunDone(status: .partial, durationMs: proLatency))]
        case .proFails:
            events += [completed(.flash, flashLatency),
                       .modelFailed(.pro, ModelFailed(errorClass: "upstream_http_4xx", message: "bad request", httpStatus: 400, retryable: false)),
                       .done(RunDone(status: .partial, durationMs: proLatency))]
        case .bothTimeOut:
            events += [.modelTimeout(.flash, ModelTimeout(timeoutS: 5, phase: .firstToken, elapsedMs: 5_000)),
                       .modelTimeout(.pro, ModelTimeout(timeoutS: 45, phase: .idle, elapsedMs: 45_000)),
                       .done(RunDone(status: .timeout, durationMs: 45_000))]
        case .clientGone:
            events += [.clientDisconnected(ClientDisconnected(elapsedMs: 50)),
                       .modelCancelled(.flash, ModelCancelled(reason: .clientDisconnected)),
                       .modelCancelled(.pro, ModelCancelled(reason: .clientDisconnected)),
                       .done(RunDone(status: .cancelled, durationMs: 51))]
        case .abortedAfterPro:
            events += [completed(.pro, proLatency), .modelCancelled(.flash, ModelCancelled(reason: .superseded)),
                       .runAborted(RunAborted(reason: "restart"))]
        }
        return events
    }

    /// Appends `runs` runs, `concurrent` at a time, their events interleaved.
    /// - Returns: the number of entries appended.
    @discardableResult
    public static func append(runs: Int, to journal: Journal, concurrent: Int = 16, contentBytes: Int = 300, firstRun: Int = 0) async throws -> Int {
        var appended = 0
        var next = firstRun
        while next < firstRun + runs {
            let batch = (next..<min(firstRun + runs, next + concurrent)).map { ($0, events(forRun: $0, contentBytes: contentBytes)) }
            next += batch.count
            let longest = batch.map(\.1.count).max() ?? 0
            var pending: [PendingEntry] = []
            for step in 0..<longest {
                for (run, events) in batch where step < events.count {
                    pending.append(try events[step].pendingEntry(for: RunID("run-\(run)")!))
                }
            }
            _ = try await journal.append(pending)
            appended += pending.count
        }
        return appended
    }
}
