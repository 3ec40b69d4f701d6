import Foundation

/// A name that says its value is a secret or a personal number (policy `default-v3`): a context
/// key, a JSON-quoted key in text, or the name of an env/YAML/INI assignment in text.
///
/// The name is normalised (NFKC, zero-width characters removed), split into words (at
/// `_ - . space` and any other character that is neither a letter nor a digit, at digits, and at
/// camelCase humps: `APIKey` → `api key`), lowercased, and a trailing plural `s` is ignored. It is
/// sensitive when one word, or two adjacent words, are in the lists below — so `pinCode`,
/// `api_key_2`, `db_secret`, `passwords`, `pass\u{200B}word` and fullwidth `ｐａｓｓｗｏｒｄ` are,
/// and `shipping`, `author`, `tokenizer` are not. Words that only *contain* a password word
/// (`pgpassword`, `mypwd`) or *end in* a compound credential word (`accesstoken`, `clientsecret`)
/// count too, for names written without separators. One exception keeps model settings visible:
/// `token` right after a count word (`max_tokens`, `input_tokens`) is no secret.
struct SensitiveKey {
    /// What the value is replaced with.
    let placeholder: String

    /// A word of a name: lowercase UTF-8.
    typealias Word = [UInt8]

    /// Single words (after the plural `s` is dropped) naming a credential.
    static let credentialWords = words(
        "password", "passwd", "pwd", "passphrase", "pin", "secret", "token", "authorization", "auth", "oauth", "bearer", "cookie",
        "session", "sessionid", "jwt", "credential", "apikey", "accesskey", "privatekey", "secretkey"
    )
    /// Two adjacent words naming a credential.
    static let credentialPairs = [words("api", "key"), words("access", "key"), words("private", "key"), words("secret", "key")]
    /// Parts that make a whole word a credential wherever they occur in it (`pgpassword`).
    static let credentialInfixes = words("password", "passwd", "passphrase", "pwd")
    /// Endings that make a whole word a credential (`accesstoken`, `clientsecret`, `setcookie`).
    static let credentialSuffixes = words(
        "token", "secret", "credential", "apikey", "accesskey", "privatekey", "secretkey", "sessionid", "cookie"
    )
    /// Words before `token` that make it a count, not a credential (`max_tokens`).
    static let countWords = words("max", "min", "num", "input", "output", "prompt", "completion", "total", "context")
    private static let token = Array("token".utf8)

    static let ssnWords = words("ssn", "socialsecuritynumber")
    static let ssnPairs = [words("social", "security")]
    static let cardWords = words("creditcard", "cardnumber", "cvv", "cvc")
    static let cardPairs = [words("credit", "card"), words("card", "number")]

    private static func words(_ list: String...) -> [Word] {
        list.map { Array($0.utf8) }
    }

    /// `nil` when `name` is not sensitive.
    init?(_ name: String) {
        // Split at camelCase humps and, for names in odd mixed case (`ToKeN`), only at separators.
        let humps = Self.words(of: name, atHumps: true)
        let isASCII = name.utf8.allSatisfy { $0 < 0x80 }
        let mixedCase = !isASCII
            || (name.utf8.contains { (UInt8(ascii: "A")...UInt8(ascii: "Z")).contains($0) }
                && name.utf8.contains { (UInt8(ascii: "a")...UInt8(ascii: "z")).contains($0) })
        let splits = (mixedCase ? [humps, Self.words(of: name, atHumps: false)] : [humps]).map { words in
            words.map { (word: $0, singular: Self.singular($0)) }
        }
        if splits.contains(where: { Self.matches($0, singles: Self.ssnWords, pairs: Self.ssnPairs) }) {
            placeholder = "[REDACTED_SSN]"
        } else if splits.contains(where: { Self.matches($0, singles: Self.cardWords, pairs: Self.cardPairs) }) {
            placeholder = "[REDACTED_CARD]"
        } else if splits.contains(where: Self.isCredential) {
            placeholder = "[REDACTED_KEY]"
        } else {
            return nil
        }
    }

    /// Fragments one of which every sensitive name holds (in any ASCII case): a name in text
    /// without any is passed over at once, without splitting it into words.
    private static let fragments: [[UInt8]] = [
        "pass", "pwd", "pin", "secret", "token", "auth", "bearer", "cookie", "session", "jwt", "credential", "key", "ssn",
        "social", "card", "cvv", "cvc",
    ].map { Array($0.utf8) }

