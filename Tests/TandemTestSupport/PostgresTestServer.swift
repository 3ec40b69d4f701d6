public import Foundation

/// A private PostgreSQL server for one test: `initdb` into a temp dir, `pg_ctl` on a free loopback
/// port with its socket in that dir, run as the `postgres` user when the tests run as root (the
/// server refuses root). Stopped by ``stop()`` (and at deinit).
///
/// Debian's `postgresql` package provides the binaries; `Tools/install-deps.sh` (run by
/// `make test`) installs it. Tests use ``unavailableReason`` to skip, visibly, when there is none.
public final class PostgresTestServer: @unchecked Sendable {
    // `@unchecked Sendable`: every stored property is a `let`; the server process is driven only
    // through `pg_ctl` child processes, which do not share state with this object.
    public let port: Int
    public let directory: String
    private let binaries: String

    /// Why no server can be started here, or `nil` when one can.
    public static let unavailableReason: String? = {
        guard binaryDirectory() != nil else {
            return "PostgreSQL is not installed (no /usr/lib/postgresql/*/bin/initdb); run Tools/install-deps.sh"
        }
        if geteuid() == 0, !FileManager.default.isExecutableFile(atPath: "/usr/sbin/runuser") || getpwnam("postgres") == nil {
            return "running as root without runuser or a postgres user: PostgreSQL refuses to run as root"
        }
        return nil
    }()

    /// Initialises a cluster and starts it.
    public init() throws {
        guard let binaries = Self.binaryDirectory() else { throw Failure("PostgreSQL is not installed") }
        self.binaries = binaries
        let directory = FileManager.default.temporaryDirectory.path + "/tandem-pg-\(UUID().uuidString.prefix(8))"
        self.directory = directory
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        if geteuid() == 0, let user = getpwnam("postgres") {
            chown(directory, user.pointee.pw_uid, user.pointee.pw_gid)
        }
        // One initdb per test process; each server starts from a copy of it (initdb takes seconds).
        let template = try Self.template.get()
        try Self.execute("/bin/cp", ["-a", template, directory + "/data"])
        // PostgreSQL cannot listen on port 0 and report the port it got, so it is offered a port
        // that was free a moment ago; another process may take that port in between, and then
        // the start fails to bind and is retried on another one.
        var attempt = 1
        while true {
            let candidate = try FreePort.next()
            unlink(directory + "/server.log")
            do {
                try Self.start(binaries: binaries, directory: directory, port: candidate)
                port = candidate
                return
            } catch where attempt < 5 && Self.failedToBind(directory: directory) {
                attempt += 1
            }
        }
    }

    deinit {
        stop()
        try? FileManager.default.removeItem(atPath: directory)
    }

    /// The URL of `database` on this server.
    public func url(database: String = "postgres") -> String {
        "postgres://tandem@127.0.0.1:\(port)/\(database)?sslmode=disable"
    }

    /// Creates a fresh database and returns its URL.
    public func makeDatabase(_ name: String = "fleet_\(UUID().uuidString.prefix(8).lowercased())") throws -> String {
        _ = try psql("CREATE DATABASE \(name)")
        return url(database: name)
    }

    /// Restarts the server (on its port: the URLs handed out name it) and waits until it accepts
    /// connections.
    public func start() throws {
        try Self.start(binaries: binaries, directory: directory, port: port)
    }

    private static func start(binaries: String, directory: String, port: Int) throws {
        try tool(binaries, "pg_ctl", [
            "-D", directory + "/data", "-l", directory + "/server.log", "-w", "-t", "30", "start",
            "-o", "-p \(port) -k \(directory) -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=60",
        ])
    }

    /// Whether the server's last start failed because its port was taken.
    private static func failedToBind(directory: String) -> Bool {
        let log = (try? String(contentsOfFile: directory + "/server.log", encoding: .utf8)) ?? ""
        return log.contains("could not bind") || log.contains("Address already in use")
    }

    /// Stops the server; `immediate` is a crash stop (no checkpoint, open transactions lost, crash
    /// recovery at the next start), like `kill -9` of the postmaster.
    public func stop(immediate: Bool = false) {
        _ = try? run("pg_ctl", ["-D", directory + "/data", "-w", "-t", "30", "-m", immediate ? "immediate" : "fast", "stop"])
    }

