//! Every generated builder keeps a call inside its operation's path
//! template, without a server: `(tool.spec.build)(args)` is driven for every
//! tool of the catalog with hostile values in each path parameter, and the
//! built path is read back the way reqwest does (the `url` crate, which
//! resolves dot segments, `%2e` ones included).
//!
//! The property: a value is either refused with an error naming the
//! argument (exactly when it is empty or a dot segment, literally or once
//! percent-decoded), or it lands, percent-decoded, as exactly one segment in
//! the template's place for it, with every literal segment intact.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use gojira_runtime::catalog::Tool;
use percent_encoding::percent_decode_str;
use serde_json::{Map, Value, json};

/// Short strings over the characters that make dot segments, separators
/// and encodings, every one up to this length.
const ALPHABET: &[char] = &['.', '%', '2', 'e', 'E', '/', '?', '#', 'a'];
const MAX_LEN: u32 = 4;

/// Hand-picked hostile values beyond the exhaustive short strings.
fn curated() -> Vec<String> {
    let mut values: Vec<String> = [
        "",
        ".",
        "..",
        "...",
        "%2e",
        "%2E",
        "%2e%2e",
        "%2E%2E",
        ".%2e",
        "%2e.",
        "%252e%252e",
        "../..",
        "..%2f",
        "..%2F..",
        "a/../../b",
        "./x",
        "x/.",
        "..\\",
        "\\..\\..",
        "..;",
        ";..",
        "?x=1",
        "#frag",
        "x?y#z",
        "%00",
        "\0",
        "\u{0}..",
        "\t..",
        ".. ",
        " ..",
        "\u{FF0E}\u{FF0E}", // fullwidth full stops
        "\u{2024}\u{2024}", // one-dot leaders
        "\u{3002}\u{3002}", // ideographic full stops
        "\u{FE52}",         // small full stop
        "%ef%bc%8e%ef%bc%8e",
        "A B/../x",
        "100%",
        "%",
        "%zz",
        "@evil.example",
        "//evil.example/x",
        "http://evil.example/",
    ]
    .iter()
    .map(|s| (*s).to_owned())
    .collect();
    values.push("a".repeat(10_000));
    values.push("../".repeat(500));
    values
}

fn exhaustive() -> Vec<String> {
    let mut out = vec![String::new()];
    let mut layer = vec![String::new()];
    for _ in 0..MAX_LEN {
        layer = layer
            .iter()
            .flat_map(|prefix| {
                ALPHABET.iter().map(move |c| {
                    let mut s = prefix.clone();
                    s.push(*c);
                    s
                })
            })
            .collect();
        out.extend(layer.iter().cloned());
    }
    out
}

/// The refusal policy, stated independently of the runtime: empty values,
/// and values holding a dot segment between `/` or `\\` as they are or
/// percent-decoded (up to a few times: a hop that decodes once more, or
/// folds the Unicode compatibility forms of `.` and `/`, must not find one
/// either).
fn must_refuse(value: &str) -> bool {
    if value.is_empty() {
        return true;
    }
    let mut current = value.to_owned();
    for _ in 0..4 {
        let folded: String = current
            .chars()
            .flat_map(|c| match c {
                '\u{FF0E}' | '\u{2024}' | '\u{FE52}' => vec!['.'],
                '\u{2025}' => vec!['.', '.'],
                '\u{FF0F}' => vec!['/'],
                '\u{FF3C}' | '\u{FE68}' => vec!['\\'],
                other => vec![other],
            })
            .collect();
        if folded
            .split(['/', '\\'])
            .any(|piece| piece == "." || piece == "..")
        {
            return true;
        }
        let decoded = percent_decode_str(&current)
            .decode_utf8_lossy()
            .into_owned();
        if decoded == current {
            return false;
        }
        current = decoded;
    }
    false
}

/// A minimal instance of a JSON schema: required properties only.
fn minimal(schema: &Value) -> Value {
    if let Some(first) = schema
        .get("enum")
        .and_then(Value::as_array)
        .and_then(|e| e.first())
    {
        return first.clone();
    }
    let ty = match schema.get("type") {
        Some(Value::String(t)) => t.as_str(),
        Some(Value::Array(types)) => types
            .iter()
            .filter_map(Value::as_str)
            .find(|t| *t != "null")
            .unwrap_or("null"),
        _ => "object",
    };
    match ty {
        "string" => json!("10000"),
        "integer" => json!(10000),
        "number" => json!(1.0),
        "boolean" => json!(false),
        "array" => {
            let n = schema.get("minItems").and_then(Value::as_u64).unwrap_or(0);
            let item = minimal(schema.get("items").unwrap_or(&json!({})));
            Value::Array((0..n).map(|_| item.clone()).collect())
        }
        "null" => Value::Null,
        _ => {
            let mut out = Map::new();
            let props = schema.get("properties").and_then(Value::as_object);
            for name in schema
                .get("required")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
            {
                let Some(name) = name.as_str() else { continue };
                let prop = props
                    .and_then(|p| p.get(name))
                    .cloned()
                    .unwrap_or(json!({"type": "string"}));
                out.insert(name.to_owned(), minimal(&prop));
            }
            Value::Object(out)
        }
    }
}

