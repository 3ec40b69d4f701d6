public import Logging
public import ServiceLifecycle
import Synchronization
public import TandemDomain
public import TandemJournal
public import TandemProviders

/// Admits runs and runs them: the one place that knows which runs are live.
///
/// A `Service`: its `run()` owns a task group in which every run executes (structured
/// concurrency: no run outlives the service). It enforces idempotency (same run id + same request
/// digest → replay, different digest → conflict), the concurrency cap, and graceful shutdown:
/// new runs are refused, running ones get the grace period, then are cancelled with
/// `error(server_shutdown)` + `done`.
public final class RunCoordinator: Service, Sendable {
    private struct Job: Sendable {
        var request: RunRequest
        var journaled: JournaledRequest
        var control: RunControl
        var started: @Sendable (RunError?) -> Void
        var emit: @Sendable ([SSEFrame]) -> Void
        /// The run is over: its stream ends, also when frames were held back (never sent unshipped).
        var ended: @Sendable () -> Void
    }

    private struct Registry {
        var live: [RunID: (digest: String, control: RunControl)] = [:]
        var shuttingDown = false
        /// Resumed with `true` once no run is live.
        var idleWaiters = WaiterList<Void, Bool>()
    }

    public let orchestrator: RunOrchestrator
    private let journal: Journal
    private let clock: any MonotonicClock
    private let logger: Logger
    private let jobs: AsyncStream<Job>
    private let jobSink: AsyncStream<Job>.Continuation
    private let registry = Mutex(Registry())
    private let shutdownStarted = StopSignal()
    /// Fired once a shutdown has drained every run: followers then end after a last read.
    private let drained = StopSignal()
    private let followers = Mutex(0)
    /// Commit-to-write delays of live frames, in this process.
    public let frameDelays = FrameDelays()

    /// - Parameter digestKey: the data dir's secret that keys request digests
    ///   (``RequestDigestKey/loadOrCreate(inDataDirectory:)``).
    public init(
        journal: Journal, provider: any ModelProvider, settings: RunSettings, digestKey: RequestDigestKey, clock: any MonotonicClock,
        logger: Logger
    ) {
        self.journal = journal
        self.clock = clock
        self.logger = logger
        self.orchestrator = RunOrchestrator(
            journal: journal, provider: provider, settings: settings, digestKey: digestKey, clock: clock, logger: logger
        )
        (jobs, jobSink) = AsyncStream.makeStream(of: Job.self)
    }

    /// A live stream wrote frames whose commit returned at `committedAt` (on this coordinator's clock).
    public func frameWritten(committedAt: Duration) {
        frameDelays.record(clock.elapsed - committedAt)
    }

    /// Runs currently live.
    public var activeRuns: Int { registry.withLock { $0.live.count } }

    /// Whether a shutdown has started.
    public var isShuttingDown: Bool { registry.withLock { $0.shuttingDown } }

    /// Streams read back from the journal right now.
    public var activeFollowers: Int { followers.withLock { $0 } }

    // MARK: Following

    /// A reader of `run`'s frames from the journal (idempotent replay, `GET …/stream`, resume
    /// after `afterSeq`), counted against ``RunSettings/maxFollowers`` while it exists; it ends
    /// at the run's terminal frame, or once a shutdown has drained the runs.
    /// - Throws: ``RunError/overloaded`` at the limit.
    public func follow(_ run: RunID, afterSeq: UInt64 = 0) throws(RunError) -> RunFollower {
        let limit = orchestrator.settings.maxFollowers
        let admitted = followers.withLock { count -> Bool in
            guard count < limit else { return false }
            count += 1
            return true
        }
        guard admitted else { throw .overloaded }
        let lease = FollowerLease { self.followers.withLock { $0 -= 1 } }
        return RunFollower(
            journal: journal, run: run, afterSeq: afterSeq, pollInterval: .seconds(1), stop: drained, lease: lease,
            gate: orchestrator.settings.beforeFrames
        )
    }

    // MARK: Admission

