public import TandemDomain
public import TandemJournal

/// A validated request to answer a question with both models.
public struct RunRequest: Sendable, Equatable {
    public var runID: RunID
    public var query: String
    public var context: JSONValue?
    public var client: ClientInfo
    /// Whether the client chose the run id (then it may already exist: idempotent replay).
    public var clientChoseRunID: Bool

    public init(runID: RunID, query: String, context: JSONValue?, client: ClientInfo, clientChoseRunID: Bool) {
        self.runID = runID
        self.query = query
        self.context = context
        self.client = client
        self.clientChoseRunID = clientChoseRunID
    }

    /// SHA-256 (hex) of the canonical `{"context":…,"query":…}`: equal for equal requests.
    public var digest: String {
        struct Canonical: Encodable {
            var query: String
            var context: JSONValue?
        }
        let bytes = (try? CanonicalJSON.encode(Canonical(query: query, context: context))) ?? Array(query.utf8)
        return ChainHash.hex(of: bytes)
    }
}
