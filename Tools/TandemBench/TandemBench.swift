import ArgumentParser

/// `tandem-bench`: the performance figures of docs/DESIGN.md, measured as ratios in one run.
@main
struct TandemBench: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "tandem-bench",
        abstract: "Benchmarks for tandem (run through `make bench-…`).",
        subcommands: [JournalBench.self, ServeBench.self, CeilingBench.self, DeltasBench.self, ProjectionsBench.self, FleetBench.self]
    )
}
