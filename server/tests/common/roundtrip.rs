//! Round trips of admin writes through the real binary against the seeded
//! fake: perform a write the way an agent must (preview, then commit when
//! the tool asks for consent), revert it through `gojira.revert`, and read
//! the fake's own state (not gojira's answers) to check each step.

#![allow(dead_code)]

use fake_atlassian::{FakeAtlassian, FakeHandle};
use rmcp::model::CallToolResult;
use serde_json::{Value, json};

use super::{Client, call, text};

/// The fake with the seeded tenant `serve --sandbox` starts from.
pub async fn seeded_fake() -> FakeHandle {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let dir = fake_atlassian::find_specs_dir().expect("the Atlassian specs (see README)");
    FakeAtlassian::load(&dir)
        .expect("fake loads the specs")
        .with_seed()
        .expect("the builtin seed loads")
        .serve(0)
        .await
        .expect("fake binds")
}

/// The structured answer of a successful call.
pub fn ok(result: &CallToolResult) -> Value {
    assert_ne!(result.is_error, Some(true), "{}", text(result));
    result.structured_content.clone().unwrap_or(Value::Null)
}

/// Perform a write: a consent-`commit` tool answers a preview first, which
/// is committed with its digest; a consent-`none` tool runs at once.
pub async fn write(client: &Client, tool: &str, args: Value) -> Value {
    let first = ok(&call(client, tool, args.clone()).await.expect(tool));
    if first["dryRun"] != true {
        return first;
    }
    let mut args = args;
    args["commit"] = json!(true);
    args["planDigest"] = first["planDigest"].clone();
    ok(&call(client, tool, args).await.expect(tool))
}

/// The journal id of a committed write's answer.
pub fn journal_id(done: &Value) -> u64 {
    done["journalId"]
        .as_u64()
        .unwrap_or_else(|| panic!("a journalId: {done}"))
}

/// Revert one journaled write (preview, then commit); the revert's answer.
pub async fn revert(client: &Client, id: u64) -> Value {
    let done = write(client, "gojira.revert", json!({"journalIds": [id]})).await;
    assert_eq!(
        done["reverted"][0]["journalId"], id,
        "revert of {id} did not run: {done}"
    );
    done
}

/// What `gojira.revert` says when asked to revert `id` (an error's text).
pub async fn revert_refusal(client: &Client, id: u64) -> String {
    let answer = call(client, "gojira.revert", json!({"journalIds": [id]}))
        .await
        .expect("gojira.revert");
    assert_eq!(answer.is_error, Some(true), "{}", text(&answer));
    text(&answer)
}

/// GET a path of the fake directly: its state, not gojira's answer.
pub async fn fake_get(fake: &FakeHandle, path: &str) -> (u16, Value) {
    let response = reqwest::Client::new()
        .get(format!("{}{path}", fake.base_url()))
        .basic_auth("e2e@example.com", Some("e2e-secret-token"))
        .send()
        .await
        .expect("the fake answers");
    let status = response.status().as_u16();
    let body = response.json::<Value>().await.unwrap_or(Value::Null);
    (status, body)
}

/// The `values` (or the top-level array) of a list answer of the fake.
pub async fn fake_list(fake: &FakeHandle, path: &str) -> Vec<Value> {
    let (status, body) = fake_get(fake, path).await;
    assert_eq!(status, 200, "GET {path}: {body}");
    match body {
        Value::Array(items) => items,
        other => other["values"]
            .as_array()
            .cloned()
            .unwrap_or_else(|| panic!("GET {path} lists nothing: {other}")),
    }
}

/// The array `member` of an answer of the fake.
pub async fn fake_list_member(fake: &FakeHandle, path: &str, member: &str) -> Vec<Value> {
    let (status, body) = fake_get(fake, path).await;
    assert_eq!(status, 200, "GET {path}: {body}");
    body[member]
        .as_array()
        .cloned()
        .unwrap_or_else(|| panic!("GET {path} has no {member}: {body}"))
}

/// The values of `member` over a list's items, as text.
pub fn members(items: &[Value], member: &str) -> Vec<String> {
    items
        .iter()
        .map(|i| match &i[member] {
            Value::String(s) => s.clone(),
            other => other.to_string(),
        })
        .collect()
}
