import TandemDomain
import TandemRuns
import Testing

/// Since policy `default-v2` (kept by `default-v3`): values under keys that name a secret or personal number are redacted
/// whatever they look like, at any depth of `context`, and so are JSON-quoted pairs in text.
/// (`default-v1` looked at each string alone: `{"password": "hunter2!!"}` was journaled in clear,
/// and so was `"api_key": "sk-…"` inside a query, the quote defeating its `key=value` rule.)
@Suite("Redaction of values under sensitive keys")
struct SensitiveKeyRedactionTests {
    let redactor = Redactor(enabled: true)

    @Test("Values under sensitive keys are replaced at any depth, whatever their type; other keys are left alone")
    func contextKeys() {
        let context: JSONValue = .object([
            "password": .string("hunter2!!"),
            "api_key": .string("abc"),
            "Authorization": .string("Basic dXNlcjpwYXNz"),
            "x-api-key": .int(12345),
            "nested": .object([
                "deeper": .array([
                    .object(["Set-Cookie": .string("id=1")]),
                    .object(["client_secret": .object(["value": .string("s")]), "keep": .string("visible")]),
                ]),
            ]),
            "SESSION_ID": .string("s-1"),
            "user_ssn": .string("078051120"),
            "creditCard": .string("4111 1111 1111 1111"),
            "card-number": .string("4111111111111111"),
            "db.passwd": .bool(true),
            "accessToken": .null,
            "max_tokens": .int(100),
            "user": .string("u1"),
            "classname": .string("keep me"),
        ])
        let key = JSONValue.string("[REDACTED_KEY]")
        #expect(redactor.redact(context) == .object([
            "password": key,
            "api_key": key,
            "Authorization": key,
            "x-api-key": key,
            "nested": .object([
                "deeper": .array([
                    .object(["Set-Cookie": key]),
                    .object(["client_secret": key, "keep": .string("visible")]),
                ]),
            ]),
            "SESSION_ID": key,
            "user_ssn": .string("[REDACTED_SSN]"),
            "creditCard": .string("[REDACTED_CARD]"),
            "card-number": .string("[REDACTED_CARD]"),
            "db.passwd": key,
            "accessToken": key,
            "max_tokens": .int(100),
            "user": .string("u1"),
            "classname": .string("keep me"),
        ]))
    }

    @Test("JSON-quoted key/value pairs in text are redacted", arguments: [
        (#"use {"api_key": "sk-live-1"} please"#, #"use {"api_key": "[REDACTED_KEY]"} please"#),
        (#"{'password':'hunter2'}"#, #"{'password': '[REDACTED_KEY]'}"#),
        (#""Access-Token" : "abc def", "n": 1"#, #""Access-Token": "[REDACTED_KEY]", "n": 1"#),
        (#"{"secret": "a\"b", "x": 2}"#, #"{"secret": "[REDACTED_KEY]", "x": 2}"#),
        (#"{"PIN_password": 12345678}"#, #"{"PIN_password": "[REDACTED_KEY]"}"#),
        (#"{"max_tokens": 100, "user": "u1"}"#, #"{"max_tokens": 100, "user": "u1"}"#),
    ])
    func quotedPairs(text: String, expected: String) {
        #expect(redactor.redact(text) == expected)
    }
}
