import TandemDomain
import TandemRuns
import Testing

/// Policy `default-v3` (SPEC §11 "Redaction coverage", issue 19 item 9): every string the review
/// found in the journal verbatim under `default-v2` is redacted now.
@Suite("Redaction coverage of policy default-v3")
struct RedactionCoverageTests {
    let redactor = Redactor(enabled: true)

    @Test("The policy recorded in run_started is default-v3; off stays off and changes nothing")
    func policyVersion() {
        #expect(redactor.policy == "default-v3")
        #expect(Redactor(enabled: false).policy == "off")
        #expect(Redactor(enabled: false).redact("DB_PASSWORD=hunter22 bob@example.com") == "DB_PASSWORD=hunter22 bob@example.com")
    }

    /// Each row: text, the secret that reached the journal under default-v2, the expected text.
    @Test("Item 9 strings in text no longer reach the journal verbatim", arguments: [
        ("DB_PASSWORD=s3cr3t-Pa55", "s3cr3t-Pa55", "DB_PASSWORD=[REDACTED_KEY]"),
        ("export PGPASSWORD=pgpw99 && psql", "pgpw99", "export PGPASSWORD=[REDACTED_KEY] && psql"),
        ("AWS_SECRET_ACCESS_KEY=wJalrXUtnFEMI/K7MDENG/bPxRfiCY", "wJalrXUtnFEMI", "AWS_SECRET_ACCESS_KEY=[REDACTED_KEY]"),
        ("db:\n  db_password: correct horse battery\n  host: x", "correct horse battery", "db:\n  db_password: [REDACTED_KEY]\n  host: x"),
        ("smtp_token: tk-123", "tk-123", "smtp_token: [REDACTED_KEY]"),
        ("connect to postgres://admin:pw@10.0.0.5/app now", "admin:pw@", "connect to postgres://admin:[REDACTED_KEY]@10.0.0.5/app now"),
        ("cache at redis://:pw@cache:6379", ":pw@", "cache at redis://:[REDACTED_KEY]@cache:6379"),
        ("Authorization: Basic dXNlcjpwYXNz", "dXNlcjpwYXNz", "Authorization: [REDACTED_KEY]"),
        ("send Authorization: Bearer abcdefgh12 please", "abcdefgh12", "send Authorization: [REDACTED_KEY]"),
        ("Cookie: session=abc123; theme=dark", "abc123", "Cookie: [REDACTED_KEY]"),
        ("pay with 4111 1111 1111 1111 today", "4111 1111 1111 1111", "pay with [REDACTED_CARD] today"),
        ("card 4111-1111-1111-1111.", "4111-1111-1111-1111", "card [REDACTED_CARD]."),
        ("Set-Cookie: id=a3fWa; Expires=Wed; Secure", "a3fWa", "Set-Cookie: [REDACTED_KEY]"),
        ("password: SEC12", "SEC12", "password: [REDACTED_KEY]"),
        ("try passwd=x1 and pwd=y2 now", "x1", "try passwd=[REDACTED_KEY] and pwd=[REDACTED_KEY] now"),
        ("pwd=y2", "y2", "pwd=[REDACTED_KEY]"),
        (#"config {"api_key_2": "abc"}"#, "abc", #"config {"api_key_2": "[REDACTED_KEY]"}"#),
        ("db_password = 'two words' ok", "two words", "db_password = '[REDACTED_KEY]' ok"),
        ("GET /x?token=abc123&page=2", "abc123", "GET /x?token=[REDACTED_KEY]&page=2"),
    ])
    func textRows(text: String, secret: String, expected: String) {
        let redacted = redactor.redact(text)
        #expect(redacted == expected)
        #expect(!redacted.contains(secret))
    }

    @Test("Ordinary text stays as it is", arguments: [
        "author: Jane Doe", "max_tokens=100", "shipping: 3 days", "http://host:8080/path?page=2", "On 2026-11-28 at 08:05 we sold 1500 units",
        "Step 1: go through the keys, high and low; tokens are fine", "order 1234 5678 9012 3456 (not Luhn)", "mail bob@example.com.",
    ])
    func ordinaryText(text: String) {
        let expected = text == "mail bob@example.com." ? "mail [REDACTED_EMAIL]." : text
        #expect(redactor.redact(text) == expected)
    }

    /// The scanner copies a byte inside a word without asking the rules once the e-mail rule has
    /// read that word's local part to its end without an `@` (``ScanMemo``); these are the cases
    /// around that shortcut, whole and fed a byte at a time.
    @Test("Inside words: e-mails are still found, and nothing else starts mid-word", arguments: [
        ("say hi to mr.smith@example.com now", "say hi to [REDACTED_EMAIL] now"),
        ("hello_world.txt and first-last are words", "hello_world.txt and first-last are words"),
        ("mysk-abcdefghijklmnopqrstu and xBearer abc", "mysk-abcdefghijklmnopqrstu and xBearer abc"),
        ("words then sk-abcdefghijklmnopqrstu", "words then [REDACTED_KEY]"),
        ("lorem ipsum dolor, bob+tag@mail.example.org.", "lorem ipsum dolor, [REDACTED_EMAIL]."),
        // A local part longer than 64: the e-mail starts at its last 64 bytes.
        (String(repeating: "a", count: 70) + "@example.com", "aaaaaa[REDACTED_EMAIL]"),
        ("longword" + String(repeating: "b", count: 80) + " then carol@example.com", "longword" + String(repeating: "b", count: 80) + " then [REDACTED_EMAIL]"),
    ])
    func insideWords(text: String, expected: String) {
        #expect(redactor.redact(text) == expected)
        var stream = StreamingRedactor(redactor)
        var bytewise = ""
        for character in text { bytewise += stream.append(String(character)) }
        bytewise += stream.finish()
        #expect(bytewise == expected)
    }

    @Test("Context keys: folded, normalised, split into words; sensitive when a word or two adjacent words are listed", arguments: [
        ("api_key_2", true), ("bearer", true), ("jwt", true), ("passwords", true), ("private_key_pem", true), ("pwd", true),
        ("secrets", true), ("pin_code", true), ("pinCode", true), ("pass\u{200B}word", true), ("ｐａｓｓｗｏｒｄ", true),
        ("db_secret", true), ("PGPASSWORD", true), ("accessToken", true), ("X-API-Key", true), ("Set-Cookie", true),
        ("session", true), ("credentials", true), ("passphrase", true), ("authorization", true), ("ToKeN", true),
        ("shipping", false), ("author", false), ("max_tokens", false), ("tokenizer", false), ("classname", false),
        ("spinner", false), ("keyboard", false), ("user", false),
    ])
    func contextKeys(key: String, sensitive: Bool) {
        let redacted = redactor.redact(.object([key: .string("value-1")]))
        #expect((redacted == .object([key: .string("[REDACTED_KEY]")])) == sensitive, "\(key)")
    }

    @Test("Numbers and arrays under sensitive keys are redacted whole")
    func numbersAndArrays() {
        let context: JSONValue = .object([
            "pin": .int(1234), "pin_code": .double(12.5), "passwords": .array([.string("a"), .string("b")]),
            "tokens": .object(["x": .string("y")]), "ssn": .int(78_051_120), "card_number": .int(4_111_111_111_111_111),
        ])
        #expect(redactor.redact(context) == .object([
            "pin": .string("[REDACTED_KEY]"), "pin_code": .string("[REDACTED_KEY]"), "passwords": .string("[REDACTED_KEY]"),
            "tokens": .string("[REDACTED_KEY]"), "ssn": .string("[REDACTED_SSN]"), "card_number": .string("[REDACTED_CARD]"),
        ]))
    }

    @Test("Object keys that are e-mails, phone numbers, SSNs or keys are redacted; their values are redacted as values")
    func personalDataAsKeys() {
        let context: JSONValue = .object([
            "alice@example.com": .string("vip"),
            "bob@example.com": .string("write to bob@example.com"),
            "078-05-1120": .int(1),
            "+1 415 555 0132": .bool(true),
            "sk-abcdefghijklmnop1234": .string("key"),
            "[REDACTED_EMAIL]": .string("literal"),
            "plain": .string("kept"),
        ])
        let redacted = redactor.redact(context)
        #expect(redacted == .object([
            "[REDACTED_EMAIL]": .string("literal"),
            "[REDACTED_EMAIL] #2": .string("vip"),
            "[REDACTED_EMAIL] #3": .string("write to [REDACTED_EMAIL]"),
            "[REDACTED_SSN]": .int(1),
            "[REDACTED_PHONE]": .bool(true),
            "[REDACTED_KEY]": .string("key"),
            "plain": .string("kept"),
        ]))
    }
}