    /// Runs `sql` with `psql` (unaligned, tuples only) and returns its output.
    @discardableResult
    public func psql(_ sql: String, database: String = "postgres") throws -> String {
        let (status, output) = try ProgramToEnd.run("/usr/bin/psql", [
            "-X", "-q", "-A", "-t", "-v", "ON_ERROR_STOP=1", "-h", "127.0.0.1", "-p", "\(port)", "-U", "tandem", "-d", database, "-c", sql,
        ])
        guard status == 0 else { throw Failure("psql failed: \(output)") }
        return output
    }

    /// `psql` with the database of `url` (as made by ``makeDatabase(_:)``).
    @discardableResult
    public func psql(_ sql: String, url: String) throws -> String {
        let database = url.split(separator: "/").last.map { String($0.split(separator: "?")[0]) } ?? "postgres"
        return try psql(sql, database: database)
    }

    /// A cluster made by `initdb`, copied by every server; kept between test runs (one per
    /// PostgreSQL version) so that only the first run pays for initdb.
    private static let template: Result<String, any Error> = Result {
        guard let binaries = binaryDirectory() else { throw Failure("PostgreSQL is not installed") }
        let version = URL(fileURLWithPath: binaries).deletingLastPathComponent().lastPathComponent
        let directory = FileManager.default.temporaryDirectory.path + "/tandem-pg-template-\(version)"
        if FileManager.default.fileExists(atPath: directory + "/data/PG_VERSION") { return directory + "/data" }
        // Built aside and renamed into place, so an interrupted initdb never leaves a half template.
        let building = directory + ".\(getpid())"
        try? FileManager.default.removeItem(atPath: building)
        try FileManager.default.createDirectory(atPath: building, withIntermediateDirectories: true)
        if geteuid() == 0, let user = getpwnam("postgres") {
            chown(building, user.pointee.pw_uid, user.pointee.pw_gid)
        }
        try tool(binaries, "initdb", ["-D", building + "/data", "-U", "tandem", "--auth=trust", "-E", "UTF8", "--no-sync", "--locale=C"])
        try? FileManager.default.removeItem(atPath: directory)
        try FileManager.default.moveItem(atPath: building, toPath: directory)
        return directory + "/data"
    }

    private func run(_ name: String, _ arguments: [String]) throws {
        try Self.tool(binaries, name, arguments)
    }

    /// Runs a PostgreSQL tool, as the `postgres` user when this process is root.
    private static func tool(_ binaries: String, _ name: String, _ arguments: [String]) throws {
        if geteuid() == 0 {
            try execute("/usr/sbin/runuser", ["-u", "postgres", "--", binaries + "/" + name] + arguments)
        } else {
            try execute(binaries + "/" + name, arguments)
        }
    }

    private static func execute(_ executable: String, _ arguments: [String]) throws {
        let (status, output) = try ProgramToEnd.run(executable, arguments)
        guard status == 0 else {
            throw Failure("\(URL(fileURLWithPath: executable).lastPathComponent) failed (\(status)): \(output)")
        }
    }

    /// The newest `/usr/lib/postgresql/<version>/bin` that has `initdb`.
    private static func binaryDirectory() -> String? {
        let base = "/usr/lib/postgresql"
        let versions = (try? FileManager.default.contentsOfDirectory(atPath: base)) ?? []
        return versions.sorted { (Int($0) ?? 0) > (Int($1) ?? 0) }
            .map { "\(base)/\($0)/bin" }
            .first { FileManager.default.isExecutableFile(atPath: $0 + "/initdb") }
    }

    /// A failure to set up the server, with what the tool said.
    public struct Failure: Error, CustomStringConvertible {
        public let description: String
        public init(_ description: String) { self.description = description }
    }
}

/// Loopback ports for test servers that cannot bind port 0 and report what they got (PostgreSQL);
/// every other server binds port 0 itself.
public enum FreePort {
    /// A port that was free a moment ago (bound to port 0, then released): someone else may take
    /// it before the server binds it, so a failed bind must be retried with another one.
    public static func next() throws -> Int {
        let socket = Glibc.socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard socket >= 0 else { throw PostgresTestServer.Failure("socket() failed") }
        defer { close(socket) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        address.sin_port = 0
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let bound = withUnsafePointer(to: &address) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(socket, $0, length) } }
        guard bound == 0 else { throw PostgresTestServer.Failure("bind() failed") }
        _ = withUnsafeMutablePointer(to: &address) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(socket, $0, &length) } }
        return Int(UInt16(bigEndian: address.sin_port))
    }
}
