import Foundation

/// Runs `Tools/schema_check.py` (Python `jsonschema`, draft 2020-12) over NDJSON output.
public enum SchemaChecker {
    /// The repository root, found from this source file's location.
    public static let repositoryRoot: String = {
        URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent().path
    }()

    /// Validates `file` (`mode` is `journal` or a schema path under `Schemas/`).
    public static func check(mode: String, file: String) async throws -> (status: Int32, output: String) {
        try await PythonTool.run("Tools/schema_check.py", [mode, file])
    }
}

/// Runs one of the repository's Python tools.
public enum PythonTool {
    /// Runs `python3 <repository>/<script> arguments…`; returns its status and combined output.
    public static func run(_ script: String, _ arguments: [String]) async throws -> (status: Int32, output: String) {
        let child = try SpawnedProcess(
            "/usr/bin/env", ["python3", SchemaChecker.repositoryRoot + "/" + script] + arguments, mergeErrors: true
        )
        let status = await child.terminated()
        return (status.code, await child.output?.text() ?? "")
    }
}