    /// Admits `request`: starts a new run (returning once `run_started` is durable) or tells the
    /// caller to replay an existing one.
    /// - Throws: ``RunError``.
    public func admit(_ request: RunRequest) async throws(RunError) -> RunAdmission {
        // Redacted and digested once: the digest decides here, and `run_started` journals both.
        let journaled = orchestrator.journaled(request)
        let digest = journaled.digest
        let control = RunControl(mailbox: RunMailbox(
            hold: orchestrator.settings.progressHold, scheduler: orchestrator.deadlines, clock: clock
        ))
        let claim: Result<Bool, RunError> = registry.withLock { registry in
            if registry.shuttingDown { return .failure(.shuttingDown) }
            if let live = registry.live[request.runID] {
                return live.digest == digest ? .success(false) : .failure(.conflict)
            }
            if registry.live.count >= orchestrator.settings.maxConcurrentRuns { return .failure(.overloaded) }
            registry.live[request.runID] = (digest, control)
            return .success(true)
        }
        guard try claim.get() else { return .replay }

        if request.clientChoseRunID {
            do {
                if let existing = try existingDigest(of: request.runID) {
                    release(request.runID, control)
                    // Compared the way the existing run was digested: its own policy says how.
                    let comparable = existing.policy == orchestrator.redactor.policy
                        ? digest : request.digest(key: orchestrator.digestKey, policy: existing.policy)
                    if existing.digest == comparable { return .replay }
                    throw RunError.conflict
                }
            } catch let refusal as RunError {
                throw refusal
            } catch {
                release(request.runID, control)
                throw .journal(error)
            }
        }

        let (items, sink) = AsyncStream.makeStream(of: StreamItem.self)
        let outcome: RunError? = await withCheckedContinuation { continuation in
            let job = Job(
                request: request, journaled: journaled, control: control,
                started: { error in continuation.resume(returning: error) },
                emit: { frames in
                    sink.yield(.frames(frames, committedAt: self.clock.elapsed))
                    if frames.contains(where: \.isTerminal) { sink.finish() }
                },
                ended: { sink.finish() }
            )
            if case .terminated = jobSink.yield(job) {
                continuation.resume(returning: .shuttingDown)
            }
        }
        if let outcome {
            release(request.runID, control)
            throw outcome
        }
        return .started(RunStream(items: items, pings: sink, control: control))
    }

    /// The request digest journaled in `run_started` of `run` and the redaction policy it was
    /// journaled under, if the run exists.
    private func existingDigest(of run: RunID) throws -> (digest: String, policy: String)? {
        guard let first = try journal.seqs(of: run).first, let entry = try journal.entry(first) else { return nil }
        if case .runStarted(let started) = try DomainEvent(entry) { return (started.requestDigest, started.config.redaction) }
        return ("", "")
    }

    /// Ends `run`'s claim made with `control`. A run that did not start is released twice (by
    /// `admit`, then by its job once the orchestrator returns); a retry may have claimed the id in
    /// between, and its claim stays.
    private func release(_ run: RunID, _ control: RunControl) {
        registry.withLock { registry -> Wakeups<Void, Bool> in
            guard registry.live[run]?.control === control else { return Wakeups() }
            registry.live[run] = nil
            return registry.live.isEmpty ? registry.idleWaiters.takeAll() : Wakeups()
        }.resume(returning: true)
    }

    // MARK: Service

    /// Runs admitted runs until a graceful shutdown has drained them. The drain runs as a child of
    /// this task, so it too ends with the service.
    public func run() async throws {
        await withDiscardingTaskGroup { group in
            group.addTask { await self.orchestrator.deadlines.run() }
            group.addTask {
                await withGracefulShutdownHandler {
                    await self.shutdownStarted.wait()
                } onGracefulShutdown: {
                    self.beginShutdown()
                }
                if self.isShuttingDown { await self.drain(grace: self.orchestrator.settings.shutdownGrace) }
                self.drained.fire()
                // A stream's handler may start the drain before this service is told to stop; a
                // service must not return before then.
                try? await gracefulShutdown()
                self.jobSink.finish()
            }
            for await job in jobs {
                group.addTask {
                    await self.orchestrator.run(job.request, journaled: job.journaled, control: job.control, started: job.started, emit: job.emit)
                    job.ended()
                    self.release(job.request.runID, job.control)
                }
            }
            // Every run is over (the jobs end after the drain): no deadline is left to watch.
            self.orchestrator.deadlines.stop()
        }
    }

    /// Starts a graceful shutdown (idempotent): refuses new runs, lets running ones finish for the
    /// grace period, then cancels what is left and stops taking jobs once all runs are done.
    public func beginShutdown() {
        let first = registry.withLock { registry -> Bool in
            defer { registry.shuttingDown = true }
            return !registry.shuttingDown
        }
        guard first else { return }
        logger.notice("graceful shutdown: refusing new runs", metadata: ["active_runs": "\(activeRuns)"])
        shutdownStarted.fire()
    }

    private func drain(grace: Duration) async {
        let idle = await clock.race({ await self.idleUnlessCancelled() }, within: grace, else: false)
        if !idle {
            let controls = registry.withLock { $0.live.values.map(\.control) }
            logger.notice("grace period over: cancelling runs", metadata: ["active_runs": "\(controls.count)"])
            for control in controls { control.shutdown() }
        }
        await waitUntilIdle()
    }

    /// `true` once no run is live; `false` when the waiting task is cancelled first.
    private func idleUnlessCancelled() async -> Bool {
        await registry.wait(in: \.idleWaiters, tag: (), onCancel: false) { $0.live.isEmpty ? true : nil }
    }

    /// Returns once no run is live.
    public func waitUntilIdle() async {
        _ = await registry.wait(in: \.idleWaiters, tag: (), onCancel: nil) { $0.live.isEmpty ? true : nil }
    }
}
