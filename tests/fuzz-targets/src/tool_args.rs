//! `tool_args`: arguments for a generated tool → validation → its builder.

use std::sync::OnceLock;

use arbitrary::Unstructured;
use gojira_runtime::Catalog;
use gojira_runtime::catalog::Tool;
use gojira_runtime::shape::Page;
use percent_encoding::percent_decode_str;
use serde_json::Value;

use crate::{json, panics};

fn catalog() -> &'static (Catalog, Vec<&'static str>) {
    static CATALOG: OnceLock<(Catalog, Vec<&'static str>)> = OnceLock::new();
    CATALOG.get_or_init(|| {
        let catalog = gojira_runtime::Catalog::new(
            gojira_generated::PRODUCTS,
            gojira_generated::GROUPS,
            gojira_generated::TOOLSETS,
        )
        .expect("the generated catalog loads");
        let names = catalog.tools.keys().copied().collect();
        (catalog, names)
    })
}

/// The first two bytes pick a tool; the third says how to read the rest:
/// an even byte reads JSON (`serde_json::from_slice`), an odd one generates
/// arguments from the tool's input schema ([`json::guided`]). Validation and
/// the builder may refuse anything, but never panic, and a request they
/// build has a path that [`path_matches_template`].
pub fn tool_args(data: &[u8]) {
    panics::watch();
    let _one = panics::one_at_a_time();
    let (catalog, names) = catalog();
    if names.is_empty() {
        return;
    }
    let (head, rest) = data.split_at(data.len().min(3));
    let index = head
        .iter()
        .take(2)
        .fold(0usize, |n, b| n * 256 + usize::from(*b));
    let Some(tool) = names
        .get(index % names.len())
        .and_then(|name| catalog.tools.get(name))
    else {
        return;
    };
    let args = if head.get(2).is_some_and(|b| b % 2 == 1) {
        let schema = Value::Object((**tool.input_schema()).clone());
        let mut u = Unstructured::new(rest);
        match json::guided(&mut u, &schema, 5) {
            Ok(args) => args,
            Err(_) => return,
        }
    } else {
        match serde_json::from_slice::<Value>(rest) {
            Ok(args) => args,
            Err(_) => return,
        }
    };
    check(tool, args);
}

/// Validation, then the builder, for one tool and its arguments: once as
/// the server does it (our own `raw` removed, `cursor`/`limit` turned into
/// the upstream's paging arguments), once with the arguments as they came.
pub fn check(tool: &Tool, args: Value) {
    let before = panics::count();
    let valid = tool.validate(&args).is_ok();
    if let Value::Object(mut map) = args.clone() {
        if tool.spec.trims {
            map.remove("raw");
        }
        let paged = match &tool.spec.pagination {
            Some(p) => Page::prepare(p, &mut map).is_ok(),
            None => true,
        };
        if paged {
            built(tool, Value::Object(map), valid);
        }
    }
    // The server builds only validated objects; the builder must still
    // refuse anything else without panicking.
    built(tool, args, valid);
    panics::assert_none_since(before, "validating and building");
}

fn built(tool: &Tool, args: Value, valid: bool) {
    let shown = args.to_string();
    if let Ok(request) = (tool.spec.build)(args) {
        assert!(
            path_matches_template(tool.spec.path, &request.path),
            "{}: the built path {:?} leaves the template {:?} (arguments {shown}, valid: {valid})",
            tool.spec.name,
            request.path,
            tool.spec.path,
        );
        assert_eq!(request.method, tool.spec.method, "{}", tool.spec.name);
    }
}

/// Whether `path` is `template` with each `{param}` replaced by exactly one
/// path segment that is not empty and is neither `.` nor `..` once
/// percent-decoded (a URL parser resolves `%2e%2e` like `..`), and with no
/// `?` or `#` anywhere (they would end the path).
pub fn path_matches_template(template: &str, path: &str) -> bool {
    if path.contains(['?', '#']) {
        return false;
    }
    let mut parts = Vec::new();
    let mut rest = template;
    while let Some(open) = rest.find('{') {
        let Some(close) = rest[open..].find('}') else {
            break;
        };
        parts.push(Part::Literal(&rest[..open]));
        parts.push(Part::Param);
        rest = &rest[open + close + 1..];
    }
    parts.push(Part::Literal(rest));
    matches(&parts, path)
}

enum Part<'a> {
    Literal(&'a str),
    Param,
}

fn matches(parts: &[Part<'_>], path: &str) -> bool {
    match parts.split_first() {
        None => path.is_empty(),
        Some((Part::Literal(text), rest)) => path
            .strip_prefix(text)
            .is_some_and(|after| matches(rest, after)),
        Some((Part::Param, rest)) => {
            // A segment ends at the next `/` (or the end); try every end in
            // it, as a literal may follow the parameter inside the segment.
            let segment_end = path.find('/').unwrap_or(path.len());
            (1..=segment_end).any(|end| {
                path.is_char_boundary(end)
                    && one_segment(&path[..end])
                    && matches(rest, &path[end..])
            })
        }
    }
}

fn one_segment(value: &str) -> bool {
    let decoded = percent_decode_str(value).decode_utf8_lossy();
    !value.is_empty() && decoded != "." && decoded != ".."
}

#[cfg(test)]
mod tests {
    use super::path_matches_template as ok;

    #[test]
    fn a_parameter_is_one_non_dot_segment() {
        let t = "/rest/api/3/project/{projectIdOrKey}/archive";
        assert!(ok(t, "/rest/api/3/project/ABC/archive"));
        assert!(ok(t, "/rest/api/3/project/a%2Fb/archive"));
        assert!(ok(t, "/rest/api/3/project/.../archive"));
        assert!(!ok(t, "/rest/api/3/project//archive"));
        assert!(!ok(t, "/rest/api/3/project/../archive"));
        assert!(!ok(t, "/rest/api/3/project/./archive"));
        assert!(!ok(t, "/rest/api/3/project/%2e%2E/archive"));
        assert!(!ok(t, "/rest/api/3/project/a/b/archive"));
        assert!(!ok(t, "/rest/api/3/project/a?x=1/archive"));
        assert!(!ok(t, "/rest/api/3/project/ABC"));
        assert!(ok("/a/{x}/{y}", "/a/1/2"));
        assert!(!ok("/a/{x}/{y}", "/a/1/"));
        assert!(ok("/a/{x}.json", "/a/b.json"));
        assert!(ok("/plain", "/plain"));
    }
}
