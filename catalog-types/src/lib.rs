//! The types generated code fills in: products, groups, tool specs and the
//! typed-arguments machinery that turns a call's arguments into an upstream
//! request. `gojira-generated` instantiates them and `gojira-runtime` serves
//! them; this crate is kept small (no async runtime, no MCP, no JSON Schema)
//! so that editing the runtime does not rebuild the generated catalog.

use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, percent_decode_str, utf8_percent_encode};
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::Value;

/// HTTP method of an upstream operation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Method {
    /// GET
    Get,
    /// PUT
    Put,
    /// POST
    Post,
    /// DELETE
    Delete,
    /// PATCH
    Patch,
}

impl Method {
    /// Wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            Method::Get => "GET",
            Method::Put => "PUT",
            Method::Post => "POST",
            Method::Delete => "DELETE",
            Method::Patch => "PATCH",
        }
    }
}

/// How a product is reached upstream.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AuthKind {
    /// Per-user OAuth bearer.
    Oauth,
    /// Per-user API token.
    ApiToken,
    /// The organization admin API key.
    OrgAdmin,
}

/// What a permission group allows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    /// Reads.
    Read,
    /// Creates and updates.
    Write,
    /// Deletes.
    Delete,
    /// Org administration.
    Admin,
    /// gojira's own tools.
    Utility,
}

/// A product surface.
#[derive(Debug)]
pub struct Product {
    /// Key from tools.yaml.
    pub key: &'static str,
    /// Title.
    pub title: &'static str,
    /// Spec file it was generated from.
    pub spec: &'static str,
    /// That spec's `info.version`.
    pub spec_version: &'static str,
    /// Base URL template (`{jira}`, `{confluence}`, `{api}`, `{workspaceId}`, `{orgId}`, `{cloudId}`).
    pub base_url: &'static str,
    /// Upstream auth kind.
    pub auth: AuthKind,
}

/// A permission group.
#[derive(Debug)]
pub struct Group {
    /// Name operators list in `GOJIRA_ENABLED_GROUPS`.
    pub name: &'static str,
    /// Access kind.
    pub access: Access,
    /// Product label.
    pub product: &'static str,
    /// One line.
    pub description: &'static str,
}

/// MCP tool annotations.
#[derive(Debug, Clone, Copy)]
pub struct Annotations {
    /// Changes nothing.
    pub read_only: bool,
    /// May destroy data.
    pub destructive: bool,
    /// Repeating it has no further effect.
    pub idempotent: bool,
    /// Talks to an external system.
    pub open_world: bool,
}

/// One generated tool.
#[derive(Debug)]
pub struct ToolSpec {
    /// MCP name.
    pub name: &'static str,
    /// Title.
    pub title: &'static str,
    /// Description for the model.
    pub description: &'static str,
    /// Permission group.
    pub group: &'static str,
    /// Product key.
    pub product: &'static str,
    /// `product#operationId`.
    pub operation: &'static str,
    /// HTTP method.
    pub method: Method,
    /// Path template.
    pub path: &'static str,
    /// Input JSON Schema text.
    pub input_schema: &'static str,
    /// Output JSON Schema text.
    pub output_schema: Option<&'static str>,
    /// Annotations.
    pub annotations: Annotations,
    /// Consent/snapshot/revert declarations (JSON), when declared.
    pub safety: Option<&'static str>,
    /// Seconds a successful answer may be served from the read cache.
    pub cache_ttl_s: Option<u32>,
    /// How the upstream pages; the model sees `cursor` and `limit` instead.
    pub pagination: Option<Pagination>,
    /// The answer may carry noise the runtime trims unless `raw: true`.
    pub trims: bool,
    /// Catalog-only: another tool's revert calls it; never in `tools/list`,
    /// and a client's direct call answers as for an unknown tool.
    pub hidden: bool,
    /// Parses arguments and builds the upstream request.
    pub build: fn(Value) -> Result<UpstreamRequest, ArgsError>,
}

/// How an upstream operation pages.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PageStyle {
    /// A numeric offset and a page size.
    Offset,
    /// An opaque token from the previous answer.
    Token,
}

