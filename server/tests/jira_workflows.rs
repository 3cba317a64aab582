//! Workflows, statuses and workflow-scheme drafts end to end: the real
//! binary over HTTP, a real MCP client, the seeded fake Atlassian. One
//! round trip per write family (statuses, workflows), each write and each
//! revert checked against what the fake then holds, read straight from the
//! fake; and the asynchronous draft publish, through `gojira.task.get`, to a
//! task that finishes and to one that fails.

#![allow(clippy::expect_used, clippy::unwrap_used, clippy::panic)]

mod common;
#[path = "common/roundtrip.rs"]
mod roundtrip;

use common::*;
use fake_atlassian::{FakeHandle, Fault};
use rmcp::model::ProtocolVersion;
use roundtrip::{ok, seeded_fake};
use serde_json::{Value, json};

const GROUPS: &str = "utility,read_workflows,write_workflows";
/// A workflow the seeded tenant's ROBO project uses (version 7, three transitions).
const ROBO_FLOW: &str = "b9ff2384-d3b6-4d4e-9509-3ee19f607168";
const TASK: &str = "/rest/api/3/task/20001";

/// What the fake holds, asked directly (not through gojira).
async fn at_fake(fake: &FakeHandle, method: &str, path: &str, body: Option<Value>) -> Value {
    let url = format!("{}{path}", fake.base_url());
    let client = reqwest::Client::new();
    let request = match method {
        "GET" => client.get(url),
        "POST" => client.post(url),
        other => panic!("{other}"),
    };
    let request = match body {
        Some(body) => request.json(&body),
        None => request,
    };
    let response = request
        .basic_auth("observer@example.com", Some("observer-token"))
        .send()
        .await
        .expect("the fake answers");
    let status = response.status().as_u16();
    let value: Value = response.json().await.unwrap_or(Value::Null);
    assert!(status < 300, "{method} {path}: {status} {value}");
    value
}

async fn statuses_at_fake(fake: &FakeHandle, ids: &[&str]) -> Vec<Value> {
    let query: Vec<String> = ids.iter().map(|id| format!("id={id}")).collect();
    let path = format!("/rest/api/3/statuses?{}", query.join("&"));
    at_fake(fake, "GET", &path, None)
        .await
        .as_array()
        .cloned()
        .unwrap_or_default()
}

async fn status_named(fake: &FakeHandle, name: &str) -> Vec<Value> {
    let path = format!(
        "/rest/api/3/statuses/search?searchString={}",
        name.replace(' ', "%20")
    );
    let page = at_fake(fake, "GET", &path, None).await;
    page["values"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|s| s["name"] == name)
        .cloned()
        .collect()
}

async fn workflows_at_fake(fake: &FakeHandle, body: Value) -> Vec<Value> {
    at_fake(fake, "POST", "/rest/api/3/workflows", Some(body)).await["workflows"]
        .as_array()
        .cloned()
        .unwrap_or_default()
}

async fn revert(client: &Client, journal_id: u64) -> Value {
    let (plan, done) =
        preview_and_commit(client, "gojira.revert", json!({"journalIds": [journal_id]})).await;
    assert_eq!(plan["dryRun"], true, "{plan}");
    ok(&done)
}

