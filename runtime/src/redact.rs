//! One redaction for everything gojira hands a model or records: tool
//! results and errors, the journal (append-only: a secret written there can
//! never be removed) and the org-admin audit log.
//!
//! Three rules, applied together:
//! - **Known secrets.** The credentials a call uses (the configured API
//!   token and its Basic form, a bearer, the org key, a user's Atlassian
//!   token or bound API token) are replaced wherever they appear, inside any
//!   string ([`Known`]).
//! - **Credential patterns.** `Bearer <token>`, `Basic <base64>`,
//!   `Authorization: <anything>` and `token=<value>`-like assignments inside
//!   any string ([`text`]).
//! - **Secret-named fields** (records only, and upstream error bodies): the
//!   value of any field whose name contains token, password, secret, apikey,
//!   authorization, credential, cookie, privatekey ... is replaced at any
//!   depth, arrays included; so is the value of a `[name, value]` pair and of
//!   a `{"name"|"key": name, "value": ...}` entry with such a name
//!   ([`is_secret_key`], [`fields`]).
//!
//! Answers a model reads get the first two rules only: a field named
//! `token` in Atlassian's data is data, not gojira's credential.

use std::borrow::Cow;
use std::fmt;

use base64::Engine as _;
use serde_json::{Map, Value};

use crate::error::ToolError;

/// What a redacted value becomes.
pub const MARKER: &str = "[redacted]";

/// Substrings of a (lower-cased, `_`/`-`/`.`-free) field name that mark its value secret.
const SECRET_WORDS: [&str; 11] = [
    "token",
    "password",
    "passwd",
    "passphrase",
    "secret",
    "apikey",
    "accesskey",
    "authorization",
    "credential",
    "cookie",
    "privatekey",
];

/// Known secrets shorter than this are not searched for (they would match
/// ordinary text); real tokens are far longer.
const MIN_SECRET_LEN: usize = 6;

/// A credential must be at least this long to be recognized by pattern.
const MIN_CREDENTIAL_LEN: usize = 8;

/// Whether a field (or header, or query parameter) named `name` holds a secret.
pub fn is_secret_key(name: &str) -> bool {
    let mut buf = [0u8; 64];
    let mut len = 0;
    for b in name.bytes() {
        if matches!(b, b'_' | b'-' | b'.' | b' ') {
            continue;
        }
        if len == buf.len() {
            // A very long name: check it the slow way.
            let normalized: String = name
                .chars()
                .filter(|c| !matches!(c, '_' | '-' | '.' | ' '))
                .flat_map(char::to_lowercase)
                .collect();
            return SECRET_WORDS.iter().any(|w| normalized.contains(w));
        }
        if let Some(slot) = buf.get_mut(len) {
            *slot = b.to_ascii_lowercase();
        }
        len += 1;
    }
    let normalized = buf.get(..len).unwrap_or_default();
    SECRET_WORDS.iter().any(|w| {
        normalized
            .windows(w.len())
            .any(|window| window == w.as_bytes())
    })
}

/// The secret strings one call knows: replaced wherever they appear.
#[derive(Clone, Default)]
pub struct Known {
    /// Longest first, so a secret containing another is replaced whole.
    secrets: Vec<String>,
}

impl fmt::Debug for Known {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Known(<{} secrets>)", self.secrets.len())
    }
}

impl Known {
    /// No known secret.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds a secret (ignored when too short to search for safely).
    pub fn add(&mut self, secret: &str) {
        let secret = secret.trim();
        if secret.len() < MIN_SECRET_LEN || self.secrets.iter().any(|s| s == secret) {
            return;
        }
        self.secrets.push(secret.to_owned());
        self.secrets.sort_by_key(|s| std::cmp::Reverse(s.len()));
    }

    /// Adds a Basic credential: the password, `user:password`, and its base64 forms.
    pub fn add_basic(&mut self, user: &str, password: &str) {
        let pair = format!("{user}:{password}");
        self.add(&base64::engine::general_purpose::STANDARD.encode(&pair));
        self.add(&base64::engine::general_purpose::STANDARD_NO_PAD.encode(&pair));
        self.add(&pair);
        self.add(password);
    }

    /// Adds every secret of `other`.
    pub fn extend(&mut self, other: &Known) {
        for secret in &other.secrets {
            self.add(secret);
        }
    }

    /// Whether no secret is known.
    pub fn is_empty(&self) -> bool {
        self.secrets.is_empty()
    }

