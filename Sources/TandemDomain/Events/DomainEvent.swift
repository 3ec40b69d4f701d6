public import TandemJournal

/// Every step of a run, as journaled. One case per event type of the contract (SPEC §3); the
/// per-model events carry the ``ModelRole`` that names their type prefix (`flash_…`, `pro_…`).
public enum DomainEvent: Sendable, Equatable {
    case runStarted(RunStarted)
    case modelStarted(ModelRole, ModelStarted)
    case firstToken(ModelRole, FirstToken)
    case modelCompleted(ModelRole, ModelCompleted)
    /// A piece of a model's answer as streamed to the client (deltas runs only, SPEC §10).
    case modelDelta(ModelRole, ModelDelta)
    case modelRetry(ModelRole, ModelRetry)
    case modelTimeout(ModelRole, ModelTimeout)
    case modelFailed(ModelRole, ModelFailed)
    case modelCancelled(ModelRole, ModelCancelled)
    case clientDisconnected(ClientDisconnected)
    case runAborted(RunAborted)
    case done(RunDone)

    /// The journal `type` of the event.
    public var type: String {
        switch self {
        case .runStarted: RunEventKind.runStarted.rawValue
        case .modelStarted(let role, _): "\(role.rawValue)_started"
        case .firstToken(let role, _): "\(role.rawValue)_first_token"
        case .modelCompleted(let role, _): "\(role.rawValue)_completed"
        case .modelDelta(let role, _): "\(role.rawValue)_delta"
        case .modelRetry(let role, _): "\(role.rawValue)_retry"
        case .modelTimeout(let role, _): "\(role.rawValue)_timeout"
        case .modelFailed(let role, _): "\(role.rawValue)_failed"
        case .modelCancelled(let role, _): "\(role.rawValue)_cancelled"
        case .clientDisconnected: RunEventKind.clientDisconnected.rawValue
        case .runAborted: RunEventKind.runAborted.rawValue
        case .done: RunEventKind.done.rawValue
        }
    }

    /// Every journal `type` a domain event can have.
    public static let allTypes: [String] = {
        var types = RunEventKind.allCases.map(\.rawValue)
        for role in ModelRole.allCases {
            for suffix in ModelEventKind.allCases {
                types.append("\(role.rawValue)_\(suffix.rawValue)")
            }
        }
        return types
    }()

    /// The model the event concerns, for per-model events.
    public var role: ModelRole? {
        switch self {
        case .modelStarted(let role, _), .firstToken(let role, _), .modelCompleted(let role, _), .modelDelta(let role, _),
            .modelRetry(let role, _), .modelTimeout(let role, _), .modelFailed(let role, _),
            .modelCancelled(let role, _):
            role
        case .runStarted, .clientDisconnected, .runAborted, .done:
            nil
        }
    }

    /// Whether the event closes its run (`done`, or `run_aborted` by recovery): nothing of the run follows it.
    public var endsRun: Bool {
        switch self {
        case .done, .runAborted: true
        case .runStarted, .clientDisconnected, .modelStarted, .firstToken, .modelCompleted, .modelDelta, .modelRetry,
            .modelTimeout, .modelFailed, .modelCancelled:
            false
        }
    }

    /// The event as an entry ready to append for `run`.
    /// - Throws: ``DomainEventError`` when the payload cannot be encoded.
    public func pendingEntry(for run: RunID) throws -> PendingEntry {
        let lifecycle: PendingEntry.Lifecycle
        if case .runStarted = self {
            lifecycle = .opensRun
        } else {
            lifecycle = endsRun ? .closesRun : .none
        }
        do {
            return try PendingEntry(runID: run, type: type, data: try encodedData(), lifecycle: lifecycle)
        } catch let error as JournalError {
            throw error
        } catch {
            throw DomainEventError.unencodable(type: type, reason: "\(error)")
        }
    }

    /// Decodes the event a journal line holds.
    /// - Throws: ``DomainEventError`` for an unknown type or a payload that does not match it.
    public init(type: String, data: some Collection<UInt8>) throws {
        func decode<T: Decodable>(_ payload: T.Type) throws -> T {
            do {
                return try CanonicalJSON.decode(payload, from: data)
            } catch {
                throw DomainEventError.malformedPayload(type: type, reason: "\(error)")
            }
        }
        switch RunEventKind(rawValue: type) {
        case .runStarted: self = .runStarted(try decode(RunStarted.self))
        case .clientDisconnected: self = .clientDisconnected(try decode(ClientDisconnected.self))
        case .runAborted: self = .runAborted(try decode(RunAborted.self))
        case .done: self = .done(try decode(RunDone.self))
        case nil:
            guard let separator = type.firstIndex(of: "_"),
                let role = ModelRole(rawValue: String(type[..<separator])),
                let kind = ModelEventKind(rawValue: String(type[type.index(after: separator)...]))
            else {
                throw DomainEventError.unknownType(type)
            }
            switch kind {
            case .started: self = .modelStarted(role, try decode(ModelStarted.self))
            case .firstToken: self = .firstToken(role, try decode(FirstToken.self))
            case .completed: self = .modelCompleted(role, try decode(ModelCompleted.self))
            case .delta: self = .modelDelta(role, try decode(ModelDelta.self))
            case .retry: self = .modelRetry(role, try decode(ModelRetry.self))
            case .timeout: self = .modelTimeout(role, try decode(ModelTimeout.self))
            case .failed: self = .modelFailed(role, try decode(ModelFailed.self))
            case .cancelled: self = .modelCancelled(role, try decode(ModelCancelled.self))
            }
        }
    }

    /// Decodes the event of a journal entry.
    public init(_ entry: JournalEntry) throws {
        try self.init(type: entry.type, data: entry.data)
    }
}

/// The run-level event kinds: their journal `type`s.
public enum RunEventKind: String, CaseIterable, Sendable {
    case runStarted = "run_started"
    case clientDisconnected = "client_disconnected"
    case runAborted = "run_aborted"
    case done
}

/// The per-model event kinds: the part of the type after `flash_` / `pro_`.
package enum ModelEventKind: String, CaseIterable, Sendable {
    case started
    case firstToken = "first_token"
    case completed
    case delta
    case retry
    case timeout
    case failed
    case cancelled
}

/// Why a domain event could not be encoded or decoded.
public enum DomainEventError: Error, Sendable, Equatable, CustomStringConvertible {
    /// The journal holds an event type this tandem does not know (written by a newer version?).
    case unknownType(String)
    /// The payload does not match its type's schema.
    case malformedPayload(type: String, reason: String)
    /// The payload holds a value JSON cannot represent.
    case unencodable(type: String, reason: String)

    public var description: String {
        switch self {
        case .unknownType(let type):
            "unknown event type '\(type)': this journal was written by a newer or foreign tandem"
        case .malformedPayload(let type, let reason):
            "malformed '\(type)' payload: \(reason)"
        case .unencodable(let type, let reason):
            "cannot encode '\(type)' payload: \(reason)"
        }
    }
}
