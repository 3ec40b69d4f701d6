#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A buffered stream on file descriptor 1, opened once. `nonisolated(unsafe)`: the pointer is a
/// `let` never reassigned, and glibc's stdio locks each `FILE` internally, so writes from several
/// threads do not race (lines may interleave, bytes do not tear).
nonisolated(unsafe) private let standardOutput = fdopen(STDOUT_FILENO, "w")

/// Buffered writes to standard output and error for the CLI (NDJSON can be millions of lines).
enum Output {
    static func write(_ bytes: UnsafeRawBufferPointer) {
        _ = fwrite(bytes.baseAddress, 1, bytes.count, standardOutput)
    }

    static func line(_ text: String) {
        var text = text
        text.append("\n")
        text.withUTF8 { _ = fwrite($0.baseAddress, 1, $0.count, standardOutput) }
    }

    static func write(raw text: String) {
        var text = text
        text.withUTF8 { _ = fwrite($0.baseAddress, 1, $0.count, standardOutput) }
        fflush(standardOutput)
    }

    static func flush() {
        fflush(standardOutput)
    }

    static func error(_ text: String) {
        var text = text
        text.append("\n")
        text.withUTF8 { _ = Glibc.write(STDERR_FILENO, $0.baseAddress, $0.count) }
    }

    static var isTerminal: Bool { isatty(STDOUT_FILENO) != 0 }
}