/// The product's base path (its URL template without the host variable,
/// other variables filled), as the upstream client prefixes it.
fn base_path(tool: &Tool) -> String {
    let product = gojira_generated::PRODUCTS
        .iter()
        .find(|p| p.key == tool.spec.product)
        .expect("the tool's product");
    let rest = match product.base_url.strip_prefix('{') {
        Some(after) => &after[after.find('}').expect("closed variable") + 1..],
        None => product.base_url,
    };
    fill_vars(rest)
}

fn fill_vars(template: &str) -> String {
    let mut out = String::new();
    let mut rest = template;
    while let Some(start) = rest.find('{') {
        out.push_str(&rest[..start]);
        let end = rest[start..].find('}').expect("closed variable") + start;
        out.push_str("var");
        rest = &rest[end + 1..];
    }
    out.push_str(rest);
    out
}

/// The path a URL parser makes of `base + built`, as segments.
fn parsed_segments(base: &str, built: &str) -> Vec<String> {
    let url = url::Url::parse(&format!("https://upstream.example{base}{built}"))
        .unwrap_or_else(|e| panic!("{base}{built} does not parse as a URL: {e}"));
    assert_eq!(url.query(), None, "{built}: a query appeared in the path");
    assert_eq!(
        url.fragment(),
        None,
        "{built}: a fragment appeared in the path"
    );
    assert_eq!(
        url.host_str(),
        Some("upstream.example"),
        "{built}: host changed"
    );
    url.path_segments()
        .expect("an http URL has segments")
        .map(str::to_owned)
        .collect()
}

/// Matches parsed segments against `base + template`; returns each
/// `{param}`'s percent-decoded segment, or why it does not match.
fn captures(
    base: &str,
    template: &str,
    segments: &[String],
) -> Result<Vec<(String, String)>, String> {
    let full = format!("{base}{template}");
    let expected: Vec<&str> = full.trim_start_matches('/').split('/').collect();
    if expected.len() != segments.len() {
        return Err(format!(
            "{} segments, template {full} has {}",
            segments.len(),
            expected.len()
        ));
    }
    let mut out = Vec::new();
    for (want, got) in expected.iter().zip(segments) {
        if let Some(name) = want.strip_prefix('{').and_then(|w| w.strip_suffix('}')) {
            let decoded = percent_decode_str(got).decode_utf8_lossy().into_owned();
            out.push((name.to_owned(), decoded));
        } else if want != got {
            return Err(format!("segment {got:?} where the template has {want:?}"));
        }
    }
    Ok(out)
}

/// One path argument of a tool: its name and the template parameter it fills.
struct PathArg {
    arg: String,
    param: String,
}

/// Finds which arguments fill which template parameters, by building with a
/// marker in each top-level string argument.
fn path_args(tool: &Tool, base: &str) -> (Map<String, Value>, Vec<PathArg>) {
    let Value::Object(args) = minimal(&Value::Object((**tool.input_schema()).clone())) else {
        panic!("{}: minimal arguments are an object", tool.spec.name);
    };
    let baseline = (tool.spec.build)(Value::Object(args.clone()))
        .unwrap_or_else(|e| panic!("{}: minimal arguments build: {e}", tool.spec.name));
    let placeholders: Vec<String> = tool
        .spec
        .path
        .split('/')
        .filter_map(|s| s.strip_prefix('{').and_then(|s| s.strip_suffix('}')))
        .map(str::to_owned)
        .collect();
    captures(base, tool.spec.path, &parsed_segments(base, &baseline.path))
        .unwrap_or_else(|e| panic!("{}: baseline {}: {e}", tool.spec.name, baseline.path));
    let mut found = Vec::new();
    for (name, value) in &args {
        let marker = match value {
            Value::String(_) => json!("zqMARKERqz"),
            Value::Number(_) => json!(987_654_321),
            _ => continue,
        };
        let mut probe = args.clone();
        probe.insert(name.clone(), marker.clone());
        let Ok(built) = (tool.spec.build)(Value::Object(probe)) else {
            continue;
        };
        let caught = captures(base, tool.spec.path, &parsed_segments(base, &built.path))
            .unwrap_or_else(|e| panic!("{}: probe {}: {e}", tool.spec.name, built.path));
        let marker_text = match &marker {
            Value::String(s) => s.clone(),
            other => other.to_string(),
        };
        for (param, got) in caught {
            if got == marker_text && value.is_string() {
                found.push(PathArg {
                    arg: name.clone(),
                    param,
                });
            } else if got == marker_text {
                // A numeric path parameter cannot hold a hostile string.
                found.push(PathArg {
                    arg: String::new(),
                    param,
                });
            }
        }
    }
    let mut filled: Vec<&str> = found.iter().map(|p| p.param.as_str()).collect();
    filled.sort_unstable();
    let mut wanted: Vec<&str> = placeholders.iter().map(String::as_str).collect();
    wanted.sort_unstable();
    assert_eq!(
        filled, wanted,
        "{}: every template parameter is filled from exactly one argument",
        tool.spec.name
    );
    found.retain(|p| !p.arg.is_empty());
    (args, found)
}

