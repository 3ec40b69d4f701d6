/// The console's files — HTML, CSS and JavaScript modules — embedded in the binary.
///
/// Their sources are the readable files under `Console/Assets/`; SwiftPM compiles them into the
/// executable as byte arrays (`.embedInCode` in Package.swift: `PackageResources`, named by file
/// name alone), so the executable serves the console with no file beside it and nothing fetched
/// from elsewhere. ``files`` gives each its path again (a test fails when a file is missing there).
enum ConsoleAssets {
    /// One file of the console.
    struct Asset: Sendable {
        var contentType: String
        var body: [UInt8]
    }

    /// Every console file's bytes, by its path relative to `Console/Assets/`.
    static let files: [String: [UInt8]] = [
        "index.html": PackageResources.index_html,
        "console.css": PackageResources.console_css,
        "icon.svg": PackageResources.icon_svg,
        "js/api.js": PackageResources.api_js,
        "js/app.js": PackageResources.app_js,
        "js/dom.js": PackageResources.dom_js,
        "js/sse.js": PackageResources.sse_js,
        "js/timeline.js": PackageResources.timeline_js,
        "js/pages/ask.js": PackageResources.ask_js,
        "js/pages/journal.js": PackageResources.journal_js,
        "js/pages/metrics.js": PackageResources.metrics_js,
        "js/pages/run.js": PackageResources.run_js,
        "js/pages/runs.js": PackageResources.runs_js,
    ]

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