/// Which upstream arguments the unified `cursor`/`limit` fill.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Pagination {
    /// Offset or token.
    pub style: PageStyle,
    /// Argument that takes the offset or token.
    pub cursor_arg: &'static str,
    /// Argument that takes the page size.
    pub limit_arg: Option<&'static str>,
    /// Largest page size.
    pub max_limit: u32,
}

/// Typed arguments of one tool.
pub trait ToolArgs: DeserializeOwned {
    /// Builds the upstream request.
    fn into_request(self) -> Result<UpstreamRequest, ArgsError>;
}

/// Deserializes arguments into `T` and builds its request. Generated
/// `ToolSpec`s point `build` at an instance of this function.
pub fn build<T: ToolArgs>(args: Value) -> Result<UpstreamRequest, ArgsError> {
    let args: T = serde_json::from_value(args).map_err(|e| ArgsError::Invalid(e.to_string()))?;
    args.into_request()
}

/// Bad arguments, found after schema validation.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ArgsError {
    /// Arguments do not fit the typed struct.
    #[error("invalid arguments: {0}")]
    Invalid(String),
    /// A path parameter's value would not stay one segment of the
    /// operation's template (empty, or a dot segment).
    #[error(
        "{name}: {value} is not a valid path value (dot segments and empty values are refused, so that a call cannot reach a path outside its operation's template); pass {name} as the plain key, id or name that the tool's input schema describes"
    )]
    BadPathValue {
        /// The argument.
        name: &'static str,
        /// The value, JSON-quoted and shortened.
        value: String,
    },
    /// A path parameter is not a scalar.
    #[error("{name} must be a string or number for the URL path")]
    PathNotScalar {
        /// The argument.
        name: &'static str,
    },
    /// A query parameter has an unsupported shape.
    #[error("argument {name} must be a scalar or a list of scalars")]
    BadQueryValue {
        /// Parameter.
        name: &'static str,
    },
    /// Serializing the body failed.
    #[error("request body could not be serialized: {0}")]
    Body(String),
}

/// Characters percent-encoded inside one path segment (everything but RFC 3986 unreserved).
const SEGMENT: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');

/// An upstream HTTP request, relative to the product's base URL.
#[derive(Debug, Clone, PartialEq)]
pub struct UpstreamRequest {
    /// Method.
    pub method: Method,
    /// Percent-encoded path.
    pub path: String,
    /// Query pairs (not yet encoded).
    pub query: Vec<(String, String)>,
    /// JSON body.
    pub body: Option<Value>,
    /// Extra headers the operation needs (e.g. Atlassian's experimental opt-in).
    pub headers: Vec<(&'static str, &'static str)>,
}

impl UpstreamRequest {
    /// An empty request.
    pub fn new(method: Method) -> Self {
        Self {
            method,
            path: String::new(),
            query: Vec::new(),
            body: None,
            headers: Vec::new(),
        }
    }

    /// Adds a fixed header (never a credential: those come from the upstream client).
    pub fn header(&mut self, name: &'static str, value: &'static str) {
        self.headers.push((name, value));
    }

    /// Appends literal path text (from the spec's template).
    pub fn push_path(&mut self, literal: &str) {
        self.path.push_str(literal);
    }

    /// Appends one path parameter as exactly one percent-encoded segment
    /// (`name` is the argument the caller passed). Values that could not
    /// stay that one segment are refused: see [`leaves_its_segment`].
    pub fn push_path_param(
        &mut self,
        name: &'static str,
        value: &impl Serialize,
    ) -> Result<(), ArgsError> {
        let text = match serde_json::to_value(value) {
            Ok(Value::String(s)) => s,
            Ok(Value::Number(n)) => n.to_string(),
            Ok(Value::Bool(b)) => b.to_string(),
            _ => return Err(ArgsError::PathNotScalar { name }),
        };
        if leaves_its_segment(&text) {
            return Err(ArgsError::BadPathValue {
                name,
                value: quoted_prefix(&text),
            });
        }
        self.path.extend(utf8_percent_encode(&text, SEGMENT));
        Ok(())
    }

