//! Custom fields end to end (the real binary, a real MCP client, the seeded
//! fake): each write family walks create, read back, update, revert and
//! delete through gojira, and the fake's own state is checked after every
//! revert. Field deletion runs as an Atlassian task followed with
//! `gojira.task.get`, to its end or its failure.

#![allow(clippy::expect_used, clippy::unwrap_used, clippy::panic)]

mod common;
#[path = "common/roundtrip.rs"]
mod roundtrip;

use common::*;
use fake_atlassian::Fault;
use rmcp::model::ProtocolVersion;
use roundtrip::*;
use serde_json::{Value, json};

const GROUPS: &str = "utility,read_customfields,write_customfields";
const FIELD: &str = "customfield_10040";

async fn options(fake: &fake_atlassian::FakeHandle, context: &str) -> Vec<Value> {
    fake_list(
        fake,
        &format!("/rest/api/3/field/{FIELD}/context/{context}/option"),
    )
    .await
}

async fn mapping(fake: &fake_atlassian::FakeHandle, kind: &str, context: &str) -> Vec<String> {
    let items = fake_list(
        fake,
        &format!("/rest/api/3/field/{FIELD}/context/{kind}mapping?contextId={context}"),
    )
    .await;
    let member = if kind == "project" {
        "projectId"
    } else {
        "issueTypeId"
    };
    items
        .iter()
        .filter(|i| i["contextId"] == context)
        .filter_map(|i| i[member].as_str().map(str::to_owned))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_field_context_its_projects_issue_types_and_options_round_trip() {
    let fake = seeded_fake().await;
    let server = start_server(&fake_env(&fake, GROUPS));
    let client = connect(&server, ProtocolVersion::V_2025_11_25).await;

    // Create a context: listed by the fake, with its projects and issue types.
    let created = write(
        &client,
        "jira.createFieldContext",
        json!({"fieldId": FIELD, "body": {"name": "WEB bugs", "projectIds": ["10002"], "issueTypeIds": ["10004"]}}),
    )
    .await;
    let context = created["id"].as_str().expect("context id").to_owned();
    let create_id = journal_id(&created);
    let contexts = fake_list(&fake, &format!("/rest/api/3/field/{FIELD}/context")).await;
    assert!(
        members(&contexts, "name").contains(&"WEB bugs".to_owned()),
        "{contexts:?}"
    );
    assert_eq!(mapping(&fake, "project", &context).await, ["10002"]);
    assert_eq!(mapping(&fake, "issuetype", &context).await, ["10004"]);
    let read = ok(&call(
        &client,
        "jira.listFieldContextProjects",
        json!({"fieldId": FIELD, "contextId": [context.parse::<i64>().unwrap()]}),
    )
    .await
    .unwrap());
    assert!(read.to_string().contains("10002"), "{read}");

    // Rename it, then revert: the old name is back.
    let renamed = write(
        &client,
        "jira.updateFieldContext",
        json!({"fieldId": FIELD, "contextId": context.parse::<i64>().unwrap(), "body": {"name": "WEB defects"}}),
    )
    .await;
    let names = |c: &[Value]| members(c, "name");
    let contexts = fake_list(&fake, &format!("/rest/api/3/field/{FIELD}/context")).await;
    assert!(
        names(&contexts).contains(&"WEB defects".to_owned()),
        "{contexts:?}"
    );
    revert(&client, journal_id(&renamed)).await;
    let contexts = fake_list(&fake, &format!("/rest/api/3/field/{FIELD}/context")).await;
    assert!(
        names(&contexts).contains(&"WEB bugs".to_owned()),
        "{contexts:?}"
    );
    assert!(
        !names(&contexts).contains(&"WEB defects".to_owned()),
        "{contexts:?}"
    );

    // Projects: assign one more, revert; remove one, revert.
    let ctx = context.parse::<i64>().unwrap();
    let assigned = write(
        &client,
        "jira.assignFieldContextProjects",
        json!({"fieldId": FIELD, "contextId": ctx, "body": {"projectIds": ["10000"]}}),
    )
    .await;
    assert_eq!(
        mapping(&fake, "project", &context).await,
        ["10002", "10000"]
    );
    revert(&client, journal_id(&assigned)).await;
    assert_eq!(mapping(&fake, "project", &context).await, ["10002"]);
    let removed = write(
        &client,
        "jira.removeFieldContextProjects",
        json!({"fieldId": FIELD, "contextId": ctx, "body": {"projectIds": ["10002"]}}),
    )
    .await;
    assert!(mapping(&fake, "project", &context).await.is_empty());
    revert(&client, journal_id(&removed)).await;
    assert_eq!(mapping(&fake, "project", &context).await, ["10002"]);

    // Issue types: the same two ways.
    let added = write(
        &client,
        "jira.addFieldContextIssueTypes",
        json!({"fieldId": FIELD, "contextId": ctx, "body": {"issueTypeIds": ["10001"]}}),
    )
    .await;
    assert_eq!(
        mapping(&fake, "issuetype", &context).await,
        ["10004", "10001"]
    );
    revert(&client, journal_id(&added)).await;
    assert_eq!(mapping(&fake, "issuetype", &context).await, ["10004"]);
    let taken = write(
        &client,
        "jira.removeFieldContextIssueTypes",
        json!({"fieldId": FIELD, "contextId": ctx, "body": {"issueTypeIds": ["10004"]}}),
    )
    .await;
    assert!(mapping(&fake, "issuetype", &context).await.is_empty());
    revert(&client, journal_id(&taken)).await;
    assert_eq!(mapping(&fake, "issuetype", &context).await, ["10004"]);

    // Options: add to the new context, rename and disable, revert, delete.
    let made = write(
        &client,
        "jira.createFieldOptions",
        json!({"fieldId": FIELD, "contextId": ctx, "body": {"options": [{"value": "R-400"}, {"value": "R-500"}]}}),
    )
    .await;
    let new_ids = members(made["options"].as_array().expect("options"), "id");
    assert_eq!(new_ids.len(), 2, "{made}");
    assert_eq!(
        members(&options(&fake, &context).await, "value"),
        ["R-400", "R-500"]
    );
    let changed = write(
        &client,
        "jira.updateFieldOptions",
        json!({"fieldId": FIELD, "contextId": ctx, "body": {"options": [
            {"id": new_ids[0], "value": "R-400 Mk2"},
            {"id": new_ids[1], "disabled": true}]}}),
    )
    .await;
    let now = options(&fake, &context).await;
    assert_eq!(members(&now, "value"), ["R-400 Mk2", "R-500"]);
    assert_eq!(members(&now, "disabled"), ["false", "true"]);
    revert(&client, journal_id(&changed)).await;
    let back = options(&fake, &context).await;
    assert_eq!(members(&back, "value"), ["R-400", "R-500"]);
    assert_eq!(members(&back, "disabled"), ["false", "false"]);
    let deleted = write(
        &client,
        "jira.deleteFieldOption",
        json!({"fieldId": FIELD, "contextId": ctx, "optionId": new_ids[1].parse::<i64>().unwrap()}),
    )
    .await;
    assert_eq!(members(&options(&fake, &context).await, "value"), ["R-400"]);
    let refused = revert_refusal(&client, journal_id(&deleted)).await;
    assert!(refused.contains("irreversible"), "{refused}");
    let refused = revert_refusal(&client, journal_id(&made)).await;
    assert!(refused.contains("irreversible"), "{refused}");

    // Revert the creation: the context is gone from the fake.
    revert(&client, create_id).await;
    let contexts = fake_list(&fake, &format!("/rest/api/3/field/{FIELD}/context")).await;
    assert!(
        !names(&contexts).contains(&"WEB bugs".to_owned()),
        "{contexts:?}"
    );
    let (status, _) = fake_get(
        &fake,
        &format!("/rest/api/3/field/{FIELD}/context/{context}/option"),
    )
    .await;
    assert!(status == 200 || status == 404, "{status}");

    // Defaults per context, as seeded.
    let defaults = ok(&call(
        &client,
        "jira.getFieldContextDefaults",
        json!({"fieldId": FIELD}),
    )
    .await
    .unwrap());
    assert!(defaults.to_string().contains("10301"), "{defaults}");
    // A seeded context's options are untouched by all of this.
    assert_eq!(
        members(&options(&fake, "10140").await, "value"),
        ["R-100", "R-200", "R-300", "R-50 (retired)"]
    );
    // Deleting a context is irreversible and says why.
    let gone = write(
        &client,
        "jira.deleteFieldContext",
        json!({"fieldId": FIELD, "contextId": 10141}),
    )
    .await;
    let contexts = fake_list(&fake, &format!("/rest/api/3/field/{FIELD}/context")).await;
    assert!(!members(&contexts, "id").contains(&"10141".to_owned()));
    assert!(
        revert_refusal(&client, journal_id(&gone))
            .await
            .contains("irreversible")
    );
}

async fn field_ids(fake: &fake_atlassian::FakeHandle, path: &str) -> Vec<String> {
    members(&fake_list(fake, path).await, "id")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn trash_and_restore_are_each_others_revert() {
    let fake = seeded_fake().await;
    let server = start_server(&fake_env(&fake, GROUPS));
    let client = connect(&server, ProtocolVersion::V_2025_11_25).await;
    const SEARCH: &str = "/rest/api/3/field/search";
    const TRASH: &str = "/rest/api/3/field/search/trashed";
    let field = "customfield_10042";
    assert!(field_ids(&fake, SEARCH).await.contains(&field.to_owned()));
    assert!(field_ids(&fake, TRASH).await.is_empty());

    let trashed = write(&client, "jira.trashCustomField", json!({"fieldId": field})).await;
    assert!(!field_ids(&fake, SEARCH).await.contains(&field.to_owned()));
    assert_eq!(field_ids(&fake, TRASH).await, [field]);
    let listed = ok(&call(&client, "jira.searchTrashedFields", json!({}))
        .await
        .unwrap());
    assert!(listed.to_string().contains("Contract value"), "{listed}");

    revert(&client, journal_id(&trashed)).await;
    assert!(field_ids(&fake, SEARCH).await.contains(&field.to_owned()));
    assert!(field_ids(&fake, TRASH).await.is_empty());

    // Restore is the inverse the other way round.
    write(&client, "jira.trashCustomField", json!({"fieldId": field})).await;
    let restored = write(
        &client,
        "jira.restoreCustomField",
        json!({"fieldId": field}),
    )
    .await;
    assert!(field_ids(&fake, SEARCH).await.contains(&field.to_owned()));
    revert(&client, journal_id(&restored)).await;
    assert_eq!(field_ids(&fake, TRASH).await, [field]);
    assert!(!field_ids(&fake, SEARCH).await.contains(&field.to_owned()));
}

const TASK: &str = "/rest/api/3/task/10077";

/// Jira answers the permanent delete with 303 and a task that ends in `status`.
fn deletion_task_ends(fake: &fake_atlassian::FakeHandle, status: &str) {
    let task = |state: &str, progress: u32| {
        json!({"self": TASK, "id": "10077", "description": "Delete custom field", "status": state,
               "progress": progress, "submitted": 1_700_000_000_000_u64, "lastUpdate": 1_700_000_000_000_u64})
    };
    let mut end = task(status, 100);
    if status == "FAILED" {
        end["message"] = json!("The custom field is locked and cannot be deleted.");
    }
    fake.inject(
        Fault::status(303)
            .on_operation("deleteCustomField")
            .with_header("Location", TASK)
            .with_body(task("ENQUEUED", 0))
            .times(1),
    );
    fake.inject(
        Fault::status(200)
            .on_method("GET")
            .on_operation("jira-platform#getTask")
            .with_body(end),
    );
}

async fn delete_and_follow(status: &str) -> (Value, Value, Value) {
    let fake = seeded_fake().await;
    deletion_task_ends(&fake, status);
    let server = start_server(&fake_env(&fake, GROUPS));
    let client = connect(&server, ProtocolVersion::V_2025_11_25).await;
    let done = write(
        &client,
        "jira.deleteCustomField",
        json!({"fieldId": "customfield_10042"}),
    )
    .await;
    assert_eq!(done["task"]["status"], "running", "{done}");
    let handle = done["task"]["handle"]
        .as_str()
        .expect("a task handle")
        .to_owned();
    let polled = ok(&call(&client, "gojira.task.get", json!({"task": handle}))
        .await
        .unwrap());
    let entry = ok(&call(
        &client,
        "gojira.journal.get",
        json!({"id": journal_id(&done)}),
    )
    .await
    .unwrap());
    (done, polled, entry)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_field_deletion_task_that_finishes_completes_its_journal_entry() {
    let (_, polled, entry) = delete_and_follow("COMPLETE").await;
    assert_eq!(polled["task"]["status"], "complete", "{polled}");
    assert_eq!(entry["status"], "completed", "{entry}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_field_deletion_task_that_fails_fails_its_journal_entry() {
    let (_, polled, entry) = delete_and_follow("FAILED").await;
    assert_eq!(polled["task"]["status"], "failed", "{polled}");
    assert!(
        polled.to_string().contains("locked and cannot be deleted"),
        "Atlassian's reason reaches the caller: {polled}"
    );
    assert_eq!(entry["status"], "failed", "{entry}");
}
