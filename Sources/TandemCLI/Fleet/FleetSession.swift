import ArgumentParser
import Logging
import TandemFleet

/// Where the fleet store is: `--url`, else `TANDEM_FLEET_URL`; the password may also come from
/// `PGPASSWORD` or `TANDEM_FLEET_PASSWORD_FILE` (better than `--url`, which other users can read
/// in the process list).
struct FleetURLOption: ParsableArguments {
    @Option(name: .customLong("url"), help: "The fleet store, postgres://user@host:port/db (env TANDEM_FLEET_URL; password from PGPASSWORD or TANDEM_FLEET_PASSWORD_FILE).")
    var url: String?

    /// The store's address, or a clean failure naming both ways to give it (never the password).
    func endpoint() throws -> FleetEndpoint {
        guard let url = url ?? Environment.value("TANDEM_FLEET_URL") else {
            throw CLIError.report(CLIError("no fleet store: pass --url postgres://… or set TANDEM_FLEET_URL"))
        }
        do {
            return try FleetEndpoint(url)
        } catch {
            throw CLIError.report(error)
        }
    }
}

/// A connection pool to the fleet store for the length of one command.
enum FleetSession {
    /// Runs `body` with a store whose pool runs meanwhile; a ``FleetError`` ends the command with
    /// its sentence on standard error (exit 1). Every store call has its own deadline.
    static func with<T>(_ option: FleetURLOption, _ body: (FleetStore) async throws -> T) async throws -> T {
        let endpoint = try option.endpoint()
        do {
            return try await FleetStore.with(endpoint, logger: cliLogger(), body)
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
