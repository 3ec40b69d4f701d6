import ArgumentParser
import Foundation
import TandemDomain
import TandemJournal
import TandemProviders
import TandemRuns
import TandemServer

/// Reads `serve`'s settings from the environment, refusing bad values with the variable's name.
struct EnvironmentSettings {
    private let lookup: (String) -> String?

    init(lookup: @escaping (String) -> String? = Environment.value) {
        self.lookup = lookup
    }

    func string(_ name: String, default value: String) -> String {
        lookup(name) ?? value
    }

    func seconds(_ name: String, default value: Double?) throws -> Duration? {
        guard let raw = lookup(name) else { return value.map { .fractionalSeconds($0) } }
        guard let seconds = Double(raw), seconds > 0, seconds.isFinite else {
            throw ValidationError("\(name) must be a positive number of seconds (got '\(raw)')")
        }
        return .fractionalSeconds(seconds)
    }

    func integer(_ name: String, default value: Int, range: ClosedRange<Int>) throws -> Int {
        guard let raw = lookup(name) else { return value }
        guard let number = Int(raw), range.contains(number) else {
            throw ValidationError("\(name) must be a whole number in \(range.lowerBound)...\(range.upperBound) (got '\(raw)')")
        }
        return number
    }

    func choice<T: RawRepresentable & CaseIterable>(_ name: String, default value: T) throws -> T where T.RawValue == String {
        guard let raw = lookup(name) else { return value }
        guard let choice = T(rawValue: raw.lowercased()) else {
            throw ValidationError("\(name) must be one of \(T.allCases.map(\.rawValue).joined(separator: ", ")) (got '\(raw)')")
        }
        return choice
    }

    func flag(_ name: String, default value: Bool) throws -> Bool {
        guard let raw = lookup(name)?.lowercased() else { return value }
        switch raw {
        case "1", "true", "on", "yes": return true
        case "0", "false", "off", "no": return false
        default: throw ValidationError("\(name) must be on or off (got '\(raw)')")
        }
    }

    func optional(_ name: String) -> String? {
        lookup(name)
    }

    /// A fault point for the crash tests: when `name` holds a seq, a hook that kills the process
    /// (SIGKILL) once it is called with that seq or a later one; `nil` when `name` is unset.
    func list(_ name: String) -> [String] {
        (lookup(name) ?? "").split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
    }
}


/// Everything `tandem serve` runs with, resolved from flags and environment.
struct ServeSettings {
    var journal: JournalConfiguration
    var server: ServerConfiguration
    var runs: RunSettings
    var provider: ProviderChoice
    /// Connections kept per upstream host (`TANDEM_UPSTREAM_MAX_CONNECTIONS`).
    var upstreamMaxConnections: Int
    /// Where the secret of `client.key_id` is (`TANDEM_KEY_ID_SECRET_FILE`); `nil`: the data dir's own.
    var keyIDSecretFile: String?
    /// After the grace period, how long streams and connections get before they are closed
    /// (`TANDEM_SHUTDOWN_HARD_LIMIT_S`): a shutdown never takes longer than grace + this.
    var shutdownHardLimit: Duration

    /// Which model provider, and its settings.
    enum ProviderChoice {
        case scripted(flashLatency: Duration, proLatency: Duration, flashPieces: Int, proPieces: Int)
        case gemini(apiKey: String, baseURL: String)
        case openAI(baseURL: String, apiKey: String?)
        case vertex(project: String, location: String, baseURL: String?, token: VertexToken)
    }

    /// How Vertex AI requests are authorised.
    enum VertexToken {
        case accessToken(String)
        case serviceAccountFile(String)
    }

