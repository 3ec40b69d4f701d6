import ArgumentParser
import Foundation
import AsyncHTTPClient
import Logging
import ServiceLifecycle
import UnixSignals
import TandemDomain
import TandemFleet
import TandemJournal
import TandemProjections
import TandemProviders
import TandemRuns
import TandemServer

/// `tandem serve`: the HTTP service, with the journal, crash recovery and graceful shutdown.
struct ServeCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "serve",
        abstract: "Run the HTTP service (settings from flags and the environment; see README).",
        discussion: "SIGTERM/SIGINT start a graceful shutdown: new runs get 503, running ones get TANDEM_SHUTDOWN_GRACE_S to finish."
    )

    @Option(help: "Address to listen on (env HOST, default 127.0.0.1).") var host: String?
    @Option(help: "Port to listen on (env PORT, default 8080; 0 picks a free port).") var port: Int?
    @OptionGroup var dataDirectory: DataDirectoryOption

    func run() async throws {
        // Before anything is created in the data dir (the fleet settings write `node_id`).
        umask(0o077)
        let hooks = ServeFaultHooks.current
        var configured = try ServeSettings(host: host, port: port, dataDirectory: dataDirectory.path)
        configured.journal.beforeRunIndexFlush = hooks.runIndexBeforeFlush
        let settings = configured
        var logger = Logger(label: "tandem")
        logger.logLevel = Environment.value("LOG_LEVEL").flatMap(Logger.Level.init(rawValue:)) ?? .info
        let fleetSettings: FleetServeSettings
        do {
            fleetSettings = try FleetServeSettings(dataDirectory: settings.journal.directory)
        } catch let error as FleetError {
            logger.critical("cannot start: \(error.description)", metadata: ["code": "\(error.code)"])
            throw ExitCode.failure
        }
        for (key, value) in settings.summary + fleetSettings.summary {
            logger.info("setting", metadata: [key: "\(value)"])
        }

        // Private files (SPEC §11): whatever this process creates is 0600/0700 even where a
        // library picks the mode, and a data dir made looser (by an older tandem, by hand) is
        // tightened now, with a notice.
        do {
            let changed = try PrivateFiles.tighten(settings.journal.directory)
            if !changed.isEmpty {
                logger.notice(
                    "data dir permissions tightened: group and other access removed",
                    metadata: ["data_dir": "\(settings.journal.directory)", "paths": "\(changed.count)", "first": "\(changed[0])"]
                )
            }
        } catch {
            throw CLIError.report(error)
        }

        // One serve per data dir: a second one would abort the first one's live runs in crash
        // recovery and fold the same entries into the metrics twice.
        let ownership: DataDirectoryLock
        do {
            ownership = try DataDirectoryLock(directory: settings.journal.directory)
        } catch {
            throw CLIError.report(error)
        }
        defer { withExtendedLifetime(ownership) {} }

        let journal: Journal
        do {
            journal = try Journal(settings.journal, logger: logger)
        } catch {
            logger.critical("cannot open the journal", metadata: ["error": "\(error)"])
            throw ExitCode.failure
        }
        defer { journal.close() }
        let aborted = try await CrashRecovery.abortUnfinishedRuns(in: journal, logger: logger)
        let head = try journal.head().seq
        logger.info("journal open", metadata: ["head_seq": "\(head)", "aborted_runs": "\(aborted.count)"])

        let digestKey: RequestDigestKey
        do {
            digestKey = try RequestDigestKey.loadOrCreate(inDataDirectory: settings.journal.directory)
        } catch {
            logger.critical("cannot load the request-digest key", metadata: ["error": "\(error)"])
            throw ExitCode.failure
        }
        var serverConfiguration = settings.server
        do {
            serverConfiguration.keyIDSecret = try KeyIDSecret.resolve(file: settings.keyIDSecretFile, dataDirectory: settings.journal.directory)
        } catch {
            logger.critical("cannot load the key id secret", metadata: ["error": "\(error)"])
            throw ExitCode.failure
        }
        if !serverConfiguration.apiKeys.isEmpty {
            logger.info("api key ids", metadata: ["key_ids": "\(serverConfiguration.apiKeys.map(serverConfiguration.keyIDSecret.id(of:)).joined(separator: ", "))"])
        }
        let projector = Projector(
            journal: journal, dataDirectory: settings.journal.directory, logger: logger, beforeCommit: hooks.projectionsBeforeCommit
        )
        try projector.prepare()
        let clock = ContinuousClock()
        let provider: any ModelProvider
        let httpClient = UpstreamHTTPClient.make(maxConnections: settings.upstreamMaxConnections)
        let breakers: [ModelRole: CircuitBreaker] = [
            .flash: CircuitBreaker(clock: clock), .pro: CircuitBreaker(clock: clock),
        ]
        switch settings.provider {
        case .scripted(let flash, let pro, let flashPieces, let proPieces):
            provider = ScriptedProvider(flash: .init(latency: flash, pieces: flashPieces), pro: .init(latency: pro, pieces: proPieces), clock: clock)
        case .gemini(let key, let baseURL):
            provider = HTTPModelProvider.gemini(apiKey: key, baseURL: baseURL, client: httpClient, breakers: breakers, clock: clock)
        case .vertex(let project, let location, let baseURL, let token):
            let tokens: any AccessTokenSource
            switch token {
            case .accessToken(let value):
                tokens = StaticAccessToken(value)
            case .serviceAccountFile(let file):
                do {
                    tokens = try ServiceAccountTokens(credentialsFile: file, client: httpClient)
                } catch {
                    try? await httpClient.shutdown()
                    logger.critical("GOOGLE_APPLICATION_CREDENTIALS is unusable", metadata: ["error": "\(error)"])
                    throw ExitCode.failure
                }
            }
            provider = HTTPModelProvider.vertex(
                project: project, location: location, baseURL: baseURL, tokens: tokens, client: httpClient, breakers: breakers, clock: clock
            )
        case .openAI(let baseURL, let key):
            provider = HTTPModelProvider.openAI(baseURL: baseURL, apiKey: key, client: httpClient, breakers: breakers, clock: clock)
        }
        // The fleet shipper and its pool run beside the server, never in a request's path (unless
        // TANDEM_FLEET_DURABILITY=sync, where each commit's frames wait for its entries to ship).
        var runSettings = settings.runs
        var fleet: FleetNode?
        if let endpoint = fleetSettings.endpoint, let secretHash = fleetSettings.secretHash {
            // Another node holding this node id stops serve here when the store can say so.
            try await Self.checkNodeIdentity(fleetSettings.nodeID, secretHash: secretHash, endpoint: endpoint, journal: journal, logger: logger)
            // The pool logs every failed connection attempt at info; the shipper logs each outage once.
            var poolLogger = logger
            if logger.logLevel > .debug { poolLogger.logLevel = max(logger.logLevel, .warning) }
            var shipping = fleetSettings.shipper
            shipping.beforeCommit = hooks.fleetBeforeCommit
            let node = FleetNode(
                endpoint: endpoint, journal: journal, nodeID: fleetSettings.nodeID, secretHash: secretHash, configuration: shipping,
                synchronous: fleetSettings.synchronous, clock: clock, logger: logger, poolLogger: poolLogger
            )
            fleet = node
            if fleetSettings.synchronous {
                runSettings.beforeFrames = { seq in await node.waitUntilShipped(seq) }
            }
        }
        let coordinator = RunCoordinator(
            journal: journal, provider: provider, settings: runSettings, digestKey: digestKey, clock: clock, logger: logger
        )
        let server = TandemServer(
            configuration: serverConfiguration, journal: journal, coordinator: coordinator, projector: projector, clock: clock, logger: logger,
            fleet: fleet?.reading
        )
        let listenLogger = logger
        let application = server.makeApplication { port in
            listenLogger.info("listening", metadata: ["address": "\(settings.server.host):\(port)"])
        }
        // Stopped in reverse order: the server first, then the shipper, then its pool.
        var groupConfiguration = ServiceGroupConfiguration(
            services: (fleet?.services ?? []) + [application], gracefulShutdownSignals: [.sigterm, .sigint], logger: logger
        )
        // Bounded shutdown: runs get the grace period, then everything still open (streams,
        // connections) gets the hard limit before the server is cancelled and closes them.
        groupConfiguration.maximumGracefulShutdownDuration = settings.runs.shutdownGrace + settings.shutdownHardLimit
        let group = ServiceGroup(configuration: groupConfiguration)
        let outcome: Result<Void, any Error>
        do {
            try await group.run()
            outcome = .success(())
        } catch {
            outcome = .failure(error)
        }
        // The fleet pool's service has ended with the group: its event loop can go.
        do {
            try await fleet?.shutdown()
        } catch {
            logger.error("the fleet store's event loop did not stop", metadata: ["error": "\(error)"])
        }
        do {
            try outcome.get()
        } catch {
            try? await httpClient.shutdown()
            throw error
        }
        try await httpClient.shutdown()
        let finalHead = try journal.head().seq
        logger.info("stopped; closing the journal", metadata: ["head_seq": "\(finalHead)"])
    }

    /// Proves the node id to the fleet store at start (SPEC §11): another node holding it stops
    /// serve (exit 1, `node_id_in_use`). An unreachable store does not: serve starts, and its
    /// shipper makes the same check before it ships anything (and never ships if it fails).
    private static func checkNodeIdentity(_ node: String, secretHash: String, endpoint: FleetEndpoint, journal: Journal, logger: Logger) async throws {
        var quiet = logger
        quiet.logLevel = max(logger.logLevel, .error)
        do {
            try await FleetStore.with(endpoint, logger: quiet) { store in
                try await store.migrate(limit: .seconds(10))
                _ = try await store.claim(node: node, secretHash: secretHash) { seq, hash in try journal.entry(seq)?.hash == hash }
            }
        } catch let error as FleetError where error.code == .nodeIDInUse {
            logger.critical("cannot start: \(error.description)", metadata: ["code": "\(error.code)"])
            throw ExitCode.failure
        } catch let error as FleetError {
            logger.warning("the fleet store cannot be checked at start; the shipper checks the node id before it ships", metadata: [
                "code": "\(error.code)", "error": "\(error.description)",
            ])
        }
    }
}