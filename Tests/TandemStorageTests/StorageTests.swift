import Foundation
import Logging
import Synchronization
import TandemDomain
import TandemJournal
import TandemProjections
import TandemStorage
import TandemTestSupport
import Testing

/// The names of a store with one database.
private protocol SingleDatabaseNames {
    static var store: String { get }
    static var format: String { get }
    static var database: String { get }
}

/// A store with one database, named by `Names`.
private struct SingleDatabase<Names: SingleDatabaseNames>: StorageSchema {
    static var store: String { Names.store }
    static var format: String { Names.format }
    let items: Database

    init(resolving database: (String) throws(StorageError) -> Database) throws(StorageError) {
        items = try database(Names.database)
    }
}

private enum TestStore: SingleDatabaseNames {
    static let store = "test store", format = "tandem-test/1", database = "items"
}

/// The same store, one format version later.
private enum NextFormat: SingleDatabaseNames {
    static let store = "test store", format = "tandem-test/2", database = "items"
}

/// The journal's files as a store, for the stale-reader test.
private enum JournalFiles: SingleDatabaseNames {
    static let store = "journal", format = "tandem-journal/1", database = "entries"
}

/// The test store declaring a second database.
private struct TwoDatabases: StorageSchema {
    static let store = TestStore.store
    static let format = TestStore.format
    let items: Database
    let extra: Database

    init(resolving database: (String) throws(StorageError) -> Database) throws(StorageError) {
        items = try database("items")
        extra = try database("extra")
    }
}

private func open<Schema: StorageSchema>(
    _: Schema.Type, _ directory: TemporaryDirectory, readOnly: Bool = false, mapSize: Int = 1 << 20,
    growth: MapGrowth = MapGrowth(limit: 1 << 20, limitSetting: nil), onGrowth: @escaping @Sendable (Int) -> Void = { _ in }
) throws -> Storage<Schema> {
    try Storage(
        directory: directory.path, mapSize: mapSize, maxReaders: 16, growth: growth,
        noSync: true, readOnly: readOnly, onGrowth: onGrowth
    )
}

private func storageError(_ error: any Error) -> StorageError? {
    error as? StorageError
}