    init(host: String?, port: Int?, dataDirectory: String, environment: EnvironmentSettings = EnvironmentSettings()) throws {
        var journal = JournalConfiguration(directory: dataDirectory)
        journal.durability = try environment.choice("TANDEM_DURABILITY", default: JournalConfiguration.Durability.sync)
        journal.syncInterval = .milliseconds(try environment.integer("TANDEM_SYNC_INTERVAL_MS", default: 100, range: 1...60_000))
        journal.maxMapBytes = try environment.integer("TANDEM_JOURNAL_MAX_MAP_BYTES", default: journal.maxMapBytes, range: (64 << 20)...(1 << 50))
        journal.initialMapBytes = min(journal.initialMapBytes, journal.maxMapBytes)
        self.journal = journal

        let allowedHosts = environment.list("TANDEM_ALLOWED_HOSTS")
        for name in allowedHosts where name.contains(":") || name.contains("/") {
            throw ValidationError("TANDEM_ALLOWED_HOSTS takes bare host names, without scheme or port (got '\(name)')")
        }
        let allowedOrigins = environment.list("TANDEM_ALLOWED_ORIGINS")
        for origin in allowedOrigins {
            guard let url = URL(string: origin), let scheme = url.scheme, ["http", "https"].contains(scheme.lowercased()), url.host != nil,
                  url.path.isEmpty || url.path == "/", url.query == nil
            else {
                throw ValidationError("TANDEM_ALLOWED_ORIGINS takes origins like https://console.example.com:8443 (got '\(origin)')")
            }
        }
        server = ServerConfiguration(
            host: host ?? environment.string("HOST", default: "127.0.0.1"),
            port: try port ?? environment.integer("PORT", default: 8080, range: 0...65_535),
            apiKeys: environment.list("TANDEM_API_KEYS"),
            rateLimitPerMinute: try environment.integer("RATE_LIMIT_PER_MINUTE", default: 0, range: 0...1_000_000),
            maxBodyBytes: try environment.integer("TANDEM_MAX_BODY_BYTES", default: 256 * 1024, range: 1_024...(64 << 20)),
            ssePingInterval: try environment.seconds("TANDEM_SSE_PING_S", default: 15)!,
            idleConnectionTimeout: try environment.seconds("TANDEM_IDLE_CONNECTION_S", default: 60)!,
            writeTimeout: try environment.seconds("TANDEM_WRITE_TIMEOUT_S", default: 30)!,
            requestBodyTimeout: try environment.seconds("TANDEM_REQUEST_BODY_TIMEOUT_S", default: 10)!,
            authFailuresPerMinute: try environment.integer("TANDEM_AUTH_FAILURES_PER_MINUTE", default: 20, range: 0...1_000_000),
            allowedHosts: allowedHosts,
            allowedOrigins: allowedOrigins
        )
        keyIDSecretFile = environment.optional("TANDEM_KEY_ID_SECRET_FILE")?.nilIfEmpty
        shutdownHardLimit = try environment.seconds("TANDEM_SHUTDOWN_HARD_LIMIT_S", default: 10)!

        runs = RunSettings(
            flashDeadlines: ModelDeadlines(
                total: try environment.seconds("FLASH_TIMEOUT_S", default: 5)!,
                firstToken: try environment.seconds("FLASH_FIRST_TOKEN_TIMEOUT_S", default: nil),
                idle: try environment.seconds("FLASH_IDLE_TIMEOUT_S", default: nil)
            ),
            proDeadlines: ModelDeadlines(
                total: try environment.seconds("PRO_TIMEOUT_S", default: 45)!,
                firstToken: try environment.seconds("PRO_FIRST_TOKEN_TIMEOUT_S", default: nil),
                idle: try environment.seconds("PRO_IDLE_TIMEOUT_S", default: nil)
            ),
            onFlashFailure: try environment.choice("TANDEM_ON_FLASH_FAILURE", default: FlashFailurePolicy.continue),
            redact: try environment.flag("TANDEM_REDACT", default: true),
            maxConcurrentRuns: try environment.integer("TANDEM_MAX_CONCURRENT_RUNS", default: 10_000, range: 1...1_000_000),
            shutdownGrace: try environment.seconds("TANDEM_SHUTDOWN_GRACE_S", default: 30)!,
            maxFollowers: try environment.integer("TANDEM_MAX_FOLLOWERS", default: 10_000, range: 1...1_000_000),
            deltaLimits: DeltaLimits(
                window: .milliseconds(try environment.integer("TANDEM_DELTA_WINDOW_MS", default: 50, range: 0...1_000)),
                maxBytes: try environment.integer("TANDEM_DELTA_MAX_BYTES", default: 4_096, range: DeltaLimits.maxBytesRange)
            ),
            progressHold: .milliseconds(try environment.integer(
                "TANDEM_PROGRESS_HOLD_MS", default: Int(RunSettings.defaultProgressHold.milliseconds), range: 0...1_000
            ))
        )

        upstreamMaxConnections = try environment.integer(
            "TANDEM_UPSTREAM_MAX_CONNECTIONS", default: UpstreamHTTPClient.defaultMaxConnections, range: 1...65_536
        )

        runs.flashGeneration = try Self.generation("FLASH", default: .flash, environment)
        runs.proGeneration = try Self.generation("PRO", default: .pro, environment)

        let providerName = environment.string("TANDEM_PROVIDER", default: "auto").lowercased()
        let geminiKey = environment.string("GEMINI_API_KEY", default: "")
        switch providerName {
        case "gemini",
             "auto" where !geminiKey.isEmpty:
            guard !geminiKey.isEmpty else { throw ValidationError("TANDEM_PROVIDER=gemini needs GEMINI_API_KEY") }
            let baseURL = environment.string("GEMINI_BASE_URL", default: "https://generativelanguage.googleapis.com")
            try Self.checkURL(baseURL, "GEMINI_BASE_URL")
            provider = .gemini(apiKey: geminiKey, baseURL: baseURL)
            runs.flashModel = environment.string("GEMINI_FLASH_MODEL", default: "gemini-2.5-flash")
            runs.proModel = environment.string("GEMINI_PRO_MODEL", default: "gemini-2.5-pro")
        case "openai":
            let baseURL = environment.string("OPENAI_BASE_URL", default: "")
            guard !baseURL.isEmpty else { throw ValidationError("TANDEM_PROVIDER=openai needs OPENAI_BASE_URL (e.g. http://localhost:11434 for Ollama)") }
            try Self.checkURL(baseURL, "OPENAI_BASE_URL")
            let flash = environment.string("OPENAI_FLASH_MODEL", default: "")
            let pro = environment.string("OPENAI_PRO_MODEL", default: "")
            guard !flash.isEmpty, !pro.isEmpty else { throw ValidationError("TANDEM_PROVIDER=openai needs OPENAI_FLASH_MODEL and OPENAI_PRO_MODEL") }
            provider = .openAI(baseURL: baseURL, apiKey: environment.string("OPENAI_API_KEY", default: "").nilIfEmpty)
            runs.flashModel = flash
            runs.proModel = pro
        case "auto", "scripted":
            let pieces = try environment.integer("TANDEM_SCRIPTED_PIECES", default: 1, range: 1...10_000)
            provider = .scripted(
                flashLatency: .milliseconds(try environment.integer("TANDEM_SCRIPTED_FLASH_MS", default: 400, range: 0...3_600_000)),
                proLatency: .milliseconds(try environment.integer("TANDEM_SCRIPTED_PRO_MS", default: 2_500, range: 0...3_600_000)),
                flashPieces: try environment.integer("TANDEM_SCRIPTED_FLASH_PIECES", default: pieces, range: 1...10_000),
                proPieces: try environment.integer("TANDEM_SCRIPTED_PRO_PIECES", default: pieces, range: 1...10_000)
            )
        case "vertex":
            let project = environment.string("VERTEX_PROJECT", default: "")
            guard !project.isEmpty else { throw ValidationError("TANDEM_PROVIDER=vertex needs VERTEX_PROJECT") }
            let location = environment.string("VERTEX_LOCATION", default: "us-central1")
            let baseURL = environment.string("VERTEX_BASE_URL", default: "").nilIfEmpty
            if let baseURL { try Self.checkURL(baseURL, "VERTEX_BASE_URL") }
            let token: VertexToken
            if let access = environment.string("GOOGLE_ACCESS_TOKEN", default: "").nilIfEmpty {
                token = .accessToken(access)
            } else if let file = environment.string("GOOGLE_APPLICATION_CREDENTIALS", default: "").nilIfEmpty {
                guard FileManager.default.isReadableFile(atPath: file) else {
                    throw ValidationError("GOOGLE_APPLICATION_CREDENTIALS names \(file), which cannot be read")
                }
                token = .serviceAccountFile(file)
            } else {
                throw ValidationError("TANDEM_PROVIDER=vertex needs GOOGLE_ACCESS_TOKEN or GOOGLE_APPLICATION_CREDENTIALS")
            }
            provider = .vertex(project: project, location: location, baseURL: baseURL, token: token)
            runs.flashModel = environment.string("GEMINI_FLASH_MODEL", default: "gemini-2.5-flash")
            runs.proModel = environment.string("GEMINI_PRO_MODEL", default: "gemini-2.5-pro")
        default:
            throw ValidationError("TANDEM_PROVIDER must be one of auto, gemini, vertex, openai, scripted (got '\(providerName)')")
        }
    }

