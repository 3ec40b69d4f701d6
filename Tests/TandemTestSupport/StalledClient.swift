import Foundation

/// A loopback TCP client that sends bytes and then never reads: a client that stopped reading
/// its responses. Its receive buffer is made small so the server's writes block soon.
public final class StalledClient: Sendable {
    private let descriptor: Int32

    /// Connects to `127.0.0.1:port` with a receive buffer of about `receiveBuffer` bytes.
    public init(port: Int, receiveBuffer: Int32 = 4_096) throws {
        let descriptor = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard descriptor >= 0 else { throw POSIXError(.EIO) }
        var size = receiveBuffer
        setsockopt(descriptor, SOL_SOCKET, SO_RCVBUF, &size, socklen_t(MemoryLayout<Int32>.size))
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        address.sin_port = UInt16(port).bigEndian
        let connected = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(descriptor, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard connected == 0 else {
            close(descriptor)
            throw POSIXError(.ECONNREFUSED)
        }
        self.descriptor = descriptor
    }

    deinit {
        close(descriptor)
    }

    /// Sends `text` whole.
    public func send(_ text: String) throws {
        var bytes = Array(text.utf8)[...]
        while !bytes.isEmpty {
            let sent = bytes.withUnsafeBytes { Glibc.send(descriptor, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
            guard sent > 0 else { throw POSIXError(.EPIPE) }
            bytes = bytes.dropFirst(sent)
        }
    }

    /// Reads what has arrived (without waiting) — the first bytes the server sent.
    public func receiveAvailable(max: Int = 65_536) -> String {
        var buffer = [UInt8](repeating: 0, count: max)
        let count = buffer.withUnsafeMutableBytes { recv(descriptor, $0.baseAddress, $0.count, Int32(MSG_DONTWAIT)) }
        return count > 0 ? String(decoding: buffer.prefix(count), as: UTF8.self) : ""
    }

    /// Reads until `marker` arrives or the server closes the connection; returns what arrived.
    ///
    /// The blocking reads run on a thread of their own, never on the cooperative pool: a test's
    /// server needs the pool to answer, and two tests blocked in `recv` there would starve it (on
    /// 2 cores the pool has two threads). The thread holds the client until it returns, so the
    /// socket is not closed under it.
    public func receive(until marker: String) async -> String {
        let received = Completion<String>()
        Thread.detachNewThread { [self] in
            received.complete(self.blockingReceive(until: marker))
        }
        return await received.value()
    }

    private func blockingReceive(until marker: String) -> String {
        var received: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 4_096)
        let needle = Array(marker.utf8)
        var searchFrom = 0
        while true {
            if received[searchFrom...].firstRange(of: needle) != nil { break }
            searchFrom = max(0, received.count - needle.count + 1)
            let count = buffer.withUnsafeMutableBytes { recv(descriptor, $0.baseAddress, $0.count, 0) }
            if count < 0, errno == EINTR { continue }
            guard count > 0 else { break }
            received += buffer.prefix(count)
        }
        return String(decoding: received, as: UTF8.self)
    }

    /// Whether the server has closed the connection: reads (and discards) what is buffered and
    /// looks for the end of the stream or a reset, without blocking.
    public func serverClosed() -> Bool {
        var buffer = [UInt8](repeating: 0, count: 65_536)
        while true {
            let count = buffer.withUnsafeMutableBytes { recv(descriptor, $0.baseAddress, $0.count, Int32(MSG_DONTWAIT)) }
            if count == 0 { return true }
            if count < 0 { return errno != EAGAIN && errno != EWOULDBLOCK }
        }
    }
}

/// A small `tmpfs` mounted for one test, to fill a file system for real (root only).
public final class SmallFileSystem: Sendable {
    /// Where it is mounted.
    public let path: String

    /// Whether this process may mount a `tmpfs` (tried once): tests that need it are disabled,
    /// and reported as skipped, where it cannot.
    public static let canMount: Bool = {
        if case .success = mount(megabytes: 1) { return true }
        return false
    }()

    /// Mounts a `tmpfs` of `megabytes`; `nil` (and the reason) when this process cannot mount.
    public static func mount(megabytes: Int) -> Result<SmallFileSystem, SkipReason> {
        guard getuid() == 0 else { return .failure(SkipReason("not running as root: cannot mount a tmpfs")) }
        let path = FileManager.default.temporaryDirectory.path + "/tandem-tmpfs-\(UUID().uuidString.prefix(8))"
        do {
            try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        } catch {
            return .failure(SkipReason("cannot create \(path): \(error)"))
        }
        let status = Self.run("/bin/mount", ["-t", "tmpfs", "-o", "size=\(megabytes)m", "tmpfs", path])
        guard status == 0 else {
            try? FileManager.default.removeItem(atPath: path)
            return .failure(SkipReason("mount -t tmpfs failed (exit \(status)): this sandbox does not allow mounts"))
        }
        return .success(SmallFileSystem(path: path))
    }

    private init(path: String) {
        self.path = path
    }

    deinit {
        _ = Self.run("/bin/umount", ["-l", path])
        try? FileManager.default.removeItem(atPath: path)
    }

    /// Writes a filler file until the file system is full; returns its path (remove it to free space).
    public func fill() -> String {
        let filler = path + "/filler-\(UUID().uuidString.prefix(6))"
        let descriptor = open(filler, O_WRONLY | O_CREAT, 0o644)
        defer { close(descriptor) }
        let chunk = [UInt8](repeating: 0x55, count: 4_096)
        while chunk.withUnsafeBytes({ write(descriptor, $0.baseAddress, $0.count) }) > 0 {}
        // Down to the last bytes: smaller writes take what a 4 KiB one could not.
        while chunk.withUnsafeBytes({ write(descriptor, $0.baseAddress, 1) }) > 0 {}
        return filler
    }

    private static func run(_ executable: String, _ arguments: [String]) -> Int32 {
        (try? ProgramToEnd.run(executable, arguments).status) ?? -1
    }
}

/// Why a test that needs a privilege or a facility cannot run here; printed when it skips.
public struct SkipReason: Error, Sendable, CustomStringConvertible {
    public let description: String

    public init(_ description: String) {
        self.description = description
    }
}
