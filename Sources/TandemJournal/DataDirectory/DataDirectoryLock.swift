import Foundation

/// An exclusive claim on a data directory: at most one `tandem serve` (or other owner of the run
/// index and crash recovery) per directory.
///
/// Held with `flock(2)` on `<directory>/serve.lock`, which the kernel releases when the process
/// ends, however it ends (no stale lock after `kill -9`). The file holds the owner's pid so that a
/// refused second owner can name it. Readers and `tandem journal append` never take it.
public final class DataDirectoryLock: Sendable {
    /// The lock file's path.
    public let path: String
    private let descriptor: Int32

    /// What a lock is for: its file in the data directory, and who holds it, for the refusal.
    public struct Purpose: Sendable {
        let file: String
        let holder: String

        /// One `tandem serve` per data directory.
        public static let serve = Purpose(file: "serve.lock", holder: "a running `tandem serve`")
        /// One projections rebuild at a time (the CLI's or a start-up's).
        public static let projectionsRebuild = Purpose(file: "rebuild.lock", holder: "a projections rebuild")
    }

    /// Takes the lock for `purpose` on `directory` (creating the directory), or throws at once
    /// if another process holds it.
    /// - Throws: ``JournalError`` `.locked` naming the holder's pid, or `.io`.
    public init(directory: String, for purpose: Purpose = .serve) throws {
        try PrivateFiles.createDirectory(directory)
        let path = directory + "/" + purpose.file
        let descriptor = open(path, O_RDWR | O_CREAT | O_CLOEXEC, PrivateFiles.fileMode)
        guard descriptor >= 0 else {
            throw JournalError(.io, "cannot open the data directory lock \(path): \(String(cString: strerror(errno)))")
        }
        guard flock(descriptor, LOCK_EX | LOCK_NB) == 0 else {
            let reason = errno
            let holder = Self.readPID(descriptor)
            close(descriptor)
            guard reason == EWOULDBLOCK else {
                throw JournalError(.io, "cannot lock the data directory \(directory): \(String(cString: strerror(reason)))")
            }
            let who = holder.map { "process \($0)" } ?? "another process"
            throw JournalError(
                .locked,
                "the data directory \(directory) is in use by \(who) (\(purpose.holder)); wait for it or stop it, or use another --data-dir"
            )
        }
        let pid = Array("\(getpid())\n".utf8)
        let written = ftruncate(descriptor, 0) == 0 && pid.withUnsafeBytes { pwrite(descriptor, $0.baseAddress, $0.count, 0) } == pid.count
        guard written else {
            let reason = String(cString: strerror(errno))
            close(descriptor)
            throw JournalError(.io, "cannot write the owner's pid into \(path): \(reason)")
        }
        self.path = path
        self.descriptor = descriptor
    }

    deinit {
        close(descriptor)
    }

    /// The pid recorded in the lock file by its holder, if readable.
    private static func readPID(_ descriptor: Int32) -> Int32? {
        var buffer = [UInt8](repeating: 0, count: 32)
        let count = buffer.withUnsafeMutableBytes { pread(descriptor, $0.baseAddress, $0.count, 0) }
        guard count > 0 else { return nil }
        return Int32(String(decoding: buffer.prefix(count), as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines))
    }
}
