public import TandemDomain

/// Replaces secrets and personal data with placeholders before anything is journaled.
///
/// Policy `default-v3` (current): the text rules of ``RedactionRules`` — JSON-quoted pairs and
/// env/YAML/INI assignments whose name is sensitive (``SensitiveKey``), URL credentials,
/// `Bearer` tokens and provider key shapes → `[REDACTED_KEY]`; e-mail addresses →
/// `[REDACTED_EMAIL]`; US social security numbers → `[REDACTED_SSN]`; Luhn-valid card numbers →
/// `[REDACTED_CARD]`; phone numbers → `[REDACTED_PHONE]` — applied by one forward-only scanner
/// in time linear in the text (``StreamingRedactor`` is the same scanner fed in pieces). In a JSON
/// value, every value under a sensitive key is replaced whole, at any depth and whatever its type,
/// and an object key that is itself an e-mail, a phone number, an SSN or a key shape is redacted.
/// Runs journaled under `default-v1`/`default-v2` keep their policy name in `run_started`: a
/// policy applies to the runs it recorded.
public struct Redactor: Sendable {
    /// The policy name recorded in `run_started` (`off` when disabled).
    public let policy: String

    /// The name of the policy this version applies.
    public static let currentPolicy = "default-v3"

    /// A redactor applying policy ``currentPolicy``, or nothing when `enabled` is false.
    public init(enabled: Bool) {
        policy = enabled ? Self.currentPolicy : "off"
    }

    /// Whether this redactor changes anything (its policy is not `off`).
    public var isEnabled: Bool { policy != "off" }

    /// `text` with every match of the policy replaced: exactly a ``StreamingRedactor`` fed the
    /// whole text, then finished.
    public func redact(_ text: String) -> String {
        guard isEnabled, !text.isEmpty else { return text }
        var stream = StreamingRedactor(self)
        let head = stream.append(text)
        return head + stream.finish()
    }

    /// `value` with every string in it redacted, every value under a sensitive key (at any
    /// depth) replaced whole, and keys that are themselves personal data or keys redacted.
    public func redact(_ value: JSONValue?) -> JSONValue? {
        guard let value, isEnabled else { return value }
        return redactMembers(value)
    }

    private func redactMembers(_ value: JSONValue) -> JSONValue {
        switch value {
        case .string(let text):
            return .string(redact(text))
        case .array(let values):
            return .array(values.map(redactMembers))
        case .object(let members):
            return .object(redactObject(members))
        case .null, .bool, .int, .double:
            return value
        }
    }

    /// The members with their values redacted and their keys too when a key is itself an
    /// e-mail, phone number, SSN or key. Keys left as they are come first; a redacted key that
    /// meets another key gets a ` #2`, ` #3`, … (in the order of the original keys).
    private func redactObject(_ members: [String: JSONValue]) -> [String: JSONValue] {
        var result: [String: JSONValue] = [:]
        result.reserveCapacity(members.count)
        var renamed: [(key: String, name: String, value: JSONValue)] = []
        for (key, member) in members {
            let value = SensitiveKey(key).map { JSONValue.string($0.placeholder) } ?? redactMembers(member)
            let name = redact(key)
            if name == key {
                result[key] = value
            } else {
                renamed.append((key, name, value))
            }
        }
        for (_, redacted, value) in renamed.sorted(by: { $0.key < $1.key }) {
            var name = redacted
            var suffix = 1
            while result[name] != nil {
                suffix += 1
                name = "\(redacted) #\(suffix)"
            }
            result[name] = value
        }
        return result
    }
}
