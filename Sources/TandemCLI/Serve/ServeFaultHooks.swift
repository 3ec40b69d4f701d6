/// Fault points `tandem serve` calls, for crash tests only. The `tandem` executable installs
/// none; the test-only `tandem-faults` executable (Tools/TandemFaults) installs them for the scope
/// of its command, so production never reads a test variable.
public struct ServeFaultHooks: Sendable {
    /// Inside a fleet ship transaction, with the batch's last seq, once its rows are written and
    /// before the mark moves and the transaction commits.
    public var fleetBeforeCommit: (@Sendable (UInt64) async throws -> Void)?
    /// Before the projection commit of a batch, with its last seq (its journal entries are committed).
    public var projectionsBeforeCommit: (@Sendable (UInt64) -> Void)?
    /// Inside the journal writer's run-index flush, with its last seq, before the checkpoint moves.
    public var runIndexBeforeFlush: (@Sendable (UInt64) -> Void)?

    public init(
        fleetBeforeCommit: (@Sendable (UInt64) async throws -> Void)? = nil,
        projectionsBeforeCommit: (@Sendable (UInt64) -> Void)? = nil,
        runIndexBeforeFlush: (@Sendable (UInt64) -> Void)? = nil
    ) {
        self.fleetBeforeCommit = fleetBeforeCommit
        self.projectionsBeforeCommit = projectionsBeforeCommit
        self.runIndexBeforeFlush = runIndexBeforeFlush
    }

    /// The hooks of the running command: none unless a caller installs some with
    /// `ServeFaultHooks.$current.withValue(hooks) { … }`.
    @TaskLocal public static var current = ServeFaultHooks()
}
