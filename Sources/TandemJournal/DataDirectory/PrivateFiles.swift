import Foundation

/// The data dir holds the audit trail, so nothing in it is for other local users (SPEC §11
/// "Files"): directories 0700, files 0600, whatever the process's umask.
public enum PrivateFiles {
    /// The mode of every directory in a data dir.
    static let directoryMode: mode_t = 0o700
    /// The mode of every file in a data dir.
    static let fileMode: mode_t = 0o600

    /// Creates `directory` and any missing parent, each new one with mode 0700 (existing ones
    /// are left as they are: a parent outside the data dir is not ours to change).
    /// - Throws: ``JournalError`` `.io` when a directory cannot be created.
    public static func createDirectory(_ directory: String) throws {
        var path = ""
        for component in directory.split(separator: "/", omittingEmptySubsequences: true) {
            path += (path.isEmpty && !directory.hasPrefix("/") ? "" : "/") + component
            if mkdir(path, directoryMode) != 0, errno != EEXIST {
                throw JournalError(.io, "cannot create the directory \(path): \(String(cString: strerror(errno)))")
            }
        }
    }

    /// Writes `bytes` to `path` atomically (a private temporary file, synced, renamed into place),
    /// with mode 0600.
    /// - Throws: ``JournalError`` `.io` when the file cannot be written.
    public static func writeFile(_ bytes: [UInt8], to path: String) throws {
        let temporary = path + ".tmp-\(getpid())-\(UInt32.random(in: .min ... .max))"
        let descriptor = open(temporary, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, fileMode)
        guard descriptor >= 0 else { throw failure("cannot create", temporary) }
        let written = bytes.withUnsafeBytes { write(descriptor, $0.baseAddress, $0.count) }
        let synced = fsync(descriptor) == 0
        close(descriptor)
        guard written == bytes.count, synced, rename(temporary, path) == 0 else {
            let error = failure("cannot write", path)
            unlink(temporary)
            throw error
        }
    }

    /// Removes group and other permissions from `directory` and everything in it (symbolic links
    /// are not followed), for a data dir made by an older tandem or by hand.
    /// - Returns: the paths whose modes were changed, for the start-up notice.
    /// - Throws: ``JournalError`` `.io` when a mode cannot be changed.
    public static func tighten(_ directory: String) throws -> [String] {
        var changed: [String] = []
        var pending = [directory]
        while let path = pending.popLast() {
            var info = stat()
            guard lstat(path, &info) == 0 else { continue }
            let kind = info.st_mode & mode_t(S_IFMT)
            let isDirectory = kind == mode_t(S_IFDIR)
            guard isDirectory || kind == mode_t(S_IFREG) else { continue }
            if info.st_mode & 0o077 != 0 {
                guard chmod(path, info.st_mode & 0o700) == 0 else { throw failure("cannot restrict the mode of", path) }
                changed.append(path)
            }
            if isDirectory {
                for entry in (try? FileManager.default.contentsOfDirectory(atPath: path)) ?? [] {
                    pending.append(path + "/" + entry)
                }
            }
        }
        return changed
    }

    private static func failure(_ what: String, _ path: String) -> JournalError {
        JournalError(.io, "\(what) \(path): \(String(cString: strerror(errno)))")
    }
}
