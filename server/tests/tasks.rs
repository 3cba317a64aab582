//! Asynchronous operations end to end (the real binary over HTTP, the fake
//! Atlassian): a write Atlassian runs as a task answers gojira's task
//! shape, is journaled `running` (never `completed`) until
//! `gojira.task.get` sees the task end, or the server's own polling does
//! when nobody asks (as the user who made the write), or its horizon passes
//! (`unknown`); a read run as a task answers the same shape; a task handle
//! polls only for the user whose call started it, and not past its horizon.

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
    // As Alice, through her OAuth route to her site.
    assert_eq!(sent[0].principal.as_deref(), Some(DEFAULT_ACCOUNT_ID));
    assert_eq!(sent[0].auth_scheme.as_deref(), Some("Bearer"));
    assert_eq!(sent[0].cloud_id.as_deref(), Some(DEFAULT_CLOUD_ID));
}

/// The journal entry `id` once its status is no longer `running` (the
/// server's own polling ends it), or the last one seen after `within`.
async fn journal_settled(client: &Client, id: u64, within: std::time::Duration) -> Value {
    let deadline = std::time::Instant::now() + within;
    loop {
        let entry = journal_status(client, id).await;
        if entry["status"] != "running" || std::time::Instant::now() >= deadline {
            return entry;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_read_atlassian_runs_as_a_task_answers_the_task_shape_and_is_pollable() {
    const READ_TASK: &str = "/rest/api/3/task/20002";
    let fake = start_fake().await;
    for fault in Fault::accepted_task(
        202,
        "getFieldsPaginated",
        READ_TASK,
        "jira-platform#getTask",
    ) {
        fake.inject(fault);
    }
    let server = start_server(&fake_env(&fake, GROUPS));
    let client = connect(&server, ProtocolVersion::V_2025_11_25).await;

    let answer = ok(
        &call(&client, "jira.searchFields", json!({"type": ["custom"]}))
            .await
            .unwrap(),
    );
    let task = &answer["task"];
    assert_eq!(task["status"], "running", "{answer}");
    assert_eq!(task["id"], "20002", "{answer}");
    assert_eq!(task["product"], "jira", "{answer}");
    let handle = task["handle"]
        .as_str()
        .unwrap_or_else(|| panic!("a task handle: {answer}"))
        .to_owned();
    assert!(handle.starts_with("gt_"), "{answer}");
    assert!(
        answer.get("journalId").is_none(),
        "a read is not journaled: {answer}"
    );
    assert!(
        answer["next"].as_str().unwrap().contains("gojira.task.get"),
        "{answer}"
    );

    let first = ok(&call(&client, "gojira.task.get", json!({"task": handle}))
        .await
        .unwrap());
    assert_eq!(first["task"]["status"], "running", "{first}");
    assert_eq!(first["task"]["progress"], 40, "{first}");
    let second = ok(&call(&client, "gojira.task.get", json!({"task": handle}))
        .await
        .unwrap());
    assert_eq!(second["task"]["status"], "complete", "{second}");
    assert_eq!(second["task"]["result"], json!({"ok": true}), "{second}");
    assert!(second.get("journalId").is_none(), "{second}");

    // No journal entry, and the task answer was not cached as the read's.
    let listed = ok(&call(&client, "gojira.journal.list", json!({}))
        .await
        .unwrap());
    assert_eq!(listed["operations"], json!([]), "{listed}");
    let again = ok(
        &call(&client, "jira.searchFields", json!({"type": ["custom"]}))
            .await
            .unwrap(),
    );
    assert!(again.get("task").is_none(), "{again}");
    assert_eq!(requests_to(&fake, READ_TASK).len(), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_server_finishes_unpolled_tasks_as_the_user_who_started_each() {
    const ALICE_TASK: &str = "/rest/api/3/task/30001";
    const BOB_TASK: &str = "/rest/api/3/task/30002";
    let fake = strict_fake().await;
    fake.fake().add_user(FakeUser::new(BOB, BOB_EMAIL, "Bob"));
    for location in [ALICE_TASK, BOB_TASK] {
        for fault in
            Fault::accepted_task(303, "deleteCustomField", location, "jira-platform#getTask")
        {
            fake.inject(fault);
        }
    }
    let mut env = oauth_env(&fake, GROUPS);
    env.insert("GOJIRA_TASK_POLL_INTERVAL_MS".into(), "200".into());
    let server = start_server(&env);
    let alice = sign_in_as(&server, &fake, DEFAULT_ACCOUNT_ID).await;
    let bob = sign_in_as(&server, &fake, BOB).await;
    let alice_client = connect_as(&server, &alice.access).await;
    let bob_client = connect_as(&server, &bob.access).await;

    let alice_write = delete_field(&alice_client).await;
    let bob_write = delete_field(&bob_client).await;
    assert_eq!(alice_write["task"]["id"], "30001", "{alice_write}");
    assert_eq!(bob_write["task"]["id"], "30002", "{bob_write}");

    // Nobody calls gojira.task.get: the server polls and records the end.
    let within = std::time::Duration::from_secs(8);
    for (client, write) in [(&alice_client, &alice_write), (&bob_client, &bob_write)] {
        let id = write["journalId"].as_u64().expect("journalId");
        let entry = journal_settled(client, id, within).await;
        assert_eq!(entry["status"], "completed", "{entry}\n{}", server.stderr());
        assert_eq!(
            entry["outcome"]["task"]["handle"], write["task"]["handle"],
            "{entry}"
        );
        assert_eq!(
            entry["outcome"]["result"]["result"],
            json!({"ok": true}),
            "{entry}"
        );
    }
    // Each task was polled with its own user's credential, never the other's.
    for (location, who) in [(ALICE_TASK, DEFAULT_ACCOUNT_ID), (BOB_TASK, BOB)] {
        let polls = requests_to(&fake, location);
        assert_eq!(polls.len(), 2, "RUNNING, then COMPLETE: {polls:?}");
        for poll in polls {
            assert_eq!(poll.principal.as_deref(), Some(who), "{poll:?}");
            assert_eq!(poll.auth_scheme.as_deref(), Some("Bearer"));
        }
    }
    let verified = ok(&call(&alice_client, "gojira.journal.verify", json!({}))
        .await
        .unwrap());
    assert_eq!(verified["ok"], true, "{verified}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_task_past_its_horizon_is_unknown_and_its_handle_not_found() {
    let fake = start_fake().await;
    fake.inject(
        Fault::status(303)
            .on_operation("deleteCustomField")
            .with_header("Location", TASK)
            .with_body(json!({"self": TASK, "id": "10001", "status": "ENQUEUED"}))
            .times(1),
    );
    // A task that never ends.
    fake.inject(
        Fault::status(200)
            .on_method("GET")
            .on_operation("jira-platform#getTask")
            .with_body(json!({"self": TASK, "id": "10001", "status": "RUNNING", "progress": 10})),
    );
    let mut env = fake_env(&fake, GROUPS);
    env.insert("GOJIRA_TASK_POLL_INTERVAL_MS".into(), "200".into());
    env.insert("GOJIRA_TASK_HORIZON_MS".into(), "1500".into());
    env.insert("LOG_LEVEL".into(), "debug".into());
    let server = start_server(&env);
    let client = connect(&server, ProtocolVersion::V_2025_11_25).await;

    // A handle gojira never issued (or one long gone).
    let unknown = call(
        &client,
        "gojira.task.get",
        json!({"task": format!("gt_{}", "0".repeat(32))}),
    )
    .await
    .unwrap();
    assert_eq!(
        error_code(&unknown).as_deref(),
        Some("NOT_FOUND"),
        "{}",
        text(&unknown)
    );
    assert!(
        text(&unknown).contains("gojira.journal.get"),
        "{}",
        text(&unknown)
    );

    let done = delete_field(&client).await;
    let handle = done["task"]["handle"].as_str().unwrap().to_owned();
    let id = done["journalId"].as_u64().unwrap();
    let live = ok(&call(&client, "gojira.task.get", json!({"task": handle}))
        .await
        .unwrap());
    assert_eq!(live["task"]["status"], "running", "{live}");

    // Past the horizon: the server stops polling and says it does not know.
    let entry = journal_settled(&client, id, std::time::Duration::from_secs(8)).await;
    assert_eq!(entry["status"], "unknown", "{entry}\n{}", server.stderr());
    let reason = entry["outcome"]["error"].as_str().unwrap_or_default();
    assert!(reason.contains("horizon"), "{entry}");
    let expired = call(&client, "gojira.task.get", json!({"task": handle}))
        .await
        .unwrap();
    assert_eq!(
        error_code(&expired).as_deref(),
        Some("NOT_FOUND"),
        "{}",
        text(&expired)
    );
    assert!(
        text(&expired).contains("gojira.journal.get"),
        "{}",
        text(&expired)
    );
    let polls_then = requests_to(&fake, TASK).len();
    tokio::time::sleep(std::time::Duration::from_millis(800)).await;
    assert_eq!(
        requests_to(&fake, TASK).len(),
        polls_then,
        "no poll after the horizon"
    );
}
