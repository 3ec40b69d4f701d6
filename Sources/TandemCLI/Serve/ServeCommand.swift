import ArgumentParser
import AsyncHTTPClient
import Logging
import ServiceLifecycle
import UnixSignals
import NIOPosix
import PostgresNIO
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
        let settings = try ServeSettings(host: host, port: port, dataDirectory: dataDirectory.path)
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
        let projector = Projector(
            journal: journal, dataDirectory: settings.journal.directory, logger: logger, beforeCommit: settings.projectionsBeforeCommit
        )
        try projector.prepare()
        let clock = ContinuousClock()
        let provider: any ModelProvider
        let httpClient = UpstreamHTTPClient.make(maxConnections: settings.upstreamMaxConnections)
        let breakers: [ModelRole: CircuitBreaker] = [
            .flash: CircuitBreaker(clock: clock), .pro: CircuitBreaker(clock: clock),
        ]
        switch settings.provider {
        case .scripted(let flash, let pro):
            provider = ScriptedProvider(flash: .init(latency: flash), pro: .init(latency: pro), clock: clock)
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
        var fleetServices: [any Service] = []
        var fleet: FleetLink?
        var fleetLoop: MultiThreadedEventLoopGroup?
        if let url = fleetSettings.url {
            // The pool logs every failed connection attempt at info; the shipper logs each outage once.
            var poolLogger = logger
            if logger.logLevel > .debug { poolLogger.logLevel = max(logger.logLevel, .warning) }
            // The pool's connections get an event loop of their own: PostgreSQL's protocol work (a
            // batch is about a megabyte of COPY data) never waits in line with HTTP connections
            // (`make bench-fleet`: serve's runs/s with shipping rose from 0.90 to 0.94 of without,
            // medians of eight rounds; docs/DESIGN.md).
            let loop = MultiThreadedEventLoopGroup(numberOfThreads: 1)
            fleetLoop = loop
            let client = PostgresClient(configuration: try FleetURL.configuration(url), eventLoopGroup: loop, backgroundLogger: poolLogger)
            let store = FleetStore(client: client, logger: logger)
            let shipper = FleetShipper(
                journal: journal, store: store, nodeID: fleetSettings.nodeID, configuration: fleetSettings.shipper, logger: logger
            )
            fleetServices = [client, shipper]
            fleet = FleetLink(store: store, status: shipper.status)
            if fleetSettings.synchronous {
                runSettings.beforeFrames = { seq in await shipper.waitUntilShipped(seq) }
            }
        }
        let coordinator = RunCoordinator(
            journal: journal, provider: provider, settings: runSettings, digestKey: digestKey, clock: clock, logger: logger
        )
        let server = TandemServer(
            configuration: settings.server, journal: journal, coordinator: coordinator, projector: projector, clock: clock, logger: logger,
            fleet: fleet
        )
        let listenLogger = logger
        let application = server.makeApplication { port in
            listenLogger.info("listening", metadata: ["address": "\(settings.server.host):\(port)"])
        }
        // Stopped in reverse order: the server first, then the shipper, then its pool.
        var groupConfiguration = ServiceGroupConfiguration(
            services: fleetServices + [application], gracefulShutdownSignals: [.sigterm, .sigint], logger: logger
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
            try await fleetLoop?.shutdownGracefully()
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
}