    /// `<ROLE>_TEMPERATURE` (0–2), `<ROLE>_MAX_OUTPUT_TOKENS`, `<ROLE>_TOP_P` (0–1).
    private static func generation(_ role: String, default value: GenerationSettings, _ environment: EnvironmentSettings) throws -> GenerationSettings {
        var settings = value
        if let raw = environment.optional("\(role)_TEMPERATURE") {
            guard let number = Double(raw), (0...2).contains(number) else { throw ValidationError("\(role)_TEMPERATURE must be a number from 0 to 2 (got '\(raw)')") }
            settings.temperature = number
        }
        if let raw = environment.optional("\(role)_TOP_P") {
            guard let number = Double(raw), (0...1).contains(number) else { throw ValidationError("\(role)_TOP_P must be a number from 0 to 1 (got '\(raw)')") }
            settings.topP = number
        }
        settings.maxOutputTokens = try environment.integer("\(role)_MAX_OUTPUT_TOKENS", default: value.maxOutputTokens, range: 1...1_000_000)
        return settings
    }

    private static func checkURL(_ value: String, _ name: String) throws {
        guard let url = URL(string: value), let scheme = url.scheme, ["http", "https"].contains(scheme), url.host != nil else {
            throw ValidationError("\(name) must be an http(s) URL (got '\(value)')")
        }
    }

