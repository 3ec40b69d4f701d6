import ArgumentParser
import TandemFleet

/// An error of the `tandem` command line: a sentence for standard error, with the stable code of
/// the lower module's error when it has one (the fleet's). Every command reports through
/// ``report(_:exit:)``, so failures read the same: `error: …` or `error [code]: …`.
struct CLIError: Error, CustomStringConvertible {
    /// What went wrong and what to do.
    let message: String
    /// The cause's stable code, shown in brackets.
    let code: String?

    init(_ message: String, code: String? = nil) {
        self.message = message
        self.code = code
    }

    /// The CLI's reading of `cause`: a fleet error keeps its code; a journal or projection error
    /// (or any other) is its sentence.
    init(wrapping cause: any Error) {
        switch cause {
        case let error as CLIError: self = error
        case let error as FleetError: self.init(error.description, code: error.code.rawValue)
        default: self.init("\(cause)")
        }
    }

    var description: String {
        guard let code else { return "error: \(message)" }
        return "error [\(code)]: \(message)"
    }

    /// Writes `cause` on standard error and returns the exit for the caller to throw.
    static func report(_ cause: any Error, exit: ExitCode = .failure) -> ExitCode {
        Output.error(CLIError(wrapping: cause).description)
        return exit
    }

    /// `serve`, `runs` and `metrics` read projections that `serve` or a rebuild writes.
    static func noProjections(at directory: String) -> CLIError {
        CLIError("no projections at \(directory); run `tandem serve` or `tandem projections rebuild` first")
    }
}
