import Foundation
public import PostgresNIO
import NIOSSL

/// Turns `TANDEM_FLEET_URL` (`postgres://user:pass@host:port/db?sslmode=disable|prefer|require`)
/// into a client configuration.
public enum FleetURL {
    /// The configuration for `url`; TLS follows `sslmode` (default `prefer`, like libpq).
    /// - Throws: ``FleetError/invalidURL(_:)`` naming what is missing or wrong.
    public static func configuration(_ url: String) throws(FleetError) -> PostgresClient.Configuration {
        guard let components = URLComponents(string: url), let scheme = components.scheme else {
            throw .invalidURL("expected postgres://user:password@host:port/database")
        }
        guard scheme == "postgres" || scheme == "postgresql" else {
            throw .invalidURL("the scheme must be postgres:// (got \(scheme)://)")
        }
        guard let host = components.host, !host.isEmpty else { throw .invalidURL("the host is missing") }
        guard let user = components.user, !user.isEmpty else { throw .invalidURL("the user name is missing") }
        let database = components.path.hasPrefix("/") ? String(components.path.dropFirst()) : components.path
        let tls: PostgresClient.Configuration.TLS
        switch components.queryItems?.first(where: { $0.name == "sslmode" })?.value ?? "prefer" {
        case "disable": tls = .disable
        case "prefer", "allow": tls = .prefer(.makeClientConfiguration())
        case "require", "verify-ca", "verify-full": tls = .require(.makeClientConfiguration())
        case let other: throw .invalidURL("sslmode must be disable, prefer or require (got \(other))")
        }
        var configuration = PostgresClient.Configuration(
            host: host, port: components.port ?? 5432, username: user,
            password: components.password, database: database.isEmpty ? nil : database, tls: tls
        )
        configuration.options.connectTimeout = .seconds(5)
        configuration.options.maximumConnections = 4
        return configuration
    }

    /// `url` with its password replaced by `***`, for logs.
    public static func redacted(_ url: String) -> String {
        guard var components = URLComponents(string: url), components.password != nil else { return url }
        components.password = "***"
        return components.string ?? "postgres://***"
    }
}
