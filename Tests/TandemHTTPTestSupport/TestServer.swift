public import AsyncHTTPClient
import Foundation
import Logging
import ServiceLifecycle
public import TandemDomain
public import TandemJournal
public import TandemProjections
public import TandemProviders
public import TandemRuns
public import TandemServer
public import TandemTestSupport

/// A real tandem server on an ephemeral loopback port, with a temp journal, for HTTP tests.
public final class TestServer: Sendable {
    public let port: Int
    public let journal: Journal
    public let coordinator: RunCoordinator
    public let projector: Projector
    public let clock: ManualClock
    public let directory: TemporaryDirectory
    let serviceGroup: ServiceGroup

    init(
        port: Int, journal: Journal, coordinator: RunCoordinator, projector: Projector, clock: ManualClock, directory: TemporaryDirectory,
        serviceGroup: ServiceGroup
    ) {
        self.port = port
        self.journal = journal
        self.coordinator = coordinator
        self.projector = projector
        self.clock = clock
        self.directory = directory
        self.serviceGroup = serviceGroup
    }

    public var baseURL: String { "http://127.0.0.1:\(port)" }

    /// Starts a server, runs `body` against it, then shuts it down gracefully and closes the journal.
    public static func with<T: Sendable>(
        provider: any ModelProvider,
        settings: RunSettings = RunSettings(),
        server serverConfiguration: ServerConfiguration = ServerConfiguration(port: 0),
        journal journalConfiguration: ((inout JournalConfiguration) -> Void)? = nil,
        directory: TemporaryDirectory? = nil,
        clock: ManualClock = ManualClock(),
        _ body: (TestServer) async throws -> T
    ) async throws -> T {
        let directory = try directory ?? TemporaryDirectory()
        var logger = Logger(label: "test-server")
        logger.logLevel = .error
        var configuration = JournalConfiguration(directory: directory.path)
        journalConfiguration?(&configuration)
        let journal = try Journal(configuration, logger: logger)
        defer { journal.close() }
        try await CrashRecovery.abortUnfinishedRuns(in: journal, logger: logger)
        let projector = Projector(journal: journal, dataDirectory: directory.path, logger: logger)
        try projector.prepare()
        // The data dir's own key, as `serve` loads it: a restart on the same directory keeps it.
        let digestKey = try RequestDigestKey.loadOrCreate(inDataDirectory: directory.path)
        let coordinator = RunCoordinator(
            journal: journal, provider: provider, settings: settings, digestKey: digestKey, clock: clock, logger: logger
        )
        var serverConfiguration = serverConfiguration
        serverConfiguration.port = 0
        let (ports, portSink) = AsyncStream.makeStream(of: Int.self)
        let application = TandemServer(
            configuration: serverConfiguration, journal: journal, coordinator: coordinator, projector: projector, clock: clock, logger: logger
        )
            .makeApplication { port in portSink.yield(port) }
        let group = ServiceGroup(configuration: .init(services: [application], logger: logger))
        return try await withThrowingTaskGroup(of: Void.self) { tasks in
            tasks.addTask { try await group.run() }
            var iterator = ports.makeAsyncIterator()
            guard let port = await iterator.next() else { throw CancellationError() }
            let server = TestServer(
                port: port, journal: journal, coordinator: coordinator, projector: projector, clock: clock, directory: directory, serviceGroup: group
            )
            do {
                let result = try await body(server)
                await group.triggerGracefulShutdown()
                try await tasks.waitForAll()
                return result
            } catch {
                await group.triggerGracefulShutdown()
                tasks.cancelAll()
                throw error
            }
        }
    }

    /// Starts a graceful shutdown of the whole server (as SIGTERM would).
    public func triggerGracefulShutdown() async {
        await serviceGroup.triggerGracefulShutdown()
    }
}
