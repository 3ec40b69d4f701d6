/// How the journal stores and syncs its entries.
public struct JournalConfiguration: Sendable {
    /// When a commit counts as durable.
    public enum Durability: String, Sendable, CaseIterable {
        /// Every commit is fsynced before its appenders are resumed (group commit shares the fsync).
        case sync
        /// Commits go to the OS page cache; a sync runs every ``JournalConfiguration/syncInterval``.
        /// A process crash loses nothing; an OS crash or power loss loses at most that interval.
        case async
    }

    /// The data directory; the LMDB files live in `<directory>/journal`.
    public var directory: String
    /// The durability mode.
    public var durability: Durability
    /// How often `async` durability syncs.
    public var syncInterval: Duration
    /// The initial memory-map size in bytes; the map doubles when full, up to ``maxMapBytes``.
    public var initialMapBytes: Int
    /// The largest the map may grow to.
    public var maxMapBytes: Int
    /// How often the run index is brought up to date (reads are complete regardless).
    public var indexInterval: Duration
    /// The most entries one write transaction takes.
    public var maxBatchEntries: Int
    /// LMDB reader slots (concurrent read transactions across all processes).
    public var maxReaders: UInt32
    /// Stamps entries with their commit time.
    public var clock: JournalClock
    /// Open without write access (CLI read commands while `serve` runs).
    public var readOnly: Bool
    /// How often the writer frees reader slots left by dead processes.
    public var staleReaderCheckInterval: Duration
    /// Times the writer's intervals (index flush, `async` sync, stale-reader check) and the
    /// timeouts of ``Journal/waitForAppend(beyond:timeout:)``; tests pass a manual clock.
    public var monotonicClock: any Clock<Duration>
    /// Replaces the `async` durability's background sync (tests make it fail as a dying disk
    /// would); `nil` syncs the environment.
    package var syncOverride: (@Sendable () throws -> Void)?
    /// A fault point for crash tests (the `tandem-faults` binary): called on the writer thread
    /// with the last seq of a run-index flush, inside its transaction, once its index rows are
    /// written and before the checkpoint moves and the transaction commits. `nil` in production.
    public var beforeRunIndexFlush: (@Sendable (UInt64) -> Void)?

    /// A configuration with the defaults used by `tandem serve`.
    public init(
        directory: String,
        durability: Durability = .sync,
        syncInterval: Duration = .milliseconds(100),
        initialMapBytes: Int = 1 << 30,
        maxMapBytes: Int = 1 << 40,
        indexInterval: Duration = .milliseconds(20),
        maxBatchEntries: Int = 4_096,
        maxReaders: UInt32 = 1_024,
        clock: JournalClock = .system,
        readOnly: Bool = false,
        staleReaderCheckInterval: Duration = .seconds(10),
        monotonicClock: any Clock<Duration> = ContinuousClock()
    ) {
        self.directory = directory
        self.durability = durability
        self.syncInterval = syncInterval
        self.initialMapBytes = initialMapBytes
        self.maxMapBytes = maxMapBytes
        self.indexInterval = indexInterval
        self.maxBatchEntries = maxBatchEntries
        self.maxReaders = maxReaders
        self.clock = clock
        self.readOnly = readOnly
        self.staleReaderCheckInterval = staleReaderCheckInterval
        self.monotonicClock = monotonicClock
    }

    /// Where the LMDB environment lives inside the data directory.
    public var journalDirectory: String { directory + "/journal" }
}
