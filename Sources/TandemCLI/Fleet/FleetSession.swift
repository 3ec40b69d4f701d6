import ArgumentParser
import Logging
import PostgresNIO
import TandemFleet

/// Where the fleet store is: `--url`, else `TANDEM_FLEET_URL`.
struct FleetURLOption: ParsableArguments {
    @Option(name: .customLong("url"), help: "The fleet store, postgres://user:pass@host:port/db (env TANDEM_FLEET_URL).")
    var url: String?

    /// The URL, or a clean failure naming both ways to give it.
    func resolved() throws -> String {
        guard let url = url ?? Environment.value("TANDEM_FLEET_URL") else {
            throw CLIError.report(CLIError("no fleet store: pass --url postgres://… or set TANDEM_FLEET_URL"))
        }
        return url
    }
}

/// A connection pool to the fleet store for the length of one command.
enum FleetSession {
    /// Runs `body` with a store whose pool runs meanwhile; a ``FleetError`` ends the command with
    /// its sentence on standard error (exit 1).
    static func with<T>(_ option: FleetURLOption, _ body: (FleetStore) async throws -> T) async throws -> T {
        let logger = cliLogger()
        let url = try option.resolved()
        do {
            let client = PostgresClient(configuration: try FleetURL.configuration(url), backgroundLogger: logger)
            return try await withThrowingTaskGroup(of: Void.self) { group in
                group.addTask { await client.run() }
                defer { group.cancelAll() }
                return try await body(FleetStore(client: client, logger: logger))
            }
        } catch let error as FleetError {
            throw CLIError.report(error)
        }
    }

    static func cliLogger() -> Logger {
        var logger = Logger(label: "tandem.fleet")
        logger.logLevel = Environment.value("LOG_LEVEL").flatMap(Logger.Level.init(rawValue:)) ?? .warning
        return logger
    }
}
