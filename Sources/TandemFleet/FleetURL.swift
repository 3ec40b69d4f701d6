import Foundation
import PostgresNIO
import NIOSSL

/// Where the fleet store is and how to log in, from `TANDEM_FLEET_URL`
/// (`postgres://user[:pass]@host[:port]/db[?sslmode=…&sslrootcert=…&password=…]`).
///
/// The password may come from the URL (userinfo or `?password=`), `TANDEM_FLEET_PASSWORD_FILE` or
/// `PGPASSWORD`, in that order; it is never printed: ``displayForm`` and every error leave it out.
/// `sslmode` follows libpq: `disable`; `allow`/`prefer` (the default) try TLS without verifying;
/// `require` encrypts without verifying (unless `sslrootcert` is given: then as `verify-ca`);
/// `verify-ca` checks the chain against `sslrootcert` (else the system roots) but not the host
/// name; `verify-full` checks both.
public struct FleetEndpoint: Sendable {
    public let host: String
    public let port: Int
    public let user: String
    public let database: String?
    public let sslMode: String
    let password: String?
    let tls: TLSConfiguration?
    let tlsRequired: Bool

    /// The address without its password, for logs and status lines.
    public var displayForm: String {
        "postgres://\(user)@\(host):\(port)/\(database ?? "")?sslmode=\(sslMode)"
    }

    /// The pool's configuration: at most 4 connections, 5 s to connect, and server-side limits on
    /// every connection: a `statement_timeout`, so a statement PostgreSQL cannot finish stops there
    /// too, and an `idle_in_transaction_session_timeout`, so a session whose client stopped
    /// mid-transaction (a process frozen, or an operation left behind whose connection could not be
    /// closed) does not keep its row locks.
    var clientConfiguration: PostgresClient.Configuration {
        let mode: PostgresClient.Configuration.TLS
        switch (tls, tlsRequired) {
        case (nil, _): mode = .disable
        case (let tls?, true): mode = .require(tls)
        case (let tls?, false): mode = .prefer(tls)
        }
        var configuration = PostgresClient.Configuration(host: host, port: port, username: user, password: password, database: database, tls: mode)
        configuration.options.connectTimeout = .seconds(5)
        configuration.options.maximumConnections = 4
        configuration.options.additionalStartupParameters = [
            ("statement_timeout", "\(Self.statementTimeoutMs)"),
            ("idle_in_transaction_session_timeout", "\(Self.statementTimeoutMs)"),
        ]
        return configuration
    }

    /// A single connection's configuration (diagnosing why the pool has no connection).
    /// - Throws: when the TLS settings cannot be used (an unreadable `sslrootcert`).
    func connectionConfiguration() throws -> PostgresConnection.Configuration {
        let mode: PostgresConnection.Configuration.TLS
        switch (tls, tlsRequired) {
        case (nil, _): mode = .disable
        case (let tls?, true): mode = .require(try NIOSSLContext(configuration: tls))
        case (let tls?, false): mode = .prefer(try NIOSSLContext(configuration: tls))
        }
        var configuration = PostgresConnection.Configuration(host: host, port: port, username: user, password: password, database: database, tls: mode)
        configuration.options.connectTimeout = .seconds(5)
        return configuration
    }

    /// The server-side limit of any one statement, and of a transaction's idle wait for its client
    /// (milliseconds): longer than any attempt limit of a default batch, so it only stops what the
    /// client has given up on already.
    static let statementTimeoutMs = 120_000

    /// Reads `url`, taking a missing password from the process's environment.
    /// - Throws: ``FleetError/invalidURL(_:)`` naming what is missing or wrong, never the password.
    public init(_ url: String) throws(FleetError) {
        try self.init(url, environment: ProcessInfo.processInfo.environment)
    }

    /// Reads `url`, taking a missing password from `environment`.
    /// - Throws: ``FleetError/invalidURL(_:)`` naming what is missing or wrong, never the password.
    public init(_ url: String, environment: [String: String]) throws(FleetError) {
        guard let components = URLComponents(string: url), let scheme = components.scheme else {
            throw .invalidURL("expected postgres://user@host:port/database")
        }
        guard scheme == "postgres" || scheme == "postgresql" else {
            throw .invalidURL("the scheme must be postgres:// (got \(scheme)://)")
        }
        guard let host = components.host, !host.isEmpty else { throw .invalidURL("the host is missing") }
        guard let user = components.user, !user.isEmpty else { throw .invalidURL("the user name is missing") }
        let items = components.queryItems ?? []
        func item(_ name: String) -> String? { items.last(where: { $0.name == name })?.value }
        let known: Set = ["sslmode", "sslrootcert", "password"]
        if let unknown = items.first(where: { !known.contains($0.name) }) {
            throw .invalidURL("the parameter \(unknown.name.debugDescription) is not supported (sslmode, sslrootcert and password are)")
        }
        self.host = host
        self.port = components.port ?? 5432
        self.user = user
        let path = components.path.hasPrefix("/") ? String(components.path.dropFirst()) : components.path
        self.database = path.isEmpty ? nil : path
        if let given = components.password ?? item("password") {
            password = given
        } else {
            password = try Self.passwordFromFile(environment) ?? environment["PGPASSWORD"]
        }
        self.sslMode = item("sslmode") ?? "prefer"
        let rootCertificate = item("sslrootcert")
        var tls = TLSConfiguration.makeClientConfiguration()
        if let rootCertificate { tls.trustRoots = .file(rootCertificate) }
        switch sslMode {
        case "disable":
            self.tls = nil
            tlsRequired = false
        case "allow", "prefer":
            tls.certificateVerification = .none
            self.tls = tls
            tlsRequired = false
        case "require":
            tls.certificateVerification = rootCertificate == nil ? .none : .noHostnameVerification
            self.tls = tls
            tlsRequired = true
        case "verify-ca":
            tls.certificateVerification = .noHostnameVerification
            self.tls = tls
            tlsRequired = true
        case "verify-full":
            tls.certificateVerification = .fullVerification
            self.tls = tls
            tlsRequired = true
        case let other:
            throw .invalidURL("sslmode must be disable, allow, prefer, require, verify-ca or verify-full (got \(other.debugDescription))")
        }
        if let rootCertificate, !FileManager.default.isReadableFile(atPath: rootCertificate) {
            throw .invalidURL("sslrootcert \(rootCertificate) cannot be read")
        }
    }

    /// The password in `TANDEM_FLEET_PASSWORD_FILE`, its trailing newline dropped.
    private static func passwordFromFile(_ environment: [String: String]) throws(FleetError) -> String? {
        guard let path = environment["TANDEM_FLEET_PASSWORD_FILE"], !path.isEmpty else { return nil }
        guard let data = FileManager.default.contents(atPath: path) else {
            throw .invalidURL("TANDEM_FLEET_PASSWORD_FILE (\(path)) cannot be read")
        }
        var text = String(decoding: data, as: UTF8.self)
        while text.hasSuffix("\n") || text.hasSuffix("\r") { text.removeLast() }
        return text
    }
}