    fn replace<'a>(&self, s: &'a str) -> Cow<'a, str> {
        let mut out = Cow::Borrowed(s);
        for secret in &self.secrets {
            if out.contains(secret.as_str()) {
                out = Cow::Owned(out.replace(secret.as_str(), MARKER));
            }
        }
        out
    }
}

/// `s` with the known secrets and credential patterns replaced.
pub fn text<'a>(s: &'a str, known: &Known) -> Cow<'a, str> {
    match known.replace(s) {
        Cow::Borrowed(s) => patterns(s).map_or(Cow::Borrowed(s), Cow::Owned),
        Cow::Owned(s) => Cow::Owned(patterns(&s).unwrap_or(s)),
    }
}

/// Replaces, inside every string of `value` (object keys included), the
/// known secrets and credential patterns. For answers a model reads.
pub fn strings(value: &mut Value, known: &Known) {
    match value {
        Value::String(s) => {
            if let Cow::Owned(clean) = text(s, known) {
                *s = clean;
            }
        }
        Value::Array(items) => items.iter_mut().for_each(|v| strings(v, known)),
        Value::Object(map) => {
            map.values_mut().for_each(|v| strings(v, known));
            redact_keys(map, known);
        }
        _ => {}
    }
}

/// [`strings`], plus the values of secret-named fields at any depth. For
/// what gojira records, and for upstream error bodies.
pub fn fields(value: &mut Value, known: &Known) {
    match value {
        Value::Object(map) => fields_of_map(map, known),
        Value::Array(items) => {
            // A `[name, value]` pair (query parameters, header lists).
            if let [Value::String(name), secret] = items.as_mut_slice()
                && is_secret_key(name)
                && !secret.is_null()
            {
                *secret = Value::String(MARKER.into());
            }
            items.iter_mut().for_each(|v| fields(v, known));
        }
        other => strings(other, known),
    }
}

/// [`fields`] over an object's members.
pub fn fields_of_map(map: &mut Map<String, Value>, known: &Known) {
    // A `{"name"|"key": <secret name>, "value": ...}` entry.
    let named_secret = ["name", "key"].iter().any(|k| {
        map.get(*k)
            .and_then(Value::as_str)
            .is_some_and(is_secret_key)
    });
    for (key, value) in map.iter_mut() {
        if (is_secret_key(key) || (named_secret && key == "value")) && !value.is_null() {
            *value = Value::String(MARKER.into());
        } else {
            fields(value, known);
        }
    }
    redact_keys(map, known);
}

/// A member name with the known secrets and credential patterns replaced
/// (names are schema words almost always: the pattern scan runs only on
/// names that could hold one).
fn key_text<'a>(key: &'a str, known: &Known) -> Cow<'a, str> {
    if key.contains([' ', ':', '=']) {
        text(key, known)
    } else {
        known.replace(key)
    }
}

/// Rebuilds `map` (in order) when a member name holds a secret.
fn redact_keys(map: &mut Map<String, Value>, known: &Known) {
    if map
        .keys()
        .any(|k| matches!(key_text(k, known), Cow::Owned(_)))
    {
        *map = std::mem::take(map)
            .into_iter()
            .map(|(k, v)| (key_text(&k, known).into_owned(), v))
            .collect();
    }
}

/// A tool error with the known secrets and credential patterns replaced in
/// its message and structured detail.
pub fn error(error: &mut ToolError, known: &Known) {
    if let Cow::Owned(clean) = text(&error.message, known) {
        error.message = clean;
    }
    if let Some(details) = &mut error.details {
        strings(details, known);
    }
}

/// Whether `value` holds a redacted value anywhere (a value taken from the
/// journal that must not be written back).
pub fn contains_marker(value: &Value) -> bool {
    match value {
        Value::String(s) => s.contains(MARKER),
        Value::Array(items) => items.iter().any(contains_marker),
        Value::Object(map) => map.values().any(contains_marker),
        _ => false,
    }
}

/// A byte of a word: a scheme, a field name.
fn is_word(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'_' || b == b'-'
}

/// A byte of a token (RFC 6750 `b64token`, plus `%` for URL-encoded values).
fn is_token(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~' | b'+' | b'/' | b'=' | b'%')
}

/// The end of the run of bytes from `start` satisfying `class`.
fn run_end(bytes: &[u8], start: usize, class: impl Fn(u8) -> bool) -> usize {
    bytes.get(start..).map_or(start, |rest| {
        start + rest.iter().take_while(|b| class(**b)).count()
    })
}

/// The index after any bytes of `skip` from `start`.
fn skip(bytes: &[u8], start: usize, skip: &[u8]) -> usize {
    run_end(bytes, start, |b| skip.contains(&b))
}

