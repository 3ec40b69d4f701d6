/// What an SSE response writes: frames of a run, and keep-alive pings.
public enum StreamItem: Sendable, Equatable {
    /// Frames that became durable together (one journal commit), written in one go; a live run's
    /// carry when their commit returned (``RunCoordinator/frameWritten(committedAt:)``).
    case frames([SSEFrame], committedAt: Duration?)
    case ping
}

/// The live frames of a run just started, for the client that started it.
public struct RunStream: Sendable {
    /// Frames as their events become durable; finishes after `done`.
    public let items: AsyncStream<StreamItem>
    /// Where pings are merged into ``items``.
    public let pings: AsyncStream<StreamItem>.Continuation
    /// Steers the run (client disconnect).
    public let control: RunControl
}

/// What the coordinator made of a request.
public enum RunAdmission: Sendable {
    /// A new run started; stream its frames.
    case started(RunStream)
    /// The run id exists with the same request: replay its journaled frames (live if still running).
    case replay
}
