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
    /// Which frames the run streams. Not part of the digest: a run's frames are fixed at its start.
    public var stream: StreamMode

    public init(
        runID: RunID, query: String, context: JSONValue?, client: ClientInfo, clientChoseRunID: Bool, stream: StreamMode = .answers
    ) {
        self.runID = runID
        self.query = query
        self.context = context
        self.client = client
        self.clientChoseRunID = clientChoseRunID
        self.stream = stream
    }

    /// This request as the journal shows it: its query and context redacted by `redactor`.
    public func redacted(by redactor: Redactor) -> RunRequest {
        var copy = self
        copy.query = redactor.redact(query)
        copy.context = redactor.redact(context)
        return copy
    }

    /// The digest idempotency compares for a run journaled under `policy`: since `default-v3`
    /// over the request as journaled (redacted with that policy: a guess at a redacted value
    /// changes nothing, so the answer to a re-post reveals nothing about it); for runs of
    /// earlier policies (and `off`) over the request as sent, as they were digested.
    public func digest(key: RequestDigestKey, policy: String) -> String {
        let journaled = policy == Redactor.currentPolicy ? redacted(by: Redactor(enabled: true)) : self
        return journaled.digest(key: key)
    }

    /// HMAC-SHA-256 (hex) with `key` of the canonical `{"context":…,"query":…}` of this request
    /// as it stands (callers pass the redacted request, see ``digest(key:policy:)``): equal for
    /// equal requests under one key, and not a function of the request alone.
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
