public import Logging
import Synchronization
public import TandemDomain
public import TandemJournal
public import TandemProviders

/// Carries out one run: journals `run_started`, calls Flash and Pro together under structured
/// concurrency, feeds what happens through ``RunStateMachine``, journals its events and sends each
/// frame only after its event is durable (write-ahead).
public struct RunOrchestrator: Sendable {
    let journal: Journal
    let provider: any ModelProvider
    let settings: RunSettings
    let clock: any MonotonicClock
    let redactor: Redactor
    /// Keys `run_started.request_digest` (the data dir's secret).
    let digestKey: RequestDigestKey
    let logger: Logger
    /// The deadlines of every call of every run (its loop runs in the coordinator's service).
    let deadlines: DeadlineScheduler

    public init(
        journal: Journal, provider: any ModelProvider, settings: RunSettings, digestKey: RequestDigestKey, clock: any MonotonicClock,
        logger: Logger
    ) {
        self.journal = journal
        self.provider = provider
        self.settings = settings
        self.clock = clock
        self.redactor = Redactor(enabled: settings.redact)
        self.digestKey = digestKey
        self.logger = logger
        self.deadlines = DeadlineScheduler(clock: clock)
    }

    /// `request` as its run journals it: the query and context redacted under this server's
    /// policy, and the request digest over them (SPEC §11 "No oracle"). Made once, when the run is
    /// admitted: the digest decides idempotency there, and `run_started` journals the same.
    func journaled(_ request: RunRequest) -> JournaledRequest {
        let redacted = request.redacted(by: redactor)
        return JournaledRequest(query: redacted.query, context: redacted.context, digest: redacted.digest(key: digestKey))
    }

    /// The `run_started` event of `request`, with its query, context and digest as `journaled`.
    func startedEvent(_ request: RunRequest, _ journaled: JournaledRequest) -> DomainEvent {
        .runStarted(RunStarted(
            query: journaled.query,
            context: journaled.context,
            client: request.client,
            config: RunConfig(
                flashModel: settings.flashModel,
                proModel: settings.proModel,
                flashTimeoutS: settings.flashDeadlines.total.milliseconds / 1_000,
                proTimeoutS: settings.proDeadlines.total.milliseconds / 1_000,
                provider: provider.name,
                redaction: redactor.policy,
                onFlashFailure: settings.onFlashFailure.rawValue,
                flashFirstTokenTimeoutS: settings.flashDeadlines.firstToken.map { $0.milliseconds / 1_000 },
                flashIdleTimeoutS: settings.flashDeadlines.idle.map { $0.milliseconds / 1_000 },
                proFirstTokenTimeoutS: settings.proDeadlines.firstToken.map { $0.milliseconds / 1_000 },
                proIdleTimeoutS: settings.proDeadlines.idle.map { $0.milliseconds / 1_000 },
                stream: request.stream.rawValue
            ),
            requestDigest: journaled.digest
        ))
    }

    /// Runs `request` to its end.
    /// - Parameters:
    ///   - journaled: ``journaled(_:)`` of `request`, made when it was admitted.
    ///   - control: how the caller steers the run (client gone, shutdown).
    ///   - started: called once `run_started` is durable (`nil`), or with the error that kept it
    ///     from the journal (the run then does not happen).
    ///   - emit: receives the frames of each commit, in order, once their events are durable; the
    ///     last is `done`.
    public func run(
        _ request: RunRequest,
        journaled: JournaledRequest,
        control: RunControl,
        started: @Sendable (RunError?) -> Void,
        emit: @escaping @Sendable ([SSEFrame]) -> Void
    ) async {
        let run = request.runID
        var logger = logger
        logger[metadataKey: "run_id"] = "\(run)"
        let startTime = clock.elapsed
        do {
            _ = try await journal.append([startedEvent(request, journaled)], for: run)
        } catch {
            logger.error("run could not start: journal append failed", metadata: ["error": "\(error)"])
            started(.notStarted(error))
            return
        }
        started(nil)

        var machine = RunStateMachine(policy: settings.onFlashFailure)
        var renderer = FrameRenderer(traceID: run.rawValue)
        // Frames that wait for the fleet wait in the sender, not here: the loop keeps taking stops.
        let sender = FrameSender(gate: settings.beforeFrames, released: control.framesReleased, emit: emit)
        await withDiscardingTaskGroup { group in
            for role in ModelRole.allCases {
                group.addTask { await self.call(role, request: request, start: startTime, control: control) }
            }
            // Without a gate the sender emits at once and has nothing to wait for: no task.
            if sender.waits { group.addTask { await sender.run() } }
            // Everything that happened while the last commit was in flight is journaled in one
            // append: a run needs few sequential commits, and each frame still follows its event.
            // Progress that sends no frame waits in the mailbox (at most `progressHold`) for
            // company: the mailbox hands it over with the next input that sends a frame.
            while let batch = await control.mailbox.next() {
                var events: [DomainEvent] = []
                var finished = false
                // Carries out what the machine decided; it alone decides what a run journals and ends.
                func perform(_ input: RunStateMachine.Input) {
                    for action in machine.handle(input, elapsedMs: (clock.elapsed - startTime).milliseconds) {
                        switch action {
                        case .journal(let more): events += more
                        case .cancel(let role): control.stopSignal(role).fire()
                        case .failStream: sender.send(renderer.streamFailureFrames(message: "the audit journal is unavailable"), through: nil)
                        // The run is closed after the loop, with the machine's `abortion`.
                        case .abort: break
                        case .finish: finished = true
                        }
                    }
                }
                for input in batch { perform(input) }
                if !events.isEmpty {
                    do {
                        let committed = try await journal.append(events, for: run)
                        let frames = committed.compactMap { renderer.frame(for: $0.event, seq: $0.seq) }
                        if !frames.isEmpty { sender.send(frames, through: committed.last?.seq) }
                    } catch {
                        logger.error("journal append failed mid-run; ending the stream", metadata: ["error": "\(error)"])
                        perform(.journalFailed(cause: "\(error)"))
                    }
                }
                if finished { control.mailbox.finish() }
            }
            sender.finish()
        }
        // Also when the loop ended before the calls stopped (the run's task was cancelled).
        if let closing = machine.abortion {
            await closeAfterJournalFailure(run, with: closing, control: control, logger: logger)
        }
    }

