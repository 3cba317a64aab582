//! Asynchronous operations end to end (the real binary over HTTP, the fake
//! Atlassian): a write Atlassian runs as a task answers gojira's task
//! shape, is journaled `running` (never `completed`) until
//! `gojira.task.get` sees the task end, and a task handle polls only for
//! the user whose write started it.

#![allow(clippy::expect_used, clippy::unwrap_used, clippy::panic)]

mod common;

use common::oauth::*;
use common::*;
use fake_atlassian::{DEFAULT_ACCOUNT_ID, DEFAULT_CLOUD_ID, FakeHandle, FakeUser, Fault};
use rmcp::model::{CallToolResult, ProtocolVersion};
use serde_json::{Value, json};

const GROUPS: &str = "utility,read_customfields,write_customfields";
const TASK: &str = "/rest/api/3/task/10001";

fn ok(result: &CallToolResult) -> Value {
    assert_ne!(result.is_error, Some(true), "{}", text(result));
    result.structured_content.clone().unwrap_or(Value::Null)
}

/// Jira answers the custom-field delete with 303 and a task, as it does.
fn delete_runs_as_a_task(fake: &FakeHandle) {
    for fault in Fault::accepted_task(303, "deleteCustomField", TASK, "jira-platform#getTask") {
        fake.inject(fault);
    }
}

async fn delete_field(client: &Client) -> Value {
    let (_, done) = preview_and_commit(
        client,
        "jira.deleteCustomField",
        json!({"fieldId": "customfield_10100"}),
    )
    .await;
    ok(&done)
}

async fn journal_status(client: &Client, id: u64) -> Value {
    ok(&call(client, "gojira.journal.get", json!({"id": id}))
        .await
        .unwrap())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_asynchronous_write_is_running_until_its_task_ends() {
    let fake = start_fake().await;
    delete_runs_as_a_task(&fake);
    let server = start_server(&fake_env(&fake, GROUPS));
    let client = connect(&server, ProtocolVersion::V_2025_11_25).await;

    let done = delete_field(&client).await;
    let task = &done["task"];
    assert_eq!(task["status"], "running", "{done}");
    assert_eq!(task["id"], "10001", "{done}");
    assert_eq!(task["product"], "jira", "{done}");
    let handle = task["handle"].as_str().expect("a task handle").to_owned();
    assert!(handle.starts_with("gt_"), "{done}");
    assert!(
        !handle.contains("task") && !handle.contains('/'),
        "the handle is opaque: {handle}"
    );
    assert!(
        done["next"].as_str().unwrap().contains("gojira.task.get"),
        "{done}"
    );
    let id = done["journalId"].as_u64().expect("journalId");
    let entry = journal_status(&client, id).await;
    assert_eq!(
        entry["status"], "running",
        "accepted is not completed: {entry}"
    );

    let first = ok(&call(&client, "gojira.task.get", json!({"task": handle}))
        .await
        .unwrap());
    assert_eq!(first["task"]["status"], "running", "{first}");
    assert_eq!(first["task"]["progress"], 40, "{first}");
    assert_eq!(journal_status(&client, id).await["status"], "running");

    let second = ok(&call(&client, "gojira.task.get", json!({"task": handle}))
        .await
        .unwrap());
    assert_eq!(second["task"]["status"], "complete", "{second}");
    assert_eq!(second["task"]["result"], json!({"ok": true}), "{second}");
    assert_eq!(second["journalId"], id, "{second}");
    let entry = journal_status(&client, id).await;
    assert_eq!(entry["status"], "completed", "{entry}");
    assert_eq!(
        entry["outcome"]["task"]["handle"],
        handle.as_str(),
        "{entry}"
    );

    // Polling an ended task again appends nothing; the chain still holds.
    let again = ok(&call(&client, "gojira.task.get", json!({"task": handle}))
        .await
        .unwrap());
    assert_eq!(again["task"]["status"], "complete", "{again}");
    let listed = ok(&call(&client, "gojira.journal.list", json!({}))
        .await
        .unwrap());
    assert_eq!(
        listed.to_string().matches("\"completed\"").count(),
        1,
        "{listed}"
    );
    let verified = ok(&call(&client, "gojira.journal.verify", json!({}))
        .await
        .unwrap());
    assert_eq!(verified["ok"], true, "{verified}");
    // The task was polled where Atlassian said, as the caller.
    let polls: Vec<_> = fake
        .requests()
        .into_iter()
        .filter(|r| r.method == "GET" && r.path.ends_with(TASK))
        .collect();
    assert_eq!(polls.len(), 3);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_task_handle_polls_only_for_the_user_who_started_it() {
    let fake = strict_fake().await;
    fake.fake().add_user(FakeUser::new(BOB, BOB_EMAIL, "Bob"));
    delete_runs_as_a_task(&fake);
    let server = start_server(&oauth_env(&fake, GROUPS));
    let alice = sign_in_as(&server, &fake, DEFAULT_ACCOUNT_ID).await;
    let bob = sign_in_as(&server, &fake, BOB).await;
    let alice_client = connect_as(&server, &alice.access).await;
    let bob_client = connect_as(&server, &bob.access).await;

    let done = delete_field(&alice_client).await;
    let handle = done["task"]["handle"]
        .as_str()
        .unwrap_or_else(|| panic!("a task handle: {done}"))
        .to_owned();

    let stolen = call(&bob_client, "gojira.task.get", json!({"task": handle}))
        .await
        .unwrap();
    assert_eq!(
        error_code(&stolen).as_deref(),
        Some("NOT_FOUND"),
        "{}",
        text(&stolen)
    );
    assert!(
        requests_to(&fake, TASK).is_empty(),
        "nothing was polled for Bob"
    );
    // A path instead of a handle is refused before anything is sent.
    let forged = call(&bob_client, "gojira.task.get", json!({"task": TASK}))
        .await
        .unwrap();
    assert!(error_code(&forged).is_some(), "{}", text(&forged));
    assert!(requests_to(&fake, TASK).is_empty());

    let polled = ok(
        &call(&alice_client, "gojira.task.get", json!({"task": handle}))
            .await
            .unwrap(),
    );
    assert_eq!(polled["task"]["status"], "running", "{polled}");
    let sent = requests_to(&fake, TASK);
    assert_eq!(sent.len(), 1);
    // Through the user's OAuth route to their site (an injected answer
    // comes before the fake authenticates, so no principal is recorded).
    assert_eq!(sent[0].auth_scheme.as_deref(), Some("Bearer"));
    assert_eq!(sent[0].cloud_id.as_deref(), Some(DEFAULT_CLOUD_ID));
}