fn journal_id(answer: &Value) -> u64 {
    answer["journalId"]
        .as_u64()
        .unwrap_or_else(|| panic!("a journalId: {answer}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn statuses_are_created_updated_deleted_and_each_revert_restores_the_fake() {
    let fake = seeded_fake().await;
    let server = start_server(&fake_env(&fake, GROUPS));
    let client = connect(&server, ProtocolVersion::V_2025_11_25).await;

    // Create, then revert: the new status is gone again.
    let created = ok(&call(
        &client,
        "jira.createStatuses",
        json!({"body": {"scope": {"type": "GLOBAL"}, "statuses": [
            {"name": "Waiting for QA", "statusCategory": "IN_PROGRESS", "description": "Built, not yet tested."}
        ]}}),
    )
    .await
    .unwrap());
    let made = status_named(&fake, "Waiting for QA").await;
    assert_eq!(made.len(), 1, "created at the fake: {created}");
    let new_id = made[0]["id"].as_str().unwrap().to_owned();
    revert(&client, journal_id(&created)).await;
    assert!(
        statuses_at_fake(&fake, &[&new_id]).await.is_empty(),
        "the revert deleted the created status"
    );

    // Update, then revert: name and description come back.
    let (plan, updated) = preview_and_commit(
        &client,
        "jira.updateStatuses",
        json!({"body": {"statuses": [
            {"id": "10003", "name": "Blocked externally", "statusCategory": "TODO", "description": "Vendor."}
        ]}}),
    )
    .await;
    assert_eq!(plan["before"]["result"][0]["name"], "Blocked", "{plan}");
    let updated = ok(&updated);
    let now = statuses_at_fake(&fake, &["10003"]).await;
    assert_eq!(now[0]["name"], "Blocked externally");
    assert_eq!(now[0]["statusCategory"], "TODO");
    revert(&client, journal_id(&updated)).await;
    let back = statuses_at_fake(&fake, &["10003"]).await;
    assert_eq!(back[0]["name"], "Blocked", "{back:?}");
    assert_eq!(back[0]["statusCategory"], "IN_PROGRESS");
    assert_eq!(
        back[0]["description"],
        "Waiting on something outside the team."
    );

    // Delete, then revert: a status of that name and category exists again (new id).
    let (plan, deleted) =
        preview_and_commit(&client, "jira.deleteStatuses", json!({"id": ["10004"]})).await;
    assert_eq!(plan["before"]["result"][0]["name"], "Obsolete", "{plan}");
    let deleted = ok(&deleted);
    assert!(statuses_at_fake(&fake, &["10004"]).await.is_empty());
    revert(&client, journal_id(&deleted)).await;
    let again = status_named(&fake, "Obsolete").await;
    assert_eq!(again.len(), 1, "recreated");
    assert_eq!(again[0]["statusCategory"], "DONE");
    assert_eq!(again[0]["description"], "No longer used by any workflow.");
    assert_ne!(again[0]["id"], "10004", "a recreated status has a new id");
    client.cancel().await.ok();
}

fn new_workflow(name: &str) -> Value {
    let transition = |id: &str, name: &str, kind: &str, to: &str, from: Option<&str>| {
        json!({"id": id, "name": name, "type": kind, "toStatusReference": to,
               "links": from.map(|f| vec![json!({"fromStatusReference": f})]).unwrap_or_default(),
               "actions": [], "validators": [], "triggers": [], "properties": {}})
    };
    json!({"body": {
        "scope": {"type": "GLOBAL"},
        "statuses": [
            {"id": "10000", "name": "To Do", "statusCategory": "TODO", "statusReference": "10000"},
            {"id": "10002", "name": "Done", "statusCategory": "DONE", "statusReference": "10002"}
        ],
        "workflows": [{
            "name": name,
            "description": "Two steps.",
            "statuses": [
                {"statusReference": "10000", "properties": {}},
                {"statusReference": "10002", "properties": {}}
            ],
            "transitions": [
                transition("1", "Create", "INITIAL", "10000", None),
                transition("11", "Ship", "DIRECTED", "10002", Some("10000"))
            ]
        }]
    }})
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn workflows_are_created_updated_deleted_and_each_revert_restores_the_fake() {
    let fake = seeded_fake().await;
    let server = start_server(&fake_env(&fake, GROUPS));
    let client = connect(&server, ProtocolVersion::V_2025_11_25).await;
    let by_name = |name: &str| json!({"workflowNames": [name]});

    // Create, then revert: the workflow is deleted.
    let created = ok(&call(
        &client,
        "jira.createWorkflows",
        new_workflow("Release flow"),
    )
    .await
    .unwrap());
    let made = workflows_at_fake(&fake, by_name("Release flow")).await;
    assert_eq!(made.len(), 1, "{created}");
    assert_eq!(made[0]["transitions"].as_array().unwrap().len(), 2);
    let reverted = revert(&client, journal_id(&created)).await;
    assert!(
        workflows_at_fake(&fake, by_name("Release flow"))
            .await
            .is_empty(),
        "the revert deleted it: {reverted}"
    );

    // Update (drop a transition, change the description), then revert.
    let read = ok(&call(
        &client,
        "jira.getWorkflows",
        json!({"body": {"workflowIds": [ROBO_FLOW]}}),
    )
    .await
    .unwrap());
    let flow = read["workflows"][0].clone();
    assert_eq!(flow["version"]["versionNumber"], 7, "{read}");
    let mut transitions = flow["transitions"].as_array().unwrap().clone();
    transitions.truncate(2);
    let (plan, updated) = preview_and_commit(
        &client,
        "jira.updateWorkflows",
        json!({"body": {"workflows": [{
            "id": ROBO_FLOW,
            "version": flow["version"],
            "description": "Review step removed",
            "statuses": flow["statuses"],
            "transitions": transitions
        }]}}),
    )
    .await;
    assert_eq!(
        plan["before"]["workflows"][0]["description"], "To Do → In Progress → In Review → Done",
        "{plan}"
    );
    // Its blast radius: the projects whose workflow schemes use it.
    assert_eq!(plan["impact"]["usedBy"], json!([{"id": "10001"}]), "{plan}");
    let updated = ok(&updated);
    let now = workflows_at_fake(&fake, json!({"workflowIds": [ROBO_FLOW]})).await;
    assert_eq!(now[0]["transitions"].as_array().unwrap().len(), 2);
    assert_eq!(now[0]["version"]["versionNumber"], 8);
    assert_eq!(now[0]["description"], "Review step removed");
    revert(&client, journal_id(&updated)).await;
    let back = workflows_at_fake(&fake, json!({"workflowIds": [ROBO_FLOW]})).await;
    assert_eq!(
        back[0]["transitions"], flow["transitions"],
        "every transition is back"
    );
    assert_eq!(
        back[0]["description"],
        "To Do → In Progress → In Review → Done"
    );
    assert_eq!(
        back[0]["version"]["versionNumber"], 9,
        "the revert wrote the version the update left"
    );

    // Delete an inactive workflow, then revert: recreated under a new id.
    let temp = ok(
        &call(&client, "jira.createWorkflows", new_workflow("Temp flow"))
            .await
            .unwrap(),
    );
    let temp_id = temp["workflows"][0]["id"].as_str().unwrap().to_owned();
    let (plan, deleted) = preview_and_commit(
        &client,
        "jira.deleteWorkflow",
        json!({"workflowId": temp_id}),
    )
    .await;
    assert_eq!(
        plan["before"]["workflows"][0]["name"], "Temp flow",
        "{plan}"
    );
    let deleted = ok(&deleted);
    assert!(
        workflows_at_fake(&fake, by_name("Temp flow"))
            .await
            .is_empty()
    );
    revert(&client, journal_id(&deleted)).await;
    let again = workflows_at_fake(&fake, by_name("Temp flow")).await;
    assert_eq!(again.len(), 1, "recreated");
    assert_ne!(again[0]["id"], temp_id.as_str());
    assert_eq!(
        again[0]["transitions"].as_array().unwrap().len(),
        2,
        "{again:?}"
    );
    assert_eq!(again[0]["description"], "Two steps.");
    client.cancel().await.ok();
}

/// The draft publish answers 303 and a task; the task's poll answers `states` in turn.
fn publish_runs_as_a_task(fake: &FakeHandle, end: Value) {
    let task = |status: &str, progress: u32| {
        json!({"self": TASK, "id": "20001", "description": "Publish workflow scheme draft",
               "status": status, "progress": progress,
               "submitted": 1_700_000_000_000_u64, "lastUpdate": 1_700_000_000_000_u64})
    };
    fake.inject(
        Fault::status(303)
            .on_operation("publishDraftWorkflowScheme")
            .with_header("Location", TASK)
            .with_body(task("ENQUEUED", 0))
            .times(1),
    );
    fake.inject(
        Fault::status(200)
            .on_method("GET")
            .on_operation("jira-platform#getTask")
            .with_body(task("RUNNING", 50))
            .times(1),
    );
    let mut ended = task("COMPLETE", 100);
    if let (Value::Object(ended), Value::Object(end)) = (&mut ended, end) {
        ended.extend(end);
    }
    fake.inject(
        Fault::status(200)
            .on_method("GET")
            .on_operation("jira-platform#getTask")
            .with_body(ended),
    );
}

/// Publish the draft of scheme 10000, then poll its task until it ends; the
/// last poll's answer and the journal entry.
async fn publish_and_poll(client: &Client) -> (Value, Value, u64) {
    let (plan, done) = preview_and_commit(
        client,
        "jira.publishWorkflowSchemeDraft",
        json!({"schemeId": 10000, "body": {"statusMappings": []}}),
    )
    .await;
    assert_eq!(
        plan["revert"]["possible"], false,
        "the plan says it cannot be reverted: {plan}"
    );
    let done = ok(&done);
    assert_eq!(done["task"]["status"], "running", "{done}");
    let id = journal_id(&done);
    let handle = done["task"]["handle"].as_str().unwrap().to_owned();
    let entry = ok(&call(client, "gojira.journal.get", json!({"id": id}))
        .await
        .unwrap());
    assert_eq!(entry["status"], "running", "{entry}");
    let first = ok(&call(client, "gojira.task.get", json!({"task": handle}))
        .await
        .unwrap());
    assert_eq!(first["task"]["status"], "running", "{first}");
    let last = ok(&call(client, "gojira.task.get", json!({"task": handle}))
        .await
        .unwrap());
    let entry = ok(&call(client, "gojira.journal.get", json!({"id": id}))
        .await
        .unwrap());
    (last, entry, id)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_draft_publish_is_a_task_that_completes_and_cannot_be_reverted() {
    let fake = seeded_fake().await;
    publish_runs_as_a_task(&fake, json!({"result": "published"}));
    let server = start_server(&fake_env(&fake, GROUPS));
    let client = connect(&server, ProtocolVersion::V_2025_11_25).await;

    let (last, entry, id) = publish_and_poll(&client).await;
    assert_eq!(last["task"]["status"], "complete", "{last}");
    assert_eq!(entry["status"], "completed", "{entry}");
    let published: Vec<_> = fake
        .requests()
        .into_iter()
        .filter(|r| r.method == "POST")
        .map(|r| r.path)
        .collect();
    assert_eq!(
        published,
        ["/rest/api/3/workflowscheme/10000/draft/publish"]
    );

    let refused = call(&client, "gojira.revert", json!({"journalIds": [id]}))
        .await
        .unwrap();
    assert_eq!(refused.is_error, Some(true), "{}", text(&refused));
    assert!(
        text(&refused).contains("irreversible"),
        "{}",
        text(&refused)
    );
    client.cancel().await.ok();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_draft_publish_whose_task_fails_is_journaled_failed() {
    let fake = seeded_fake().await;
    publish_runs_as_a_task(
        &fake,
        json!({"status": "FAILED", "message": "Status 10001 has no mapping for issue type 10004"}),
    );
    let server = start_server(&fake_env(&fake, GROUPS));
    let client = connect(&server, ProtocolVersion::V_2025_11_25).await;

    let (last, entry, _) = publish_and_poll(&client).await;
    assert_eq!(last["task"]["status"], "failed", "{last}");
    assert!(
        last.to_string().contains("has no mapping"),
        "the task's message reaches the caller: {last}"
    );
    assert_eq!(entry["status"], "failed", "{entry}");
    client.cancel().await.ok();
}

/// The revert mappings restore one workflow: a call that created two is
/// refused as a whole at the revert's preview, not half reverted.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_create_of_two_workflows_is_not_half_reverted() {
    let fake = seeded_fake().await;
    let server = start_server(&fake_env(&fake, GROUPS));
    let client = connect(&server, ProtocolVersion::V_2025_11_25).await;
    let mut args = new_workflow("First flow");
    let second = {
        let mut w = args["body"]["workflows"][0].clone();
        w["name"] = json!("Second flow");
        w
    };
    args["body"]["workflows"]
        .as_array_mut()
        .unwrap()
        .push(second);
    let created = ok(&call(&client, "jira.createWorkflows", args).await.unwrap());
    let both = json!({"workflowNames": ["First flow", "Second flow"]});
    assert_eq!(workflows_at_fake(&fake, both.clone()).await.len(), 2);
    let refused = call(
        &client,
        "gojira.revert",
        json!({"journalIds": [journal_id(&created)]}),
    )
    .await
    .unwrap();
    assert_eq!(refused.is_error, Some(true), "{}", text(&refused));
    assert!(
        text(&refused).contains("workflowId"),
        "the missing inverse argument is named: {}",
        text(&refused)
    );
    assert_eq!(
        workflows_at_fake(&fake, both).await.len(),
        2,
        "nothing was deleted"
    );
    client.cancel().await.ok();
}

/// A workflow a workflow scheme still uses is not deleted: the refusal names
/// the scheme and the tool that takes the workflow out of it, and nothing is sent.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deleting_a_workflow_a_scheme_uses_is_refused_naming_the_scheme() {
    let fake = seeded_fake().await;
    let server = start_server(&fake_env(&fake, GROUPS));
    let client = connect(&server, ProtocolVersion::V_2025_11_25).await;
    let refused = call(
        &client,
        "jira.deleteWorkflow",
        json!({"workflowId": ROBO_FLOW}),
    )
    .await
    .unwrap();
    assert_eq!(refused.is_error, Some(true), "{}", text(&refused));
    let error = &refused.structured_content.clone().unwrap_or_default()["error"];
    assert_eq!(error["code"], "IN_USE", "{error}");
    assert_eq!(
        error["details"]["usedBy"],
        json!([{"id": "10000"}]),
        "{error}"
    );
    let message = text(&refused);
    assert!(message.contains("jira.updateWorkflowScheme"), "{message}");
    assert!(
        fake.requests().iter().all(|r| r.method != "DELETE"),
        "nothing was deleted"
    );
}