/// Whether a token run looks like a credential rather than a word: long
/// enough and mixing at least two of lower case, upper case, digits and
/// symbols.
fn looks_like_credential(token: &[u8]) -> bool {
    if token.len() < MIN_CREDENTIAL_LEN {
        return false;
    }
    let classes = [
        token.iter().any(u8::is_ascii_lowercase),
        token.iter().any(u8::is_ascii_uppercase),
        token.iter().any(u8::is_ascii_digit),
        token.iter().any(|b| !b.is_ascii_alphanumeric()),
    ];
    classes.iter().filter(|c| **c).count() >= 2
}

/// The byte range of the credential a word at `..end` introduces, if any.
fn credential_after(bytes: &[u8], word: &str, end: usize) -> Option<(usize, usize)> {
    if word.eq_ignore_ascii_case("bearer") || word.eq_ignore_ascii_case("basic") {
        let start = skip(bytes, end, b" \t");
        if start == end {
            return None;
        }
        let stop = run_end(bytes, start, is_token);
        return bytes
            .get(start..stop)
            .filter(|t| looks_like_credential(t))
            .map(|_| (start, stop));
    }
    if !is_secret_key(word) {
        return None;
    }
    // `name: value`, `name=value`, `"name": "value"`.
    let after_name = skip(bytes, end, b"\"' \t");
    if !matches!(bytes.get(after_name), Some(b':' | b'=')) {
        return None;
    }
    let start = skip(bytes, after_name + 1, b"\"' \t");
    let authorization = word
        .as_bytes()
        .windows(13)
        .any(|w| w.eq_ignore_ascii_case(b"authorization"));
    if authorization {
        // Whatever follows is the credential; keep a scheme word, if any.
        let word_end = run_end(bytes, start, is_word);
        let after_space = skip(bytes, word_end, b" \t");
        let scheme = word_end > start
            && after_space > word_end
            && bytes
                .get(start..word_end)
                .is_some_and(|w| w.iter().all(u8::is_ascii_alphabetic));
        let start = if scheme { after_space } else { start };
        if bytes
            .get(start..)
            .is_some_and(|rest| rest.starts_with(MARKER.as_bytes()))
        {
            return None;
        }
        let stop = run_end(bytes, start, |b| {
            !b.is_ascii_whitespace() && !matches!(b, b'"' | b'\'' | b',' | b';' | b'}' | b']')
        });
        let value = bytes.get(start..stop)?;
        return (!value.is_empty()).then_some((start, stop));
    }
    let stop = run_end(bytes, start, is_token);
    bytes
        .get(start..stop)
        .filter(|t| looks_like_credential(t))
        .map(|_| (start, stop))
}