    /// Whether the ASCII name `bytes` may be sensitive (`false`: it certainly is not).
    static func mayBeSensitive(_ bytes: UnsafeBufferPointer<UInt8>) -> Bool {
        fragments.contains { fragment in
            guard bytes.count >= fragment.count else { return false }
            for start in 0...(bytes.count - fragment.count) {
                var offset = 0
                // Setting bit 5 lowercases an ASCII letter and maps no other name byte onto one.
                while offset < fragment.count, bytes[start + offset] | 0x20 == fragment[offset] { offset += 1 }
                if offset == fragment.count { return true }
            }
            return false
        }
    }

    /// `word` without its plural `s` (words of four letters or more: `pins`, `ssns`).
    private static func singular(_ word: Word) -> Word {
        word.count > 3 && word.last == UInt8(ascii: "s") ? Array(word.dropLast()) : word
    }

    /// A word and its singular (the same word when it has no plural `s`).
    private typealias Form = (word: Word, singular: Word)

    private static func matches(_ words: [Form], singles: [Word], pairs: [[Word]]) -> Bool {
        for (index, form) in words.enumerated() {
            if singles.contains(form.word) || singles.contains(form.singular) { return true }
            if index + 1 < words.count {
                let next = words[index + 1]
                if pairs.contains([form.word, next.word]) || pairs.contains([form.word, next.singular]) { return true }
            }
        }
        return false
    }

    private static func isCredential(_ words: [Form]) -> Bool {
        for (index, form) in words.enumerated() {
            let (word, singular) = form
            if singular == token, index > 0, countWords.contains(words[index - 1].word) { continue }
            if credentialWords.contains(word) || credentialWords.contains(singular) { return true }
            if credentialInfixes.contains(where: { word.firstRange(of: $0) != nil }) { return true }
            if credentialSuffixes.contains(where: { singular.count >= $0.count && singular.suffix($0.count).elementsEqual($0) }) { return true }
            if index + 1 < words.count, credentialPairs.contains([word, words[index + 1].singular]) { return true }
        }
        return false
    }

    /// Characters that render as nothing and would hide a word from the lists (`pass\u{200B}word`).
    private static func isInvisible(_ scalar: Unicode.Scalar) -> Bool {
        switch scalar.value {
        case 0x00AD, 0x180E, 0x200B...0x200F, 0x202A...0x202E, 0x2060...0x2064, 0xFEFF: true
        default: false
        }
    }

    /// The lowercased words of `name`, after NFKC and with invisible characters removed; split
    /// at camelCase humps too when `atHumps`.
    static func words(of name: String, atHumps: Bool) -> [Word] {
        var words: [Word] = []
        var current: Word = []
        func close() {
            if !current.isEmpty { words.append(current) }
            current = []
        }
        if name.utf8.allSatisfy({ $0 < 0x80 }) {
            // ASCII is its own NFKC form and holds no invisible characters: split the bytes.
            let bytes = Array(name.utf8)
            for (index, byte) in bytes.enumerated() {
                let lower = byte | 0x20
                guard lower >= UInt8(ascii: "a"), lower <= UInt8(ascii: "z") else {
                    close()
                    continue
                }
                if atHumps, byte < UInt8(ascii: "a"), index > 0 {
                    let previous = bytes[index - 1]
                    let previousIsLower = previous >= UInt8(ascii: "a") && previous <= UInt8(ascii: "z")
                    let previousIsUpper = previous >= UInt8(ascii: "A") && previous <= UInt8(ascii: "Z")
                    let nextIsLower = index + 1 < bytes.count && bytes[index + 1] >= UInt8(ascii: "a") && bytes[index + 1] <= UInt8(ascii: "z")
                    // `dbPassword` → db|Password; `APIKey` → API|Key.
                    if previousIsLower || (previousIsUpper && nextIsLower) { close() }
                }
                current.append(lower)
            }
            close()
            return words
        }
        var scalars = name.precomposedStringWithCompatibilityMapping.unicodeScalars.filter { !isInvisible($0) }[...]
        var previous: Unicode.Scalar?
        while let scalar = scalars.popFirst() {
            let properties = scalar.properties
            guard properties.isAlphabetic else {
                // Digits and every other non-letter separate words.
                close()
                previous = nil
                continue
            }
            if atHumps, let previous, properties.isUppercase {
                let nextIsLower = scalars.first?.properties.isLowercase ?? false
                if previous.properties.isLowercase || (previous.properties.isUppercase && nextIsLower) { close() }
            }
            current += Array(String(scalar).lowercased().utf8)
            previous = scalar
        }
        close()
        return words
    }
}
