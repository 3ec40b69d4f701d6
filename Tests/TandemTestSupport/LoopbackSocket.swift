import Foundation

/// A TCP socket bound to a free port on 127.0.0.1, for a peer that misbehaves in a known way:
/// listening but never answering (the kernel completes connections: a server that hangs), or
/// bound without listening (every connection is refused, and no other process can take the port
/// while this holds it).
public final class LoopbackSocket: Sendable {
    /// What connecting to the port does.
    public enum Behaviour: Sendable {
        /// Connections complete, then nothing is ever read or written.
        case blackHole
        /// Connections are refused.
        case refusing
    }

    public let port: Int
    private let descriptor: Int32

    public init(_ behaviour: Behaviour) throws {
        let descriptor = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard descriptor >= 0 else { throw POSIXError(.EMFILE) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        address.sin_port = 0
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let bound = withUnsafeMutablePointer(to: &address) { pointer in
            pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { address in
                bind(descriptor, address, length) == 0 && (behaviour == .refusing || listen(descriptor, 64) == 0)
                    && getsockname(descriptor, address, &length) == 0
            }
        }
        guard bound else {
            close(descriptor)
            throw POSIXError(.EADDRNOTAVAIL)
        }
        self.descriptor = descriptor
        port = Int(UInt16(bigEndian: address.sin_port))
    }

    deinit {
        close(descriptor)
    }
}
