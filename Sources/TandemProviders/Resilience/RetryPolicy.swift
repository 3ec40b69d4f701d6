/// Exponential backoff with full jitter for retryable upstream failures (429, 5xx, connection
/// errors), honouring `Retry-After`, and never sleeping past the call's deadline.
public struct RetryPolicy: Sendable {
    /// Attempts in all (the first included).
    public var maxAttempts: Int
    /// The first backoff ceiling; doubles per retry up to ``maxDelay``.
    public var baseDelay: Duration
    public var maxDelay: Duration
    /// Draws a uniform random number in 0..<1 (injected for deterministic tests).
    public var random: @Sendable () -> Double

    public init(
        maxAttempts: Int = 4, baseDelay: Duration = .milliseconds(250), maxDelay: Duration = .seconds(8),
        random: @escaping @Sendable () -> Double = { Double.random(in: 0..<1) }
    ) {
        self.maxAttempts = maxAttempts
        self.baseDelay = baseDelay
        self.maxDelay = maxDelay
        self.random = random
    }

    /// The delay before attempt `attempt + 1` after attempt `attempt` failed, or `nil` to give up:
    /// out of attempts, or the delay would end past `deadline` (time since the clock's origin).
    func delay(after attempt: Int, retryAfter: Duration?, now: Duration, deadline: Duration?) -> Duration? {
        guard attempt < maxAttempts else { return nil }
        var ceiling = baseDelay
        for _ in 1..<attempt { ceiling = min(maxDelay, ceiling * 2) }
        var delay = ceiling * random()
        if let retryAfter { delay = max(delay, retryAfter) }
        if let deadline, now + delay >= deadline { return nil }
        return delay
    }
}
