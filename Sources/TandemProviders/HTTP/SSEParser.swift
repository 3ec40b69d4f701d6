/// An incremental Server-Sent Events parser for upstream streams: feed it bytes as they arrive,
/// take complete events' `data` as they finish.
struct SSEParser {
    private var line: [UInt8] = []
    private var data: [UInt8] = []
    private var hasData = false

    /// Feeds `bytes`; returns the `data` of each event completed by them.
    mutating func feed(_ bytes: some Sequence<UInt8>) -> [[UInt8]] {
        var events: [[UInt8]] = []
        for byte in bytes {
            if byte == UInt8(ascii: "\n") {
                if line.last == UInt8(ascii: "\r") { line.removeLast() }
                if line.isEmpty {
                    if hasData { events.append(data) }
                    data.removeAll(keepingCapacity: true)
                    hasData = false
                } else if line.starts(with: Array("data:".utf8)) {
                    var value = line.dropFirst(5)
                    if value.first == UInt8(ascii: " ") { value = value.dropFirst() }
                    if hasData { data.append(UInt8(ascii: "\n")) }
                    data += value
                    hasData = true
                }
                line.removeAll(keepingCapacity: true)
            } else {
                line.append(byte)
            }
        }
        return events
    }

    /// The data of an event left unterminated when the stream ended.
    mutating func finish() -> [UInt8]? {
        if !line.isEmpty { _ = feed([UInt8(ascii: "\n")]) }
        return hasData ? data : nil
    }
}