    /// The settings as log lines, secrets masked.
    var summary: [(String, String)] {
        var lines: [(String, String)] = [
            ("data_dir", journal.directory),
            ("listen", "\(server.host):\(server.port)"),
            ("durability", journal.durability == .sync ? "sync" : "async (sync every \(journal.syncInterval))"),
            ("flash", "\(runs.flashModel) total \(runs.flashDeadlines.total)"
                + (runs.flashDeadlines.firstToken.map { " first_token \($0)" } ?? "")
                + (runs.flashDeadlines.idle.map { " idle \($0)" } ?? "")),
            ("pro", "\(runs.proModel) total \(runs.proDeadlines.total)"
                + (runs.proDeadlines.firstToken.map { " first_token \($0)" } ?? "")
                + (runs.proDeadlines.idle.map { " idle \($0)" } ?? "")),
            ("generation", "flash temperature \(runs.flashGeneration.temperature) max_output_tokens \(runs.flashGeneration.maxOutputTokens) top_p \(runs.flashGeneration.topP); "
                + "pro temperature \(runs.proGeneration.temperature) max_output_tokens \(runs.proGeneration.maxOutputTokens) top_p \(runs.proGeneration.topP)"),
            ("on_flash_failure", runs.onFlashFailure.rawValue),
            ("redaction", Redactor(enabled: runs.redact).policy),
            ("api_keys", server.apiKeys.isEmpty ? "none (authentication off)"
                : "\(server.apiKeys.count) configured (key ids under \(keyIDSecretFile.map { "TANDEM_KEY_ID_SECRET_FILE \($0)" } ?? "the data dir's secret"))"),
            ("auth_failures_per_minute", server.authFailuresPerMinute == 0 ? "off" : "\(server.authFailuresPerMinute) per client address"),
            ("allowed_hosts", server.allowedHosts.isEmpty ? "localhost, 127.0.0.1, [::1]" : "localhost, 127.0.0.1, [::1], " + server.allowedHosts.joined(separator: ", ")),
            ("allowed_origins", server.allowedOrigins.isEmpty ? "the server's own" : "the server's own, " + server.allowedOrigins.joined(separator: ", ")),
            ("rate_limit_per_minute", server.rateLimitPerMinute == 0 ? "off" : "\(server.rateLimitPerMinute)"),
            ("max_concurrent_runs", "\(runs.maxConcurrentRuns)"),
            ("shutdown_grace", "\(runs.shutdownGrace) then hard limit \(shutdownHardLimit)"),
            ("sse_ping", "\(server.ssePingInterval)"),
            ("idle_connection", "\(server.idleConnectionTimeout)"),
            ("write_timeout", "\(server.writeTimeout)"),
            ("request_body_timeout", "\(server.requestBodyTimeout)"),
            ("max_followers", "\(runs.maxFollowers)"),
            ("delta_window", "\(runs.deltaLimits.window), delta_max_bytes \(runs.deltaLimits.maxBytes)"),
            ("progress_hold", "\(runs.progressHold)"),
            ("journal_max_map_bytes", "\(journal.maxMapBytes)"),
            ("upstream_max_connections", "\(upstreamMaxConnections) per host (HTTP/2 where the upstream offers it)"),
        ]
        switch provider {
        case .scripted(let flash, let pro, let flashPieces, let proPieces):
            lines.append((
                "provider",
                "scripted — SIMULATED models, no real model is called (flash \(flash) in \(flashPieces) pieces, pro \(pro) in \(proPieces))"
            ))
        case .gemini(_, let baseURL):
            lines.append(("provider", "gemini at \(Self.withoutCredentials(baseURL)) (GEMINI_API_KEY set)"))
        case .vertex(let project, let location, let baseURL, let token):
            let auth = switch token {
            case .accessToken: "GOOGLE_ACCESS_TOKEN (***)"
            case .serviceAccountFile(let file): "service account \(file)"
            }
            lines.append(("provider", "vertex project \(project) in \(location)\(baseURL.map { " at \(Self.withoutCredentials($0))" } ?? ""), \(auth)"))
        case .openAI(let baseURL, let key):
            lines.append(("provider", "openai-compatible at \(Self.withoutCredentials(baseURL))" + (key == nil ? " (no key)" : " (OPENAI_API_KEY set)")))
        }
        return lines
    }
}

extension ServeSettings {
    /// `url` with any `user:password@` removed, for the log.
    static func withoutCredentials(_ url: String) -> String {
        guard url.contains("@") else { return url }
        guard var components = URLComponents(string: url), components.user != nil || components.password != nil else {
            return "(a URL with an '@' that could not be read; not printed)"
        }
        components.user = nil
        components.password = nil
        return components.string ?? "(a URL with credentials; not printed)"
    }
}

extension String {
    var nilIfEmpty: String? { isEmpty ? nil : self }
}