    /// Adds a query parameter; `None`/null adds nothing. Arrays repeat the
    /// key when `explode`, else join with commas.
    pub fn query(
        &mut self,
        name: &'static str,
        value: &impl Serialize,
        explode: bool,
    ) -> Result<(), ArgsError> {
        let value = serde_json::to_value(value).map_err(|_| ArgsError::BadQueryValue { name })?;
        match value {
            Value::Null => {}
            Value::Array(items) => {
                let mut texts = Vec::with_capacity(items.len());
                for item in items {
                    texts.push(scalar_text(&item).ok_or(ArgsError::BadQueryValue { name })?);
                }
                if explode {
                    self.query
                        .extend(texts.into_iter().map(|t| (name.to_owned(), t)));
                } else if !texts.is_empty() {
                    self.query.push((name.to_owned(), texts.join(",")));
                }
            }
            other => {
                let text = scalar_text(&other).ok_or(ArgsError::BadQueryValue { name })?;
                self.query.push((name.to_owned(), text));
            }
        }
        Ok(())
    }

    /// Like [`Self::query`], sending `default` when `value` is `None`.
    pub fn query_or<T: Serialize, D: Serialize>(
        &mut self,
        name: &'static str,
        value: &Option<T>,
        default: &D,
        explode: bool,
    ) -> Result<(), ArgsError> {
        match value {
            Some(v) => self.query(name, v, explode),
            None => self.query(name, default, explode),
        }
    }

    /// Sets the JSON body (`None` sends no body).
    pub fn json_body(&mut self, body: &impl Serialize) -> Result<(), ArgsError> {
        let value = serde_json::to_value(body).map_err(|e| ArgsError::Body(e.to_string()))?;
        self.body = (!value.is_null()).then_some(value);
        Ok(())
    }
}

/// How many times a value is percent-decoded when looking for a dot
/// segment: the URL parser reads `%2e` as `.` (WHATWG), and a hop that
/// decodes what we sent once or twice more must not find one either.
const DECODINGS: usize = 3;

/// Whether a path value could leave its one segment of the template: it is
/// empty, or it holds a dot segment (`.` or `..` between `/` or `\`) as it
/// is, percent-decoded up to [`DECODINGS`] times, or with the Unicode
/// compatibility forms of `.`, `/` and `\` (which NFKC folds to them)
/// counted as those. We percent-encode `/`, `\`, `%`, `?` and `#`, so only
/// a literal `.` or `..` would be resolved by our own URL parser; the rest
/// guards hops beyond it. No key, id or name of a real resource looks like
/// this.
pub fn leaves_its_segment(text: &str) -> bool {
    if text.is_empty() {
        return true;
    }
    let mut current = std::borrow::Cow::Borrowed(text);
    for _ in 0..=DECODINGS {
        if has_dot_segment(&current) {
            return true;
        }
        let decoded = percent_decode_str(&current).decode_utf8_lossy();
        if decoded == current {
            return false;
        }
        current = std::borrow::Cow::Owned(decoded.into_owned());
    }
    false
}

fn has_dot_segment(text: &str) -> bool {
    text.split(['/', '\\', '\u{FF0F}', '\u{FF3C}', '\u{FE68}'])
        .any(|piece| {
            let mut dots = 0;
            for c in piece.chars() {
                dots += match c {
                    '.' | '\u{FF0E}' | '\u{2024}' | '\u{FE52}' => 1,
                    '\u{2025}' => 2,
                    _ => return false,
                };
            }
            (1..=2).contains(&dots)
        })
}

/// A value for an error message: JSON-quoted, at most 60 characters of it.
fn quoted_prefix(text: &str) -> String {
    const MAX: usize = 60;
    let quoted = |t: &str| serde_json::to_string(t).unwrap_or_default();
    match text.char_indices().nth(MAX) {
        Some((end, _)) => format!("{}…", quoted(&text[..end])),
        None => quoted(text),
    }
}