@Suite("Storage")
struct StorageTests {
    @Test("A database the schema declares but the files lack fails a read-only open, naming the store and the database")
    func missingDatabaseAtReadOnlyOpen() throws {
        let directory = try TemporaryDirectory()
        do {
            let storage = try open(SingleDatabase<TestStore>.self, directory)
            try storage.write { txn in try txn.put(Array("k".utf8), Array("v".utf8), in: storage.databases.items) }
        }
        #expect {
            _ = try open(TwoDatabases.self, directory, readOnly: true)
        } throws: { error in
            guard let error = storageError(error) else { return false }
            return error.code == .formatMismatch && error.store == "test store"
                && error.message == "the test store has no 'extra' database; it was not written by tandem"
        }
        // A read-write open creates it: a handle of its own, not LMDB's main database.
        let storage = try open(TwoDatabases.self, directory)
        try storage.write { txn in try txn.put(Array("other".utf8), Array("x".utf8), in: storage.databases.extra) }
        let (item, itemInExtra, extraInItems) = try storage.read { txn in
            (
                try txn.get(Array("k".utf8), in: storage.databases.items),
                try txn.get(Array("k".utf8), in: storage.databases.extra),
                try txn.get(Array("other".utf8), in: storage.databases.items)
            )
        }
        #expect(item == Array("v".utf8))
        #expect(itemInExtra == nil)
        #expect(extraInItems == nil)
    }

    @Test("Opening files of another format, or none, is refused with a message naming the store")
    func formatAndMissingFilesAreRefused() throws {
        let directory = try TemporaryDirectory()
        #expect {
            _ = try open(SingleDatabase<TestStore>.self, directory, readOnly: true)
        } throws: { error in
            storageError(error)?.message == "no test store at \(directory.path) (data.mdb missing)"
        }
        _ = try open(SingleDatabase<TestStore>.self, directory)
        #expect {
            _ = try open(SingleDatabase<NextFormat>.self, directory)
        } throws: { error in
            guard let error = storageError(error) else { return false }
            return error.code == .formatMismatch
                && error.message == "the test store at \(directory.path) is format 'tandem-test/1', this tandem reads 'tandem-test/2'; use a matching tandem release"
        }
    }

    @Test("A write that throws is aborted: nothing it wrote is visible")
    func throwingWriteAborts() throws {
        struct Refused: Error {}
        let directory = try TemporaryDirectory()
        let storage = try open(SingleDatabase<TestStore>.self, directory)
        #expect(throws: Refused.self) {
            try storage.write { txn in
                try txn.put(Array("kept?".utf8), Array("no".utf8), in: storage.databases.items)
                throw Refused()
            }
        }
        try storage.write { txn in try txn.put(Array("committed".utf8), Array("yes".utf8), in: storage.databases.items) }
        let (aborted, committed) = try storage.read { txn in
            (try txn.get(Array("kept?".utf8), in: storage.databases.items), try txn.get(Array("committed".utf8), in: storage.databases.items))
        }
        #expect(aborted == nil)
        #expect(committed == Array("yes".utf8))
    }

    @Test("A full map doubles up to the store's limit; past it the write fails as mapFull, naming the store and the setting")
    func mapGrowsToItsLimit() throws {
        let directory = try TemporaryDirectory()
        let grown = Mutex<[Int]>([])
        let storage = try open(
            SingleDatabase<TestStore>.self, directory, mapSize: 128 * 1024,
            growth: MapGrowth(limit: 320 * 1024, limitSetting: "TEST_MAX_MAP_BYTES")
        ) { bytes in grown.withLock { $0.append(bytes) } }
        let value = [UInt8](repeating: 7, count: 1_500)
        var written = 0
        var failure: StorageError?
        while failure == nil, written < 1_000 {
            do {
                try storage.write { txn in try txn.put(SeqKey.encode(UInt64(written)), value, in: storage.databases.items) }
                written += 1
            } catch {
                failure = storageError(error)
            }
        }
        let error = try #require(failure)
        #expect(error.code == .mapFull)
        #expect(error.store == "test store")
        #expect(error.message.hasPrefix("test store map is full ("))
        #expect(error.message.hasSuffix("); raise TEST_MAX_MAP_BYTES or free disk space"))
        #expect(grown.withLock { $0 } == [256 * 1024, 320 * 1024])
        #expect(storage.mapSize == 320 * 1024)
        // Everything committed before the map filled is still there, in one piece.
        let stored = try storage.read { txn in
            var count = 0
            try txn.walk(storage.databases.items, from: nil) { _, bytes in
                if bytes.elementsEqual(value) { count += 1 }
                return true
            }
            return count
        }
        #expect(written > 0)
        #expect(stored == written)
    }

    @Test("Reader slots of a process that died inside a read transaction are freed", .timeLimit(.minutes(1)))
    func staleReadersAreCleared() async throws {
        let directory = try TemporaryDirectory()
        do {
            let journal = try Journal(JournalConfiguration(directory: directory.path), logger: Logger(label: "test"))
            let reason = String(repeating: "r", count: 200)
            _ = try await journal.append((0..<3_000).map { _ in
                try DomainEvent.runAborted(RunAborted(reason: reason)).pendingEntry(for: RunID("stale")!)
            })
            journal.close()
        }
        // Opened (which frees the slots of processes already dead) before the reader dies.
        let storage = try Storage<SingleDatabase<JournalFiles>>(
            directory: directory.path + "/journal", mapSize: 1 << 30, maxReaders: 1_024,
            growth: MapGrowth(limit: 1 << 30, limitSetting: nil), noSync: true, readOnly: false
        )
        #expect(try storage.clearStaleReaders() == 0)

        // `tandem journal replay | head` whose reader has gone.
        let status = try await TandemExecutable.replayWithClosedOutput(dataDirectory: directory.path)
        try #require(status == SIGPIPE, "the replay did not die of SIGPIPE")

        #expect(try storage.clearStaleReaders() == 1)
        #expect(try storage.clearStaleReaders() == 0)
    }

    @Test("The journal and the projection store report storage failures in their own errors, naming the store")
    func wrappedErrorsNameTheStore() throws {
        let directory = try TemporaryDirectory()
        #expect {
            _ = try Journal(JournalConfiguration(directory: directory.path, readOnly: true), logger: Logger(label: "test"))
        } throws: { error in
            guard let error = error as? JournalError else { return false }
            return error.code == .environment && error.cause?.store == "journal"
                && error.message == "no journal at \(directory.path)/journal (data.mdb missing)"
        }
        #expect {
            _ = try ProjectionStore(directory: directory.path + "/projections/none", name: "none", readOnly: true)
        } throws: { error in
            guard let error = error as? ProjectionError else { return false }
            return error.code == .storage && error.cause?.store == "projection store"
                && error.message == "no projection store at \(directory.path)/projections/none (data.mdb missing)"
        }
    }
}
