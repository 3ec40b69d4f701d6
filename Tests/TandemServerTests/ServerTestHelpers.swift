import Foundation
import TandemDomain
import TandemJournal
import TandemRuns
import TandemHTTPTestSupport
import TandemTestSupport
import Testing

/// Starts a query and returns its open stream.
func query(_ server: TestServer, _ body: String = #"{"query":"Why is the sky blue?"}"#, headers: [String: String] = [:]) async throws -> SSEConnection {
    try await SSEConnection.open(server.baseURL, "/api/reasoning/query", body: body, headers: headers)
}

/// The run id of a stream (its `X-Request-ID`).
func runID(of stream: SSEConnection) throws -> RunID {
    try #require(stream.header("X-Request-ID").flatMap(RunID.init))
}

/// Waits until `run` is over in the journal, then returns its event types in order.
func journaledTypes(_ server: TestServer, _ run: RunID) async throws -> [String] {
    try await waitUntilDone(server, run)
    return try server.journal.entries(of: run).map(\.type)
}

/// Waits until the journal holds the terminal event of `run`.
func waitUntilDone(_ server: TestServer, _ run: RunID) async throws {
    for try await frame in try server.coordinator.follow(run) where frame.isTerminal { return }
}

/// The decoded events of `run`.
func events(_ server: TestServer, _ run: RunID) throws -> [DomainEvent] {
    try server.journal.entries(of: run).map { try DomainEvent($0) }
}

extension ClientFrame {
    /// `response` of a preliminary/final payload.
    var response: [String: Any] { json["response"] as? [String: Any] ?? [:] }
}

extension Array where Element == ClientFrame {
    var names: [String] { map(\.event) }
}

/// Waits until the journal holds an event of `type` for `run`.
func waitForEntry(_ server: TestServer, _ run: RunID, type: String) async throws {
    while true {
        let head = try server.journal.head().seq
        if try server.journal.entries(of: run).contains(where: { $0.type == type }) { return }
        await server.journal.waitForAppend(beyond: head, timeout: .seconds(1))
    }
}
