//! The seeded tenant's bulk endpoints (`seed/workflows.json`): statuses and
//! workflows read and written several at a time, automation rules wrapped in
//! `{"rule": …}`. Every answer is valid against its response schema, writes
//! show in the next read, a stale workflow version is refused with 409 and an
//! unknown id with 404.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use common::{BASIC, Resp, fake, send};
use fake_atlassian::{DEFAULT_CLOUD_ID, FakeAtlassian};
use serde_json::{Value, json};

const FLOW: &str = "b9ff2384-d3b6-4d4e-9509-3ee19f607168";

/// Sends, and checks a success against the serving operation's response schema.
async fn checked(fake: &FakeAtlassian, method: &str, path: &str, body: Option<Value>) -> Resp {
    let resp = send(fake, method, path, Some(BASIC), body).await;
    if resp.status < 300 && resp.status != 204 {
        let label = fake.requests().last().unwrap().operation.clone().unwrap();
        if let Err(errors) = fake.check_response(&label, &resp.body) {
            panic!("{label} ({path}) answer invalid: {errors:?}\n{}", resp.body);
        }
    }
    resp
}

#[tokio::test]
async fn statuses_are_read_created_updated_and_deleted_in_bulk() {
    let fake = fake().with_seed().unwrap();
    let read = checked(&fake, "GET", "/rest/api/3/statuses?id=3&id=10002", None).await;
    let names: Vec<&str> = read
        .body
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["In Progress", "Done"]);

    let created = checked(
        &fake,
        "POST",
        "/rest/api/3/statuses",
        Some(json!({"scope": {"type": "GLOBAL"}, "statuses": [
            {"name": "QA", "statusCategory": "IN_PROGRESS"},
            {"name": "Shipped", "statusCategory": "DONE"}
        ]})),
    )
    .await;
    assert_eq!(created.status, 200, "{}", created.body);
    let ids: Vec<String> = created
        .body
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["id"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(created.body[1]["scope"]["type"], "GLOBAL");

    let updated = send(
        &fake,
        "PUT",
        "/rest/api/3/statuses",
        Some(BASIC),
        Some(json!({"statuses": [{"id": ids[0], "name": "Quality", "statusCategory": "IN_PROGRESS"}]})),
    )
    .await;
    assert_eq!(updated.status, 204, "{}", updated.body);
    let path = format!("/rest/api/3/statuses?id={}", ids[0]);
    assert_eq!(
        checked(&fake, "GET", &path, None).await.body[0]["name"],
        "Quality"
    );

    let missing = send(
        &fake,
        "DELETE",
        "/rest/api/3/statuses?id=99999",
        Some(BASIC),
        None,
    )
    .await;
    assert_eq!(missing.status, 404, "{}", missing.body);
    let both = format!("/rest/api/3/statuses?id={}&id={}", ids[0], ids[1]);
    let deleted = send(&fake, "DELETE", &both, Some(BASIC), None).await;
    assert_eq!(deleted.status, 204, "{}", deleted.body);
    assert_eq!(checked(&fake, "GET", &both, None).await.body, json!([]));
}

