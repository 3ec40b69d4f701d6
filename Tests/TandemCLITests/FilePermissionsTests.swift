import Foundation
import Logging
import TandemJournal
import TandemHTTPTestSupport
import TandemTestSupport
import Testing

/// SPEC §11 "Files": everything in a data dir is private to its owner.
@Suite("Data dir permissions", .serialized, .timeLimit(.minutes(2)))
struct FilePermissionsTests {
    /// Every directory and file under `root` (itself included) with its permission bits.
    private func modes(under root: String) -> [(path: String, mode: mode_t, isDirectory: Bool)] {
        var found: [(String, mode_t, Bool)] = []
        var pending = [root]
        while let path = pending.popLast() {
            var info = stat()
            guard lstat(path, &info) == 0 else { continue }
            let isDirectory = info.st_mode & mode_t(S_IFMT) == mode_t(S_IFDIR)
            found.append((path, info.st_mode & 0o777, isDirectory))
            if isDirectory {
                for entry in (try? FileManager.default.contentsOfDirectory(atPath: path)) ?? [] { pending.append(path + "/" + entry) }
            }
        }
        return found
    }

    @Test("serve on a loose data dir: tightened at start with a notice; every directory 0700 and every file 0600 after a run (LMDB's files too)")
    func serveMakesEverythingPrivate() async throws {
        let directory = try TemporaryDirectory()
        chmod(directory.path, 0o755)
        try Data("left by hand\n".utf8).write(to: URL(fileURLWithPath: directory.path + "/notes.txt"))
        chmod(directory.path + "/notes.txt", 0o644)
        let (serve, port) = try await ServeProcessTests.startServe(directory)
        let stream = try await SSEConnection.open("http://127.0.0.1:\(port)", "/api/reasoning/query", body: #"{"query":"private?"}"#)
        #expect(try await stream.rest().last?.event == "done")
        serve.send(SIGTERM)
        let (status, log) = await serve.exited()
        #expect(status == .exited(0), "\(log)")
        #expect(log.contains("data dir permissions tightened"), "a notice names the tightening")

        let found = modes(under: directory.path)
        let names = Set(found.map { ($0.path as NSString).lastPathComponent })
        for expected in ["journal", "data.mdb", "lock.mdb", "projections", "serve.lock", "request-digest.key", "notes.txt"] {
            #expect(names.contains(expected), "\(expected) exists")
        }
        for entry in found {
            #expect(entry.mode == (entry.isDirectory ? 0o700 : 0o600), "\(entry.path) is \(String(entry.mode, radix: 8))")
        }
    }

    @Test("Files the modules create are private with the usual umask (022) (LMDB environments, the lock, the published projection pointer)")
    func createdPrivateUnderAnyUmask() throws {
        let directory = try TemporaryDirectory()
        let data = directory.path + "/fresh/data"
        let lock = try DataDirectoryLock(directory: data)
        let journal = try Journal(JournalConfiguration(directory: data), logger: .init(label: "test"))
        journal.close()
        try PrivateFiles.writeFile(Array("x\n".utf8), to: data + "/written")
        withExtendedLifetime(lock) {}
        for entry in modes(under: data) {
            #expect(entry.mode == (entry.isDirectory ? 0o700 : 0o600), "\(entry.path) is \(String(entry.mode, radix: 8))")
        }
    }
}
