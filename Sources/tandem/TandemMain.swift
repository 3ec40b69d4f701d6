import ArgumentParser
import TandemCLI

/// The `tandem` executable: hands the command line to ``TandemCommand``.
@main
struct TandemMain {
    static func main() async {
        await TandemCommand.main()
    }
}
