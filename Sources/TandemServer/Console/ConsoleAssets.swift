/// The console's files — HTML, CSS and JavaScript modules — embedded in the binary.
///
/// Their sources are the readable files under `Console/Assets/`; `Tools/embed_console.py` copies
/// them into `ConsoleAssets+embedded.swift` as string literals (a test fails when the two differ),
/// so the executable serves the console with no file beside it and nothing fetched from elsewhere.
enum ConsoleAssets {
    /// One file of the console.
    struct Asset: Sendable {
        var contentType: String
        var body: String
    }

    /// The file at `path` (relative to `Assets/`, e.g. `js/app.js`), if the console has it.
    static func asset(at path: String) -> Asset? {
        guard let body = files[path], let contentType = contentType(of: path) else { return nil }
        return Asset(contentType: contentType, body: body)
    }

    /// The content type served for a file name, by its extension; `nil` for kinds the console has none of.
    static func contentType(of path: String) -> String? {
        guard let dot = path.lastIndex(of: ".") else { return nil }
        switch path[path.index(after: dot)...] {
        case "html": return "text/html; charset=utf-8"
        case "css": return "text/css; charset=utf-8"
        case "js": return "text/javascript; charset=utf-8"
        case "svg": return "image/svg+xml"
        default: return nil
        }
    }
}
