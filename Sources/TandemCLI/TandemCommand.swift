public import ArgumentParser

/// The `tandem` command: the server and every operator tool, as subcommands.
public struct TandemCommand: AsyncParsableCommand {
    public static let configuration = CommandConfiguration(
        commandName: "tandem",
        abstract: "Dual-model (Flash + Pro) answers over SSE, with an append-only, hash-chained audit journal.",
        subcommands: [ServeCommand.self, JournalCommand.self, ProjectionsCommand.self, RunsCommand.self, MetricsCommand.self, FleetCommand.self]
    )

    public init() {}
}

/// Where the data directory is: `--data-dir`, else `TANDEM_DATA_DIR`, else `./tandem-data`.
struct DataDirectoryOption: ParsableArguments {
    @Option(name: .customLong("data-dir"), help: "Data directory (env TANDEM_DATA_DIR, default ./tandem-data).")
    var dataDir: String?

    var path: String {
        dataDir ?? Environment.value("TANDEM_DATA_DIR") ?? "./tandem-data"
    }
}
