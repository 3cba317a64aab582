//! Paths: no call of any tool reaches a path outside its operation's
//! template. Path parameters are one percent-encoded segment; dot segments
//! and empty values are refused before anything is planned or sent.

use std::collections::BTreeMap;

use percent_encoding::percent_decode_str;
use rmcp::model::ProtocolVersion;
use serde_json::{Map, Value, json};

use crate::common::oauth::error_code;
use crate::common::*;

/// Values a caller (or a prompt-injected model) could put in a path
/// parameter, and whether gojira must refuse them. Accepted values must
/// arrive as one segment in the parameter's place.
fn hostile_values() -> Vec<(String, bool)> {
    let mut values: Vec<(String, bool)> = [
        (".", true),
        ("..", true),
        ("%2e", true),
        ("%2E%2E", true),
        (".%2e", true),
        ("", true),
        ("../..", true),
        ("..%2f", true),
        ("a/../../b", true),
        ("\u{FF0E}\u{FF0E}", true), // fullwidth full stops, `..` once NFKC-folded
        ("?x=1", false),
        ("#frag", false),
        ("%00", false),
        ("\u{0}x", false),
        ("\u{3002}\u{3002}", false), // ideographic full stops: no dot
        ("...", false),
        ("A B/x?y#z%", false),
    ]
    .iter()
    .map(|(v, refuse)| ((*v).to_owned(), *refuse))
    .collect();
    values.push(("a".repeat(3000), false));
    values
}

/// A tool's full path template: the product's base path (without the host
/// variable) and the operation's path.
fn full_template(spec: &gojira_runtime::catalog::ToolSpec) -> String {
    let product = gojira_generated::PRODUCTS
        .iter()
        .find(|p| p.key == spec.product)
        .expect("the tool's product");
    let base = match product.base_url.strip_prefix('{') {
        Some(after) => &after[after.find('}').expect("closed variable") + 1..],
        None => product.base_url,
    };
    format!("{base}{}", spec.path)
}

fn decode(segment: &str) -> String {
    percent_decode_str(segment).decode_utf8_lossy().into_owned()
}

/// Matches a path as the fake received it against a template: literal
/// segments equal, each `{param}` exactly one non-empty segment that is no
/// dot segment, even decoded. Returns the decoded parameters.
fn matches(template: &str, path: &str) -> Option<BTreeMap<String, String>> {
    let want: Vec<&str> = template.split('/').collect();
    let got: Vec<&str> = path.split('/').collect();
    if want.len() != got.len() {
        return None;
    }
    let mut params = BTreeMap::new();
    for (w, g) in want.iter().zip(&got) {
        if let Some(name) = w.strip_prefix('{').and_then(|w| w.strip_suffix('}')) {
            let value = decode(g);
            if g.is_empty() || [".", ".."].contains(&value.as_str()) || [".", ".."].contains(g) {
                return None;
            }
            params.insert(name.to_owned(), value);
        } else if w != g {
            return None;
        }
    }
    Some(params)
}

/// The arguments of a tool that fill a `{param}` of its template, found by
/// building its request in-process with a marker in each string argument.
fn string_path_args(
    tool: &gojira_runtime::catalog::Tool,
    args: &Map<String, Value>,
) -> Vec<(String, String)> {
    let template = tool.spec.path;
    let mut found = Vec::new();
    for (name, value) in args {
        if !value.is_string() {
            continue;
        }
        let mut probe = args.clone();
        probe.insert(name.clone(), json!("zqMARKERqz"));
        let Ok(built) = (tool.spec.build)(Value::Object(probe)) else {
            continue;
        };
        if let Some(params) = matches(template, &built.path) {
            for (param, v) in params {
                if v == "zqMARKERqz" {
                    found.push((name.clone(), param));
                }
            }
        }
    }
    found
}

/// The snapshot tool a write reads before it changes anything.
/// The reads a write's declarations make before it is sent: its snapshot,
/// and its impact (the list read and the per-item read).
fn declared_reads(spec: &gojira_runtime::catalog::ToolSpec) -> Vec<String> {
    let Some(safety) = spec
        .safety
        .and_then(|s| serde_json::from_str::<Value>(s).ok())
    else {
        return Vec::new();
    };
    [
        &safety["snapshot"]["tool"],
        &safety["impact"]["tool"],
        &safety["impact"]["each"]["tool"],
    ]
    .into_iter()
    .filter_map(Value::as_str)
    .map(str::to_owned)
    .collect()
}

