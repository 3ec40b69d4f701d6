import Dispatch

/// Runs blocking work (a whole-journal scan, a verify) on a Dispatch thread, so that it holds
/// neither an event loop nor a thread of Swift's cooperative pool while it reads.
enum Blocking {
    /// The result of `work`, computed on a global Dispatch queue. Not cancellable: `work` runs to
    /// its end even if the caller is cancelled.
    static func run<T: Sendable>(_ work: @escaping @Sendable () throws -> T) async throws -> T {
        try await withCheckedThrowingContinuation { continuation in
            DispatchQueue.global(qos: .utility).async {
                continuation.resume(with: Result { try work() })
            }
        }
    }
}
