import ArgumentParser
import Foundation
import Logging
import Synchronization
import TandemJournal
import TandemProjections

/// `tandem projections rebuild [--verify]`.
struct ProjectionsCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "projections",
        abstract: "Rebuild or verify the projections (run records, metrics) from the journal.",
        subcommands: [RebuildCommand.self]
    )
}

struct RebuildCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "rebuild",
        abstract: "Fold the journal from seq 1 into a fresh store and swap it in atomically (safe while serve runs).",
        discussion: "--verify rebuilds aside up to the live store's checkpoint and compares digests without replacing anything; exit 1 on a difference."
    )

    @OptionGroup var dataDirectory: DataDirectoryOption
    @Flag(help: "Compare a fresh rebuild with the live projections instead of replacing them.") var verify = false

    func run() async throws {
        try await failing {
            let journal = try dataDirectory.openForReading()
            let location = ProjectionLocation(dataDirectory: dataDirectory.path)
            let name = location.newName()
            let progress = ProgressReporter()
            if verify {
                guard let live = location.currentName() else {
                    throw CLIError.report(CLIError("there are no projections to verify at \(location.directory); run `tandem projections rebuild` first"))
                }
                let liveStore = try ProjectionStore(directory: location.path(of: live), name: live, readOnly: true)
                let expected = try liveStore.digest()
                let aside = Statistics.temporaryPath("tandem-verify")
                defer { try? FileManager.default.removeItem(atPath: aside) }
                let outcome = try ProjectionRebuild.rebuild(
                    journal: journal, location: ProjectionLocation(dataDirectory: aside), name: name,
                    through: expected.checkpoint, progress: progress.report
                )
                let actual = try outcome.store.digest()
                progress.finish(events: outcome.events, seconds: outcome.seconds)
                Output.line("live     checkpoint \(expected.checkpoint) digest \(expected.digest)")
                Output.line("rebuilt  checkpoint \(actual.checkpoint) digest \(actual.digest)")
                guard actual == expected else {
                    Output.error("projections verify FAILED: the live projections differ from a rebuild of the journal")
                    throw ExitCode.failure
                }
                Output.line("projections verify ok")
                return
            }
            let claim = try location.claimRebuild()
            defer { withExtendedLifetime(claim) {} }
            let outcome = try ProjectionRebuild.rebuild(journal: journal, location: location, name: name, progress: progress.report)
            try location.publish(name)
            progress.finish(events: outcome.events, seconds: outcome.seconds)
            let digest = try outcome.store.digest()
            Output.line("projections rebuilt into \(name): checkpoint \(digest.checkpoint), digest \(digest.digest)")
        }
    }
}

/// Progress on a terminal (a bar, redrawn), plain lines otherwise; events/s at the end.
/// Reports may come from a rebuild's worker thread; the last printed line is behind a lock.
final class ProgressReporter: Sendable {
    private let terminal = Output.isTerminal
    private let lastLine = Mutex(0)

    @Sendable func report(_ done: UInt64, _ total: UInt64) {
        let percent = total == 0 ? 100 : Int(Double(done) / Double(total) * 100)
        if terminal {
            let filled = percent / 4
            Output.write(raw: "\r[\(String(repeating: "#", count: filled))\(String(repeating: ".", count: 25 - filled))] \(percent)% \(done)/\(total)")
        } else if lastLine.withLock({ last in
            guard percent >= last + 10 || done == total else { return false }
            last = percent
            return true
        }) {
            Output.line("progress: \(done)/\(total) entries (\(percent)%)")
        }
    }

    func finish(events: UInt64, seconds: Double) {
        if terminal { Output.write(raw: "\n") }
        Output.line("applied \(events) events in \(String(format: "%.2f", seconds)) s (\(Int(Double(events) / max(seconds, 1e-9))) events/s)")
    }
}

enum Statistics {
    static func temporaryPath(_ prefix: String) -> String {
        FileManager.default.temporaryDirectory.path + "/\(prefix)-\(UUID().uuidString.prefix(8))"
    }
}
