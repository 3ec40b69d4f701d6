import CLMDB

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// An error of tandem's LMDB storage: which store (``store``), which operation (``operation``),
/// what happened, and what an operator can do about it.
///
/// Built as a struct around a private code so that new cases never break callers (the
/// `ServiceGroupError` pattern). Compare with the static members, e.g. `error.code == .mapFull`.
/// The journal and the projections wrap it in their own errors (`JournalError`,
/// `ProjectionError`) keeping ``message`` as it is: it is the sentence a user sees.
package struct StorageError: Error, Sendable, Equatable, CustomStringConvertible {
    /// The kind of failure, stable across releases.
    package struct Code: Hashable, Sendable, CustomStringConvertible {
        fileprivate enum Base: String, Sendable {
            case environment
            case formatMismatch
            case mapFull
            case diskFull
            case io
        }

        fileprivate let base: Base

        /// LMDB could not open or operate on the environment.
        package static let environment = Code(base: .environment)
        /// The store has another format version, no format marker, or lacks one of its databases.
        package static let formatMismatch = Code(base: .formatMismatch)
        /// The memory map is full and the store's ``MapGrowth`` lets it grow no further.
        package static let mapFull = Code(base: .mapFull)
        /// The file system has no space left for the store.
        package static let diskFull = Code(base: .diskFull)
        /// A file-system operation around the store failed (creating its directory).
        package static let io = Code(base: .io)

        package var description: String { base.rawValue }
    }

    /// The kind of failure.
    package let code: Code
    /// The store concerned: "journal", "projection store".
    package let store: String
    /// What the store was doing: "commit", "open database entries", …
    package let operation: String
    /// A human sentence: what happened and what to do.
    package let message: String

    package init(_ code: Code, store: String, operation: String, _ message: String) {
        self.code = code
        self.store = store
        self.operation = operation
        self.message = message
    }

    package var description: String { message }

    /// The error for LMDB's return code `rc` while `store` did `operation`.
    /// - Parameter mapLimitSetting: the setting that raises the store's map limit, named in the
    ///   map-full message (`nil` when there is none to raise).
    static func lmdb(_ rc: Int32, _ operation: String, store: String, mapLimitSetting: String?) -> StorageError {
        let reason = String(cString: mdb_strerror(rc))
        switch rc {
        case MDB_MAP_FULL:
            let remedy = mapLimitSetting.map { "raise \($0) or free disk space" } ?? "free disk space"
            return StorageError(.mapFull, store: store, operation: operation, "\(store) map is full (\(operation)); \(remedy)")
        case ENOSPC, EDQUOT:
            return StorageError(
                .diskFull, store: store, operation: operation,
                "no space left on the \(store)'s file system (\(operation)): \(reason); free space, then retry"
            )
        default:
            return StorageError(.environment, store: store, operation: operation, "LMDB failed to \(operation): \(reason) (\(rc))")
        }
    }
}
