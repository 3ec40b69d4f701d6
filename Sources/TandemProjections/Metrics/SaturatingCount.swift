extension UInt64 {
    /// `self + other`, or `UInt64.max` when that overflows: counts fed by journal entries (which
    /// say whatever an upstream or a hand-written entry said) stop at the top instead of trapping.
    func saturatingAdding(_ other: UInt64) -> UInt64 {
        let (sum, overflow) = addingReportingOverflow(other)
        return overflow ? .max : sum
    }

    /// `value` as a count: negative or NaN → 0, beyond the range → `UInt64.max`.
    init(saturating value: Double) {
        if value.isNaN || value <= 0 {
            self = 0
        } else if value >= 18_446_744_073_709_551_616 {  // 2^64
            self = .max
        } else {
            self = UInt64(value)
        }
    }
}

extension Dictionary where Value == UInt64 {
    /// Adds `amount` to the count under `key`, saturating.
    mutating func add(_ amount: UInt64, to key: Key) {
        self[key] = self[key, default: 0].saturatingAdding(amount)
    }

    /// Adds `other`'s counts, saturating.
    mutating func add(_ other: [Key: UInt64]) {
        merge(other) { $0.saturatingAdding($1) }
    }
}
