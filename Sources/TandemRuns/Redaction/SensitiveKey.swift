/// An object key that says its value is a secret or a personal number (policy `default-v2`):
/// the key, lowercased with `-`, `_`, `.` and spaces removed, ends in one of the words below
/// (`password`, `db.passwd`, `Set-Cookie`, `access_token`, `X-API-Key`, `user_ssn`,
/// `creditCardNumber`, `auth`). Keys that merely contain such a word do not count
/// (`max_tokens`, `tokenizer`, `classname`).
struct SensitiveKey {
    /// What the value is replaced with.
    let placeholder: String

    private static let credentials = [
        "password", "passwd", "passphrase", "secret", "secretkey", "token", "apikey", "accesskey", "privatekey",
        "authorization", "auth", "cookie", "cookies", "session", "sessionid", "credentials",
    ]
    private static let cards = ["creditcard", "creditcardnumber", "cardnumber", "cvv", "cvc"]
    private static let ssn = ["ssn", "socialsecuritynumber"]

    /// `nil` when `key` is not sensitive.
    init?(_ key: String) {
        let folded = String(key.lowercased().unicodeScalars.filter { !"-_. ".unicodeScalars.contains($0) })
        if Self.ssn.contains(where: folded.hasSuffix) {
            placeholder = "[REDACTED_SSN]"
        } else if Self.cards.contains(where: folded.hasSuffix) {
            placeholder = "[REDACTED_CARD]"
        } else if Self.credentials.contains(where: folded.hasSuffix) {
            placeholder = "[REDACTED_KEY]"
        } else {
            return nil
        }
    }

    /// The same words as a regular expression for keys written in text (separators optional),
    /// matched at the end of the key.
    static let textPattern = "(?:pass(?:wd|word|phrase)|secret(?:[-_. ]?key)?|token|api[-_. ]?key|access[-_. ]?key|private[-_. ]?key"
        + "|authorization|auth|cookies?|session(?:[-_. ]?id)?|credentials|ssn|social[-_. ]?security[-_. ]?number"
        + "|credit[-_. ]?card(?:[-_. ]?number)?|card[-_. ]?number|cvv|cvc)"

    /// Lowercase words one of which a text must hold (in any case) for ``textPattern`` to match.
    static let triggerWords = ["pass", "secret", "token", "key", "auth", "cookie", "session", "credentials", "ssn", "social", "card", "cvv", "cvc"]
}
