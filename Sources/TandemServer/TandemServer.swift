public import Hummingbird
import NIOCore
public import Logging
public import TandemDomain
public import TandemFleetReading
public import TandemJournal
public import TandemProjections
public import TandemRuns

/// tandem's HTTP API (SPEC §2) on Hummingbird: routes, middleware and SSE framing. No run logic
/// lives here; it parses, guards, and hands requests to the ``RunCoordinator``.
public struct TandemServer: Sendable {
    public let configuration: ServerConfiguration
    let journal: Journal
    let coordinator: RunCoordinator
    let projector: Projector
    let clock: any MonotonicClock
    let logger: Logger
    /// Which connections' clients have gone away; shared by the pipelines and the SSE responses.
    let departures: ClientDepartures
    /// The `: ping` timer of every open stream.
    let pings: PingTicker
    /// Reads of the fleet store and this node's shipping, when `TANDEM_FLEET_URL` is set.
    let fleet: (any FleetReading)?

    public init(
        configuration: ServerConfiguration, journal: Journal, coordinator: RunCoordinator, projector: Projector,
        clock: any MonotonicClock, logger: Logger, fleet: (any FleetReading)? = nil
    ) {
        self.fleet = fleet
        self.configuration = configuration
        self.journal = journal
        self.coordinator = coordinator
        self.projector = projector
        self.clock = clock
        self.logger = logger
        let housekeeper = MemoryHousekeeper(logger: logger)
        pings = PingTicker(interval: configuration.ssePingInterval, clock: clock, afterTick: { housekeeper.observe(openStreams: $0) })
        departures = ClientDepartures(writeTimeout: TimeAmount(configuration.writeTimeout))
    }

    /// The router with every route and middleware.
    public func makeRouter() -> Router<TandemRequestContext> {
        let router = Router(context: TandemRequestContext.self)
        router.add(middleware: CrossSiteGuard(
            listeningOn: configuration.host, allowedHosts: configuration.allowedHosts, allowedOrigins: configuration.allowedOrigins
        ))
        router.add(middleware: APIKeyAuthenticator(
            keys: configuration.apiKeys, secret: configuration.keyIDSecret,
            throttle: AuthFailureThrottle(limit: configuration.authFailuresPerMinute, clock: clock)
        ))
        let sse = SSEResponse(pings: pings, coordinator: coordinator, departures: departures, logger: logger)
        RunRoutes(
            journal: journal, coordinator: coordinator,
            parser: QueryRequestParser(maxBodyBytes: configuration.maxBodyBytes, bodyTimeout: configuration.requestBodyTimeout, clock: clock),
            limiter: RateLimiter(perMinute: configuration.rateLimitPerMinute, clock: clock),
            sse: sse, logger: logger, fleet: FleetFallback(link: fleet)
        ).register(on: router)
        HealthRoutes(journal: journal, coordinator: coordinator, fleet: fleet, keysRequired: !configuration.apiKeys.isEmpty).register(on: router)
        ProjectionRoutes(journal: journal, projector: projector, coordinator: coordinator, fleet: fleet).register(on: router)
        let pool = BlockingPool()
        JournalRoutes(
            journal: journal, verifications: JournalVerifications(), runVerifications: RunVerifications(pool: pool), pool: pool, clock: clock
        ).register(on: router)
        ConsoleRoutes().register(on: router)
        router.add(middleware: UnmatchedRoutes(router.routes))
        return router
    }

    /// The application: the HTTP server plus the run coordinator, as one service group.
    /// - Parameter onServerRunning: called with the bound port once the server listens.
    public func makeApplication(onServerRunning: @escaping @Sendable (Int) async -> Void = { _ in }) -> some ApplicationProtocol {
        Application(
            router: makeRouter(),
            server: .http1(configuration: .init(
                additionalChannelHandlers: [departures.makeHandler()],
                idleTimeout: TimeAmount(configuration.idleConnectionTimeout)
            )),
            configuration: .init(address: .hostname(configuration.host, port: configuration.port), serverName: "tandem"),
            services: [pings, projector, coordinator],
            onServerRunning: { channel in await onServerRunning(channel.localAddress?.port ?? 0) },
            logger: logger
        )
    }
}
