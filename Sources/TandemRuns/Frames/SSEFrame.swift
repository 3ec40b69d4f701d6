/// The SSE `event:` names of a run's frames (SPEC §2); raw values are the wire names.
public enum FrameEvent: String, Sendable, CaseIterable {
    case preliminary
    case final
    case error
    case done
    /// A journaled piece of an answer (deltas runs only, SPEC §10).
    case delta
}

/// One Server-Sent Events frame of a run: `id: <seq>`, `event: <name>`, one `data: <json>` line.
public struct SSEFrame: Sendable, Equatable {
    /// The journal seq of the event the frame comes from. `nil` only for the frames sent when the
    /// journal itself failed mid-run (they could not be journaled).
    public var id: UInt64?
    /// `preliminary`, `final`, `error`, `done` or `delta`.
    public var event: FrameEvent
    /// The JSON payload, one line.
    public var data: [UInt8]

    public init(id: UInt64?, event: FrameEvent, data: [UInt8]) {
        self.id = id
        self.event = event
        self.data = data
    }

    /// The frame's bytes on the wire.
    public var encoded: [UInt8] {
        var bytes: [UInt8] = []
        bytes.reserveCapacity(data.count + 48)
        if let id { bytes += Array("id: \(id)\n".utf8) }
        bytes += Array("event: \(event.rawValue)\n".utf8)
        bytes += Array("data: ".utf8)
        bytes += data
        bytes += [10, 10]
        return bytes
    }

    /// Whether this is the last frame of a run.
    public var isTerminal: Bool { event == .done }

    /// The keep-alive comment sent while waiting.
    public static let ping: [UInt8] = Array(": ping\n\n".utf8)
}