    /// Ends in the journal a run whose append failed mid-run with `aborted` (decided by the state
    /// machine), as soon as the journal takes writes again: until then the run has no closing
    /// entry, and its followers and same-`run_id` retries would wait for one. Retried with backoff
    /// (250 ms doubling to 5 s) while the run stays live; a shutdown stops the retries and start-up
    /// recovery closes the run instead.
    private func closeAfterJournalFailure(_ run: RunID, with aborted: RunAborted, control: RunControl, logger: Logger) async {
        let aborted = DomainEvent.runAborted(aborted)
        var delay = Duration.milliseconds(250)
        while true {
            do {
                let committed = try await journal.append([aborted], for: run)
                logger.notice("journal writable again: closed the run its failure interrupted", metadata: ["seq": "\(committed[0].seq)"])
                return
            } catch {
                logger.debug("journal still unavailable; the run stays open", metadata: ["error": "\(error)"])
            }
            let pause = delay
            let clock = clock
            let shutdown = await control.shutdownRequested.unlessFired(true) { (try? await clock.sleep(for: pause)) == nil }
            if shutdown {
                logger.warning("shutdown before the journal recovered: start-up recovery will close the run")
                return
            }
            delay = min(delay * 2, .seconds(5))
        }
    }

    // MARK: One model call

    /// How a call ended.
    fileprivate enum CallOutcome: Sendable {
        case completed(ModelResponse)
        case failed(ProviderError)
        case timedOut(DeadlineTracker.Deadline)
        case stopped
    }

    /// Calls one model, racing the call against its deadline and its stop signal; reports the
    /// outcome to the run. Returns only once the call has really stopped.
    private func call(_ role: ModelRole, request: RunRequest, start: Duration, control: RunControl) async {
        let deadlines = settings.deadlines(role)
        let tracker = DeadlineTracker(start: start, deadlines: deadlines)
        let deltas = request.stream == .deltas ? makeDeltas(role, inputs: control.mailbox) : nil
        let observer = CallObserver(
            role: role, model: settings.model(role), start: start, clock: clock, tracker: tracker, inputs: control.mailbox, deltas: deltas
        )
        let modelRequest = ModelRequest(
            role: role, model: settings.model(role), query: request.query, context: request.context,
            settings: settings.generation(role), runID: request.runID.rawValue, deadline: start + deadlines.total
        )
        // Three racers decide the call: the provider's call (a task), its deadline (in the shared
        // scheduler) and the run's stop signal; the first to hand in an outcome wins.
        let first = FirstOutcome<CallOutcome>()
        control.stopSignal(role).onFire { first.offer(.stopped) }
        // Pieces that arrive once the deadline fired are dropped (the deltas close first).
        let watch = CallWatch(tracker: tracker, scheduler: self.deadlines, first: first) { deltas?.close() }
        watch.arm()
        defer { watch.disarm() }
        let outcome: CallOutcome = await withTaskGroup(of: Void.self) { group in
            group.addTask {
                do {
                    first.offer(.completed(try await provider.generate(modelRequest, observer: observer)))
                } catch let error as ProviderError {
                    first.offer(.failed(error))
                } catch is CancellationError {
                    first.offer(.stopped)
                } catch {
                    first.offer(.failed(ProviderError(errorClass: "internal", message: "\(error)", retryable: false)))
                }
            }
            // The racers always offer an outcome (the provider's call ends in one, cancelled or
            // not), so this returns even when the run is cancelled.
            let winner = await first.value()
            group.cancelAll()
            return winner
        }
        let now = clock.elapsed
        let input: RunStateMachine.Input
        switch outcome {
        case .completed(let response):
            input = .completed(role, ModelCompleted(
                model: response.servedModel,
                content: redactor.redact(response.content),
                usage: response.usage,
                latencyMs: CanonicalJSON.milliseconds((now - start).milliseconds),
                ttftMs: tracker.firstTokenAt.map { CanonicalJSON.milliseconds(($0 - start).milliseconds) },
                finishReason: response.finishReason,
                providerRequestID: response.providerRequestID
            ))
        case .failed(let error):
            input = .failed(role, ModelFailed(
                errorClass: error.errorClass, message: redactor.redact(error.message), httpStatus: error.httpStatus,
                retryable: error.retryable
            ))
        case .timedOut(let deadline):
            let limit: Duration
            switch deadline.phase {
            case .total: limit = deadlines.total
            case .firstToken: limit = deadlines.firstToken ?? deadlines.total
            case .idle: limit = deadlines.idle ?? deadlines.total
            }
            input = .timedOut(role, ModelTimeout(
                timeoutS: limit.milliseconds / 1_000, phase: deadline.phase,
                elapsedMs: CanonicalJSON.milliseconds((deadline.at - start).milliseconds)
            ))
        case .stopped:
            input = .stopped(role)
        }
        // The last deltas go right before the call's end.
        deltas?.close()
        control.mailbox.yield(input)
    }