/// Every tool, every string path parameter, every hostile value; reads
/// called once, writes previewed, committed with the preview's digest, and
/// sent `commit: true` without one. Every request that reaches the fake
/// matches its tool's template (or, for a write's snapshot and impact
/// reads, those tools'); refused values get INVALID_ARGUMENTS naming the
/// argument, with nothing sent.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_path_parameter_never_leaves_its_template() {
    let fake = start_fake().await;
    let mut env = fake_env(&fake, &all_groups());
    // A sweep of several hundred requests; pacing has its own tests (pacing.rs).
    env.insert("GOJIRA_UPSTREAM_PACING".into(), "off".into());
    let server = start_server(&env);
    let client = connect(&server, ProtocolVersion::V_2025_06_18).await;
    let listed: Vec<String> = client
        .list_all_tools()
        .await
        .expect("tools/list")
        .into_iter()
        .map(|t| t.name.to_string())
        .collect();
    let catalog = gojira_runtime::Catalog::new(
        gojira_generated::PRODUCTS,
        gojira_generated::GROUPS,
        gojira_generated::TOOLSETS,
    )
    .expect("catalog");
    let templates: BTreeMap<&str, String> = catalog
        .tools
        .values()
        .map(|t| (t.spec.name, full_template(t.spec)))
        .collect();
    let values = hostile_values();
    let started = std::time::Instant::now();
    let mut failures = Vec::new();
    let (mut calls, mut sent, mut writes, mut path_params) = (0usize, 0usize, 0usize, 0usize);
    for tool in catalog.tools.values() {
        let Value::Object(base_args) = minimal(&Value::Object((**tool.input_schema()).clone()))
        else {
            panic!("{}: minimal arguments", tool.spec.name);
        };
        let own = &templates[tool.spec.name];
        if tool.spec.hidden {
            // Catalog-only (only gojira.revert calls it): not callable over
            // MCP, so its requests are built in-process, as a revert does.
            assert!(
                !listed.iter().any(|n| n == tool.spec.name),
                "{} is hidden but listed",
                tool.spec.name
            );
            for (arg, param) in string_path_args(tool, &base_args) {
                path_params += 1;
                for (value, _) in &values {
                    let mut args = base_args.clone();
                    args.insert(arg.clone(), Value::String(value.clone()));
                    if let Ok(built) = (tool.spec.build)(Value::Object(args)) {
                        // The operation's own template (the request is not sent: no base path).
                        if matches(tool.spec.path, &built.path)
                            .and_then(|hit| hit.get(&param).cloned())
                            .as_ref()
                            != Some(value)
                        {
                            failures.push(format!(
                                "{} (hidden) {arg}={value:?}: built {}, outside {}",
                                tool.spec.name, built.path, tool.spec.path
                            ));
                        }
                    }
                }
            }
            continue;
        }
        assert!(
            listed.iter().any(|n| n == tool.spec.name),
            "{} is served",
            tool.spec.name
        );
        let mut allowed = vec![own.clone()];
        for read in declared_reads(tool.spec) {
            allowed.push(templates[read.as_str()].clone());
        }
        let takes_commit = tool
            .input_schema()
            .get("properties")
            .is_some_and(|p| p.get("commit").is_some());
        for (arg, param) in string_path_args(tool, &base_args) {
            path_params += 1;
            for (value, refuse) in &values {
                let mut args = base_args.clone();
                args.insert(arg.clone(), Value::String(value.clone()));
                let mut attempts = vec![("call", Value::Object(args.clone()))];
                if takes_commit {
                    let mut direct = args.clone();
                    direct.insert("commit".into(), json!(true));
                    attempts.push(("commit without preview", Value::Object(direct)));
                }
                let mut i = 0;
                while i < attempts.len() {
                    let (how, attempt) = attempts[i].clone();
                    i += 1;
                    fake.clear_requests();
                    let result = call(&client, tool.spec.name, attempt.clone())
                        .await
                        .expect("tools/call");
                    calls += 1;
                    let requests = fake.requests();
                    sent += requests.len();
                    writes += requests.iter().filter(|r| r.method != "GET").count();
                    let what = format!("{} {how} {arg}={value:?}", tool.spec.name);
                    for r in &requests {
                        let Some(hit) = allowed.iter().find_map(|t| matches(t, &r.path)) else {
                            failures.push(format!(
                                "{what}: {} {} is outside {}",
                                r.method,
                                r.path,
                                allowed.join(" | ")
                            ));
                            continue;
                        };
                        if r.method == tool.spec.method.as_str()
                            && matches(own, &r.path).is_some()
                            && hit.get(&param) != Some(value)
                        {
                            failures.push(format!(
                                "{what}: {{{param}}} arrived as {:?} in {}",
                                hit.get(&param),
                                r.path
                            ));
                        }
                    }
                    let message = text(&result);
                    if *refuse {
                        if error_code(&result).as_deref() != Some("INVALID_ARGUMENTS")
                            || !message.contains(&format!("{arg}: "))
                            || !message.contains("dot segments and empty values are refused")
                        {
                            failures.push(format!(
                                "{what}: expected INVALID_ARGUMENTS naming {arg}, got: {message}"
                            ));
                        }
                        if !requests.is_empty() {
                            failures.push(format!(
                                "{what}: refused value sent {} request(s)",
                                requests.len()
                            ));
                        }
                    } else if how == "call"
                        && takes_commit
                        && let Some(digest) = result
                            .structured_content
                            .as_ref()
                            .and_then(|s| s.get("planDigest"))
                    {
                        // Previewed: commit it, so the write itself is sent.
                        let mut commit = args.clone();
                        commit.insert("commit".into(), json!(true));
                        commit.insert("planDigest".into(), digest.clone());
                        attempts.push(("commit", Value::Object(commit)));
                    }
                }
            }
        }
    }
    eprintln!(
        "{path_params} string path parameters, {calls} calls, {sent} requests reached the fake ({writes} writes), {:?}",
        started.elapsed()
    );
    assert!(
        path_params > 0 && sent > 0 && writes > 0,
        "the sweep reached nothing"
    );
    // Requests that left their template first: they are the escapes.
    failures.sort_by_key(|f| !f.contains(" is outside "));
    let escapes = failures
        .iter()
        .filter(|f| f.contains(" is outside "))
        .count();
    assert!(
        failures.is_empty(),
        "{} failures ({escapes} requests outside their template); first 30:\n{}",
        failures.len(),
        failures
            .iter()
            .take(30)
            .cloned()
            .collect::<Vec<_>>()
            .join("\n")
    );
    client.cancel().await.ok();
}
