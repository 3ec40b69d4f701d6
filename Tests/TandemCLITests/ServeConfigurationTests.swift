import TandemTestSupport
import Testing

@Suite("serve refuses a misconfiguration at start")
struct ServeConfigurationTests {
    @Test("Missing keys, bad URLs and unreadable credentials stop serve with a message naming the setting", arguments: [
        (["TANDEM_PROVIDER": "gemini", "GEMINI_API_KEY": ""], "GEMINI_API_KEY"),
        (["TANDEM_PROVIDER": "openai", "OPENAI_BASE_URL": "not a url", "OPENAI_FLASH_MODEL": "a", "OPENAI_PRO_MODEL": "b"], "OPENAI_BASE_URL"),
        (["TANDEM_PROVIDER": "openai", "OPENAI_BASE_URL": "http://127.0.0.1:9"], "OPENAI_FLASH_MODEL"),
        (["TANDEM_PROVIDER": "vertex", "VERTEX_PROJECT": ""], "VERTEX_PROJECT"),
        (["TANDEM_PROVIDER": "vertex", "VERTEX_PROJECT": "p", "GOOGLE_ACCESS_TOKEN": "", "GOOGLE_APPLICATION_CREDENTIALS": "/nonexistent/sa.json"], "GOOGLE_APPLICATION_CREDENTIALS"),
        (["TANDEM_PROVIDER": "bogus"], "TANDEM_PROVIDER"),
        (["FLASH_TIMEOUT_S": "-1"], "FLASH_TIMEOUT_S"),
        (["TANDEM_DURABILITY": "sometimes"], "TANDEM_DURABILITY"),
        (["TANDEM_IDLE_CONNECTION_S": "0"], "TANDEM_IDLE_CONNECTION_S"),
        (["TANDEM_JOURNAL_MAX_MAP_BYTES": "4096"], "TANDEM_JOURNAL_MAX_MAP_BYTES"),
        (["TANDEM_WRITE_TIMEOUT_S": "0"], "TANDEM_WRITE_TIMEOUT_S"),
        (["TANDEM_REQUEST_BODY_TIMEOUT_S": "soon"], "TANDEM_REQUEST_BODY_TIMEOUT_S"),
        (["TANDEM_MAX_FOLLOWERS": "0"], "TANDEM_MAX_FOLLOWERS"),
        (["TANDEM_SHUTDOWN_HARD_LIMIT_S": "-3"], "TANDEM_SHUTDOWN_HARD_LIMIT_S"),
        (["TANDEM_UPSTREAM_MAX_CONNECTIONS": "0"], "TANDEM_UPSTREAM_MAX_CONNECTIONS"),
        (["TANDEM_UPSTREAM_MAX_CONNECTIONS": "many"], "TANDEM_UPSTREAM_MAX_CONNECTIONS"),
        (["TANDEM_FLEET_DURABILITY": "sometimes"], "TANDEM_FLEET_DURABILITY must be one of async, sync"),
        (["TANDEM_FLEET_DURABILITY": "sync"], "TANDEM_FLEET_DURABILITY=sync needs TANDEM_FLEET_URL"),
        (["TANDEM_FLEET_BATCH": "0"], "TANDEM_FLEET_BATCH"),
        (["TANDEM_FLEET_URL": "mysql://nope"], "TANDEM_FLEET_URL"),
        (["TANDEM_ALLOWED_HOSTS": "http://proxy.internal"], "TANDEM_ALLOWED_HOSTS"),
        (["TANDEM_ALLOWED_ORIGINS": "console.example.com"], "TANDEM_ALLOWED_ORIGINS"),
        (["TANDEM_AUTH_FAILURES_PER_MINUTE": "-1"], "TANDEM_AUTH_FAILURES_PER_MINUTE"),
        (["TANDEM_KEY_ID_SECRET_FILE": "/nonexistent/key-id.secret"], "TANDEM_KEY_ID_SECRET_FILE"),
    ])
    func refused(environment: [String: String], named setting: String) async throws {
        let directory = try TemporaryDirectory()
        let result = try await TandemExecutable.run(["serve", "--port", "0", "--data-dir", directory.path], environment: environment)
        #expect(result.status != 0)
        #expect(result.stderr.contains(setting), "\(result.stderr)")
    }
}
