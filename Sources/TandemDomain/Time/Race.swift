extension Clock where Duration == Swift.Duration {
    /// `work`'s result, or `expired` once `limit` has passed on this clock first — tandem's one
    /// timeout race (a request body's read, an attempt on PostgreSQL, a shutdown's grace).
    ///
    /// Both race in a task group awaited to the end: the loser is cancelled *and joined*, so
    /// nothing of `work` runs on after this returns (a timed-out attempt holds no lock, reports
    /// nothing late). When the calling task is cancelled, the timer gives way and `work`, cancelled
    /// too, says how it ended.
    public func race<T: Sendable>(
        _ work: @escaping @Sendable () async -> T, within limit: Duration, else expired: T
    ) async -> T {
        await withTaskGroup(of: T?.self) { group in
            group.addTask { await work() }
            group.addTask {
                // Cancelled: `work` ended first, or the caller gave up (then `work` answers).
                (try? await self.sleep(for: limit)) == nil ? nil : expired
            }
            var first: T?
            while first == nil, let next = await group.next() {
                first = next
            }
            group.cancelAll()
            // `work` always answers, so `first` is set; `expired` only keeps this total.
            return first ?? expired
        }
    }
}
