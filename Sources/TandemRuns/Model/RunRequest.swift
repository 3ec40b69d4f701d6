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

    /// HMAC-SHA-256 (hex) with `key` of the canonical `{"context":…,"query":…}`: equal for equal
    /// requests under one key, and not a function of the (unredacted) request alone.
    /// (Written by hand, byte for byte as `CanonicalJSON.encode` writes it.)
    public func digest(key: RequestDigestKey) -> String {
        var writer = CanonicalWriter(capacity: 128)
        writer.beginObject()
        if let context {
            writer.key("context")
            context.write(&writer)
        }
        writer.key("query", query)
        writer.endObject()
        return key.authenticate(writer.hasInvalidNumber ? Array(query.utf8) : writer.bytes)
    }
}