#[test]
fn a_built_path_never_leaves_its_operation_template() {
    let catalog = gojira_runtime::Catalog::new(
        gojira_generated::PRODUCTS,
        gojira_generated::GROUPS,
        gojira_generated::TOOLSETS,
    )
    .expect("catalog");
    let mut values = exhaustive();
    values.extend(curated());
    let mut failures = Vec::new();
    let mut checked = 0usize;
    let mut path_params = 0usize;
    for tool in catalog.tools.values() {
        let base = base_path(tool);
        let (args, path_args) = path_args(tool, &base);
        for PathArg { arg, param } in &path_args {
            path_params += 1;
            for value in &values {
                checked += 1;
                let mut hostile = args.clone();
                hostile.insert(arg.clone(), Value::String(value.clone()));
                let built = (tool.spec.build)(Value::Object(hostile));
                let refuse = must_refuse(value);
                match built {
                    Err(e) => {
                        let message = e.to_string();
                        if !refuse {
                            failures.push(format!(
                                "{} {arg}={value:?}: refused a value that stays one segment: {message}",
                                tool.spec.name
                            ));
                        } else if !message.starts_with(&format!("{arg}: "))
                            || !message.contains("dot segments and empty values are refused")
                        {
                            failures.push(format!(
                                "{} {arg}={value:?}: the refusal does not name the argument and say why: {message}",
                                tool.spec.name
                            ));
                        }
                    }
                    Ok(request) => {
                        if refuse {
                            failures.push(format!(
                                "{} {arg}={value:?}: not refused; built {} {}",
                                tool.spec.name,
                                tool.spec.method.as_str(),
                                request.path
                            ));
                        }
                        let segments = parsed_segments(&base, &request.path);
                        match captures(&base, tool.spec.path, &segments) {
                            Err(why) => failures.push(format!(
                                "{} {arg}={value:?}: {} {} leaves the template {}: {why}",
                                tool.spec.name,
                                tool.spec.method.as_str(),
                                request.path,
                                tool.spec.path
                            )),
                            Ok(caught) => {
                                let got = caught.iter().find(|(p, _)| p == param);
                                if got.map(|(_, v)| v) != Some(value) {
                                    failures.push(format!(
                                        "{} {arg}={value:?}: {{{param}}} arrived as {got:?}",
                                        tool.spec.name
                                    ));
                                }
                            }
                        }
                    }
                }
            }
        }
    }
    // Numeric path parameters are left out (a string does not deserialize
    // into them); `path_args` checked that every template parameter is filled.
    assert!(path_params > 0, "no string path parameter found");
    eprintln!("{path_params} string path parameters, {checked} builds");
    // Builds that left their template first: they are the escapes.
    failures.sort_by_key(|f| (!f.contains("leaves the template"), f.clone()));
    failures.dedup();
    let escapes = failures
        .iter()
        .filter(|f| f.contains("leaves the template"))
        .count();
    assert!(
        failures.is_empty(),
        "{} of {checked} builds broke the property ({escapes} left their template); first 30:\n{}",
        failures.len(),
        failures
            .iter()
            .take(30)
            .cloned()
            .collect::<Vec<_>>()
            .join("\n")
    );
}

#[test]
fn the_refusal_policy_is_what_the_test_assumes() {
    for v in [
        "",
        ".",
        "..",
        "%2e",
        "%2E%2E",
        ".%2e",
        "%2e.",
        "%252e%252e",
        "../..",
        "a/../../b",
        "..%2f",
        "..\\",
        "%2e%2e%2f",
        "\u{FF0E}\u{FF0E}",
        "\u{2025}",
    ] {
        assert!(must_refuse(v), "{v:?}");
    }
    for v in [
        "...",
        "a",
        "a/b",
        "?x=1",
        "#frag",
        "\u{3002}\u{3002}",
        "%",
        "%zz",
        "100%",
    ] {
        assert!(!must_refuse(v), "{v:?}");
    }
}