#[tokio::test]
async fn workflows_are_read_by_id_or_name_and_updates_check_the_version() {
    let fake = fake().with_seed().unwrap();
    let by_name = checked(
        &fake,
        "POST",
        "/rest/api/3/workflows",
        Some(json!({"workflowNames": ["Software Simplified Workflow for Project ROBO"]})),
    )
    .await;
    let flow = by_name.body["workflows"][0].clone();
    assert_eq!(flow["id"], FLOW, "{}", by_name.body);
    assert_eq!(flow["version"]["versionNumber"], 7);

    let update = |version: u64| {
        json!({"workflows": [{"id": FLOW, "version": {"id": flow["version"]["id"], "versionNumber": version},
                              "statuses": flow["statuses"], "transitions": [], "description": "Emptied"}]})
    };
    let stale = send(
        &fake,
        "POST",
        "/rest/api/3/workflows/update",
        Some(BASIC),
        Some(update(6)),
    )
    .await;
    assert_eq!(stale.status, 409, "{}", stale.body);
    let done = checked(
        &fake,
        "POST",
        "/rest/api/3/workflows/update",
        Some(update(7)),
    )
    .await;
    assert_eq!(
        done.body["workflows"][0]["version"]["versionNumber"], 8,
        "{}",
        done.body
    );
    assert_eq!(done.body["workflows"][0]["transitions"], json!([]));
    let again = send(
        &fake,
        "POST",
        "/rest/api/3/workflows/update",
        Some(BASIC),
        Some(update(7)),
    )
    .await;
    assert_eq!(again.status, 409, "the version moved on: {}", again.body);

    let created = checked(
        &fake,
        "POST",
        "/rest/api/3/workflows/create",
        Some(
            json!({"scope": {"type": "GLOBAL"}, "statuses": [], "workflows": [
                {"name": "Small", "statuses": [], "transitions": []}
            ]}),
        ),
    )
    .await;
    let id = created.body["workflows"][0]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(created.body["workflows"][0]["version"]["versionNumber"], 1);
    let deleted = send(
        &fake,
        "DELETE",
        &format!("/rest/api/3/workflow/{id}"),
        Some(BASIC),
        None,
    )
    .await;
    assert_eq!(deleted.status, 204, "{}", deleted.body);
    let gone = checked(
        &fake,
        "POST",
        "/rest/api/3/workflows",
        Some(json!({"workflowIds": [id]})),
    )
    .await;
    assert_eq!(gone.body["workflows"], json!([]));
}

#[tokio::test]
async fn automation_rules_travel_wrapped_and_their_state_and_scope_change() {
    let fake = fake().with_seed().unwrap();
    let base = format!("/automation/public/jira/{DEFAULT_CLOUD_ID}/rest/v1");
    let listed = checked(
        &fake,
        "POST",
        &format!("{base}/rule/summary"),
        Some(json!({})),
    )
    .await;
    assert_eq!(
        listed.body["data"].as_array().unwrap().len(),
        3,
        "{}",
        listed.body
    );

    let created = checked(
        &fake,
        "POST",
        &format!("{base}/rule"),
        Some(json!({"rule": {"name": "New", "trigger": {"component": "TRIGGER", "type": "jira.manual.trigger.issue"}}})),
    )
    .await;
    let uuid = created.body["ruleUuid"].as_str().unwrap().to_owned();
    let rule = |fake: &FakeAtlassian| {
        let path = format!("{base}/rule/{uuid}");
        let fake = fake.clone();
        async move { checked(&fake, "GET", &path, None).await.body["rule"].clone() }
    };
    let got = rule(&fake).await;
    assert_eq!(
        (
            got["name"].clone(),
            got["state"].clone(),
            got["uuid"].clone()
        ),
        (json!("New"), json!("ENABLED"), json!(uuid))
    );

    let state = send(
        &fake,
        "PUT",
        &format!("{base}/rule/{uuid}/state"),
        Some(BASIC),
        Some(json!({"value": "DISABLED"})),
    )
    .await;
    assert_eq!(state.status, 200, "{}", state.body);
    let scope = json!(["ari:cloud:jira:c:project/1"]);
    let scoped = send(
        &fake,
        "PUT",
        &format!("{base}/rule/{uuid}/rule-scope"),
        Some(BASIC),
        Some(json!({"ruleScopeARIs": scope})),
    )
    .await;
    assert_eq!(scoped.status, 200, "{}", scoped.body);
    let renamed = checked(
        &fake,
        "PUT",
        &format!("{base}/rule/{uuid}"),
        Some(json!({"rule": {"name": "Renamed"}})),
    )
    .await;
    assert_eq!(renamed.body["ruleUuid"], json!(uuid));
    let got = rule(&fake).await;
    assert_eq!(
        (
            got["name"].clone(),
            got["state"].clone(),
            got["ruleScopeARIs"].clone()
        ),
        (json!("Renamed"), json!("DISABLED"), scope)
    );

    let missing = send(
        &fake,
        "GET",
        &format!("{base}/rule/no-such-rule"),
        Some(BASIC),
        None,
    )
    .await;
    assert_eq!(missing.status, 404, "{}", missing.body);
}
