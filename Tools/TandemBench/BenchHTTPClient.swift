import AsyncHTTPClient
import NIOCore

extension HTTPClient {
    /// Runs `body` with a load-generating client whose pool opens up to `connections` connections
    /// to the server, and shuts the client down however `body` ends.
    static func withLoadClient(
        connections: Int, readTimeout: TimeAmount? = nil, _ body: (HTTPClient) async throws -> Void
    ) async throws {
        var configuration = HTTPClient.Configuration()
        configuration.connectionPool.concurrentHTTP1ConnectionsPerHostSoftLimit = connections
        if let readTimeout { configuration.timeout.read = readTimeout }
        let client = HTTPClient(eventLoopGroupProvider: .singleton, configuration: configuration)
        do {
            try await body(client)
        } catch {
            try? await client.shutdown()
            throw error
        }
        try await client.shutdown()
    }
}