/// `s` with credential patterns replaced, or `None` when it has none.
fn patterns(s: &str) -> Option<String> {
    // Every pattern needs an assignment or a scheme word; std's searches are
    // fast, the scan below is not, and most strings of an answer have neither.
    let maybe = s.contains([':', '='])
        || ["earer", "EARER", "asic", "ASIC"]
            .iter()
            .any(|w| s.contains(w));
    if !maybe {
        return None;
    }
    let bytes = s.as_bytes();
    let mut out = String::new();
    let mut copied = 0;
    let mut i = 0;
    while i < bytes.len() {
        if !bytes.get(i).copied().is_some_and(is_word) {
            i += 1;
            continue;
        }
        let start = i;
        i = run_end(bytes, i, is_word);
        // Words are ASCII, so these are char boundaries.
        let Some(word) = s.get(start..i) else {
            continue;
        };
        if word.len() < 5 {
            continue;
        }
        if let Some((from, to)) = credential_after(bytes, word, i) {
            out.push_str(s.get(copied..from).unwrap_or_default());
            out.push_str(MARKER);
            copied = to;
            i = to;
        }
    }
    if copied == 0 {
        return None;
    }
    out.push_str(s.get(copied..).unwrap_or_default());
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn known() -> Known {
        let mut k = Known::new();
        k.add_basic("e2e@example.com", "e2e-secret-token");
        k.add("org-key-0123");
        k
    }

    #[test]
    fn secret_names_are_recognized_in_any_spelling() {
        for name in [
            "token",
            "apiToken",
            "X-Api-Key",
            "api_key",
            "Authorization",
            "client_secret",
            "PASSWORD",
            "passwd",
            "Set-Cookie",
            "privateKey",
            "private-key",
            "credentials",
            "AWS_ACCESS_KEY_ID",
            "refresh_token",
        ] {
            assert!(is_secret_key(name), "{name}");
        }
        for name in [
            "key",
            "name",
            "author",
            "description",
            "projectKey",
            "id",
            "value",
        ] {
            assert!(!is_secret_key(name), "{name}");
        }
    }

    #[test]
    fn known_secrets_and_their_basic_forms_are_replaced() {
        let k = known();
        let b64 =
            base64::engine::general_purpose::STANDARD.encode("e2e@example.com:e2e-secret-token");
        let s = format!(
            "got {b64} for e2e@example.com:e2e-secret-token; raw e2e-secret-token, org org-key-0123"
        );
        assert_eq!(
            text(&s, &k),
            "got [redacted] for [redacted]; raw [redacted], org [redacted]"
        );
        assert!(matches!(text("nothing to see", &k), Cow::Borrowed(_)));
        let mut short = Known::new();
        short.add("abc");
        assert!(short.is_empty(), "too short to search for");
    }

    #[test]
    fn credential_patterns_are_replaced_inside_any_string() {
        let none = Known::new();
        for (input, expected) in [
            (
                "Authorization: Bearer eyJhbGciOi.J9x-y_z",
                "Authorization: Bearer [redacted]",
            ),
            (
                "header authorization=Basic ZTJlQGV4YW1wbGU6dA== rejected",
                "header authorization=Basic [redacted] rejected",
            ),
            (
                r#"{"Authorization":"opaque-value"}"#,
                r#"{"Authorization":"[redacted]"}"#,
            ),
            ("Authorization: abc", "Authorization: [redacted]"),
            ("use Bearer abcDEF123456 here", "use Bearer [redacted] here"),
            ("basic ZTJlQGV4YW1wbGU6dA==", "basic [redacted]"),
            (
                "?access_token=AbC123xyz789&x=1",
                "?access_token=[redacted]&x=1",
            ),
            ("apiKey: k3y-v4lue-123", "apiKey: [redacted]"),
        ] {
            assert_eq!(text(input, &none), expected, "{input}");
        }
        for untouched in [
            "Basic authentication is disabled for this site",
            "the token: expired",
            "a Bearer <token> header is required",
            "Authorization header missing",
            "Authorization: [redacted]",
            "café Bearer",
        ] {
            assert!(
                matches!(text(untouched, &none), Cow::Borrowed(_)),
                "{untouched}"
            );
        }
    }

    #[test]
    fn fields_redact_secret_names_at_any_depth_and_keep_order() {
        let mut v = json!({
            "name": "n",
            "password": "p",
            "nested": {"apiToken": "t", "list": [{"privateKey": "k", "id": 1}, {"Cookie": "c"}]},
            "query": [["access_token", "q"], ["expand", "all"]],
            "props": [{"key": "api-token", "value": {"v": 1}}, {"key": "color", "value": "red"}],
            "note": "Bearer abcDEF123456",
            "empty": {"secret": null},
            "last": true,
        });
        fields(&mut v, &Known::new());
        assert_eq!(
            serde_json::to_string(&v).unwrap(),
            serde_json::to_string(&json!({
                "name": "n",
                "password": "[redacted]",
                "nested": {"apiToken": "[redacted]", "list": [{"privateKey": "[redacted]", "id": 1}, {"Cookie": "[redacted]"}]},
                "query": [["access_token", "[redacted]"], ["expand", "all"]],
                "props": [{"key": "api-token", "value": "[redacted]"}, {"key": "color", "value": "red"}],
                "note": "Bearer [redacted]",
                "empty": {"secret": null},
                "last": true,
            }))
            .unwrap()
        );
        assert!(contains_marker(&v));
        assert!(!contains_marker(&json!({"a": ["b"]})));
    }

    #[test]
    fn strings_leave_secret_named_data_of_answers_alone() {
        let mut v =
            json!({"tokenCount": 3, "text": "org-key-0123", "links": {"Bearer abcDEF123456": 1}});
        strings(&mut v, &known());
        assert_eq!(
            v,
            json!({"tokenCount": 3, "text": "[redacted]", "links": {"Bearer [redacted]": 1}})
        );
    }

    #[test]
    fn tool_errors_are_redacted_in_message_and_details() {
        let mut e = ToolError::with_code(
            crate::error::ErrorCode::UpstreamRejected,
            "refused e2e-secret-token",
            Some(json!({"echo": "Authorization: Basic ZTJlQGV4YW1wbGU6dA=="})),
        );
        error(&mut e, &known());
        assert_eq!(e.message, "refused [redacted]");
        assert_eq!(
            e.details.unwrap()["echo"],
            "Authorization: Basic [redacted]"
        );
    }
}
