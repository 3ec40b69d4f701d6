import ArgumentParser
import Foundation
import TandemJournal

/// `tandem journal stats`: how big the journal is and where it ends.
struct StatsCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "stats",
        abstract: "Entry count, bytes, head seq/hash, first/last timestamp."
    )

    @OptionGroup var dataDirectory: DataDirectoryOption
    @Flag(help: "Print one JSON object.") var json = false

    func run() async throws {
        try await failing {
            let stats = try dataDirectory.openForReading().stats()
            let fields: [(String, String)] = [
                ("entries", "\(stats.entries)"),
                ("line_bytes", "\(stats.lineBytes)"),
                ("head_seq", "\(stats.head.seq)"),
                ("head_hash", stats.head.hashHex),
                ("first_ts", stats.firstTimestamp ?? "-"),
                ("last_ts", stats.lastTimestamp ?? "-"),
                ("open_runs", "\(stats.openRuns)"),
                ("file_bytes", "\(stats.fileBytes)"),
                ("map_bytes", "\(stats.mapBytes)"),
            ]
            if json {
                var object: [String: Any] = [:]
                for (key, value) in fields {
                    object[key] = UInt64(value) ?? (value == "-" ? NSNull() : value as Any)
                }
                let data = try JSONSerialization.data(withJSONObject: object, options: [.sortedKeys])
                Output.line(String(decoding: data, as: UTF8.self))
            } else {
                for (key, value) in fields {
                    Output.line("\(key.padding(toLength: 10, withPad: " ", startingAt: 0))  \(value)")
                }
            }
        }
    }
}