fn scalar_text(value: &Value) -> Option<String> {
    match value {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

/// Atlassian endpoints the identity checks use. The binary supplies them
/// (the runtime names no product).
#[derive(Debug, Clone, Copy)]
pub struct IdentityEndpoints {
    /// Base-URL template of the current-user operation (a site variable, e.g. `{site}`).
    pub myself_base: &'static str,
    /// Path of the current-user operation; its answer has `accountId`.
    pub myself_path: &'static str,
    /// Path below the org-admin product's base URL of a user's role
    /// assignments, with `{orgId}` and `{accountId}`.
    pub org_role_assignments: &'static str,
    /// The role that makes a user an org admin.
    pub org_admin_role: &'static str,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn path_params_are_percent_encoded_as_one_segment() {
        let mut r = UpstreamRequest::new(Method::Get);
        r.push_path("/v1/things/");
        r.push_path_param("key", &"A B/x?y#z%.").unwrap();
        assert_eq!(r.path, "/v1/things/A%20B%2Fx%3Fy%23z%25.");
        for (value, quoted) in [("", r#""""#), ("A B/../x", r#""A B/../x""#)] {
            assert_eq!(
                r.push_path_param("key", &value),
                Err(ArgsError::BadPathValue {
                    name: "key",
                    value: quoted.into()
                })
            );
        }
        assert_eq!(
            r.push_path_param("key", &serde_json::json!({"a": 1})),
            Err(ArgsError::PathNotScalar { name: "key" })
        );
        assert_eq!(
            r.path, "/v1/things/A%20B%2Fx%3Fy%23z%25.",
            "refusals add nothing"
        );
    }

    #[test]
    fn dot_segments_and_empty_values_are_refused_in_any_spelling() {
        for refused in [
            "",
            ".",
            "..",
            "%2e",
            "%2E%2E",
            ".%2e",
            "%2e.",
            "%252e%252e",
            "%25252e",
            "../..",
            "a/../../b",
            "./x",
            "x/.",
            "..%2f",
            "%2e%2e%2f",
            "..\\",
            "a\\..",
            "\u{FF0E}\u{FF0E}",
            "\u{2025}",
            "\u{2024}",
            "a\u{FF0F}..",
        ] {
            assert!(leaves_its_segment(refused), "{refused:?} is refused");
        }
        for kept in [
            "...",
            "a.b",
            "..a",
            "ABC",
            "10000",
            "a/b",
            "?x=1",
            "#frag",
            "%",
            "%zz",
            "100%",
            "%2525252e",
            "\u{3002}\u{3002}",
            "\u{2026}",
        ] {
            assert!(!leaves_its_segment(kept), "{kept:?} is kept");
        }
    }

    #[test]
    fn a_refusal_names_the_argument_and_what_to_pass() {
        let mut r = UpstreamRequest::new(Method::Delete);
        let e = r.push_path_param("project", &"..").unwrap_err();
        assert_eq!(
            e.to_string(),
            "project: \"..\" is not a valid path value (dot segments and empty values are refused, so that a call cannot reach a path outside its operation's template); pass project as the plain key, id or name that the tool's input schema describes"
        );
        let long = "../".repeat(100);
        let e = r.push_path_param("id", &long).unwrap_err().to_string();
        assert!(
            e.starts_with(&format!("id: \"{}\"… is not", &long[..60])),
            "{e}"
        );
    }

    #[test]
    fn query_arrays_explode_or_join_and_none_is_skipped() {
        let mut r = UpstreamRequest::new(Method::Get);
        r.query("id", &Some(vec![1, 2]), true).unwrap();
        r.query("expand", &vec!["a", "b"], false).unwrap();
        r.query("skip", &None::<String>, true).unwrap();
        r.query_or("maxResults", &None::<i64>, &50, true).unwrap();
        assert_eq!(
            r.query,
            vec![
                ("id".into(), "1".into()),
                ("id".into(), "2".into()),
                ("expand".into(), "a,b".into()),
                ("maxResults".into(), "50".into())
            ]
        );
        assert!(r.query("bad", &serde_json::json!({"a": 1}), true).is_err());
    }
}