    /// The deltas of one call of a deltas run, redacted as its `content` is.
    private func makeDeltas(_ role: ModelRole, inputs: RunMailbox) -> CallDeltas {
        CallDeltas(
            role: role, coalescer: DeltaCoalescer(limits: settings.deltaLimits, redactor: StreamingRedactor(redactor)),
            clock: clock, scheduler: deadlines, inputs: inputs
        )
    }
}

/// Relays a model call's progress to its run as journal-worthy inputs, and moves its deadline.
private struct CallObserver: ModelCallObserver {
    let role: ModelRole
    let model: String
    let start: Duration
    let clock: any MonotonicClock
    let tracker: DeadlineTracker
    let inputs: RunMailbox
    /// Set for deltas runs.
    let deltas: CallDeltas?

    func attemptStarted(_ attempt: Int) async {
        if attempt > 1 { deltas?.attemptRestarted() }
        inputs.yield(.progress(.modelStarted(role, ModelStarted(model: model, attempt: attempt))))
    }

    func retrying(_ retry: ModelRetry) async {
        inputs.yield(.progress(.modelRetry(role, retry)))
    }

    func received(_ text: String) async {
        let now = clock.elapsed
        if tracker.progress(at: now) {
            inputs.yield(.progress(.firstToken(role, FirstToken(afterMs: CanonicalJSON.milliseconds((now - start).milliseconds)))))
        }
        deltas?.received(text)
    }
}

/// A call's deadline in the shared scheduler: when it passes without having moved (streamed text
/// moves it), the call has timed out; when it moved, it is scheduled again at its new place.
private final class CallWatch: Sendable {
    private struct State {
        var token: DeadlineScheduler.Token?
        var disarmed = false
    }

    private let tracker: DeadlineTracker
    private let scheduler: DeadlineScheduler
    private let first: FirstOutcome<RunOrchestrator.CallOutcome>
    /// Runs when the deadline fires, before the timeout is offered.
    private let onTimeout: @Sendable () -> Void
    private let state = Mutex(State())

    init(
        tracker: DeadlineTracker, scheduler: DeadlineScheduler, first: FirstOutcome<RunOrchestrator.CallOutcome>,
        onTimeout: @escaping @Sendable () -> Void
    ) {
        self.tracker = tracker
        self.scheduler = scheduler
        self.first = first
        self.onTimeout = onTimeout
    }

    func arm() {
        schedule(tracker.current)
    }

    /// The call is over: its deadline no longer matters.
    func disarm() {
        let token = state.withLock { state in
            state.disarmed = true
            return state.token
        }
        if let token { scheduler.cancel(token) }
    }

    private func schedule(_ deadline: DeadlineTracker.Deadline) {
        let token = scheduler.schedule(at: deadline.at) { self.passed(deadline) }
        let cancelNow = state.withLock { state in
            state.token = token
            return state.disarmed
        }
        if cancelNow { scheduler.cancel(token) }
    }

    private func passed(_ deadline: DeadlineTracker.Deadline) {
        let current = tracker.current
        if current == deadline {
            onTimeout()
            first.offer(.timedOut(deadline))
        } else {
            schedule(current)
        }
    }
}

/// A request as its run journals it (``RunOrchestrator/journaled(_:)``): what `run_started` shows,
/// and the digest idempotency compares.
public struct JournaledRequest: Sendable {
    let query: String
    let context: JSONValue?
    let digest: String
}
