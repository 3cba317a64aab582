//! Jira automation rules end to end (the `automation` product: its own
//! spec, base URL `{api}/automation/public/jira/{cloudId}`, the classic API
//! token): the real binary over HTTP, a real MCP client, the seeded fake.
//! One round trip per write family (rule definitions, rule state and scope,
//! manual rules), each write and each revert checked against what the fake
//! then holds, read straight from the fake.

#![allow(clippy::expect_used, clippy::unwrap_used, clippy::panic)]

mod common;
#[path = "common/roundtrip.rs"]
mod roundtrip;

use std::collections::BTreeMap;

use common::*;
use fake_atlassian::{DEFAULT_CLOUD_ID, FakeHandle};
use rmcp::model::ProtocolVersion;
use roundtrip::{ok, seeded_fake};
use serde_json::{Value, json};

const GROUPS: &str = "utility,read_automation,write_automation";
/// A seeded rule, enabled, scoped to project 10000.
const SUBTASKS_RULE: &str = "0192e5ac-0e25-71de-ba7b-d972e6a2049a";
const PROJECT_ARI: &str = "ari:cloud:jira:11111111-2222-3333-4444-555555555555:project/10000";

fn env(fake: &FakeHandle) -> BTreeMap<String, String> {
    let mut env = fake_env(fake, GROUPS);
    env.insert("ATLASSIAN_CLOUD_ID".into(), DEFAULT_CLOUD_ID.into());
    env
}

/// The rule as the fake holds it, asked directly (not through gojira).
async fn rule_at_fake(fake: &FakeHandle, uuid: &str) -> Value {
    let url = format!(
        "{}/automation/public/jira/{DEFAULT_CLOUD_ID}/rest/v1/rule/{uuid}",
        fake.base_url()
    );
    let response = reqwest::Client::new()
        .get(url)
        .basic_auth("observer@example.com", Some("observer-token"))
        .send()
        .await
        .expect("the fake answers");
    assert_eq!(response.status().as_u16(), 200, "rule {uuid}");
    response.json::<Value>().await.unwrap()["rule"].clone()
}

async fn revert(client: &Client, answer: &Value) -> Value {
    let id = answer["journalId"]
        .as_u64()
        .unwrap_or_else(|| panic!("a journalId: {answer}"));
    let (_, done) = preview_and_commit(client, "gojira.revert", json!({"journalIds": [id]})).await;
    ok(&done)
}

fn new_rule() -> Value {
    json!({"body": {"rule": {
        "name": "Label urgent bugs",
        "description": "Adds the urgent label to new highest-priority bugs.",
        "state": "ENABLED",
        "ruleScopeARIs": [PROJECT_ARI],
        "trigger": {"component": "TRIGGER", "type": "jira.issue.event.trigger:created",
                    "schemaVersion": 1, "value": {"eventKey": "jira:issue_created"}, "conditions": []},
        "components": [{"component": "ACTION", "type": "jira.issue.edit", "schemaVersion": 12,
                        "value": {"operations": [{"field": {"type": "NAME", "value": "labels"},
                                                  "type": "ADD", "value": "urgent"}]},
                        "children": [], "conditions": []}]
    }}})
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rule_definitions_are_created_updated_and_reverted_at_the_fake() {
    let fake = seeded_fake().await;
    let server = start_server(&env(&fake));
    let client = connect(&server, ProtocolVersion::V_2025_11_25).await;

    // Create, then revert: the API cannot delete a rule, so the revert disables it.
    let (plan, created) = preview_and_commit(&client, "automation.createRule", new_rule()).await;
    assert!(
        plan.to_string().contains("automation.setRuleState"),
        "the plan names the inverse: {plan}"
    );
    let created = ok(&created);
    let uuid = created["ruleUuid"].as_str().unwrap().to_owned();
    let rule = rule_at_fake(&fake, &uuid).await;
    assert_eq!(rule["name"], "Label urgent bugs");
    assert_eq!(rule["state"], "ENABLED");
    revert(&client, &created).await;
    let rule = rule_at_fake(&fake, &uuid).await;
    assert_eq!(rule["state"], "DISABLED", "the revert disabled it: {rule}");
    let writes: Vec<_> = fake
        .requests()
        .into_iter()
        .filter(|r| r.method != "GET")
        .map(|r| (r.method, r.path))
        .collect();
    assert!(
        writes.iter().all(|(_, p)| p.starts_with(&format!(
            "/automation/public/jira/{DEFAULT_CLOUD_ID}/rest/v1/rule"
        ))),
        "every call went to the automation base URL with the site's cloud id: {writes:?}"
    );

    // Update the seeded rule's definition, then revert: name, trigger and components come back.
    let before = rule_at_fake(&fake, SUBTASKS_RULE).await;
    let (plan, updated) = preview_and_commit(
        &client,
        "automation.updateRule",
        json!({"ruleUuid": SUBTASKS_RULE, "body": {"rule": {
            "name": "Close sub-tasks (v2)",
            "state": "ENABLED",
            "trigger": {"component": "TRIGGER", "type": "jira.manual.trigger.issue", "schemaVersion": 1,
                        "value": {}, "conditions": []},
            "components": []
        }}}),
    )
    .await;
    assert_eq!(
        plan["before"]["rule"]["name"], "Close sub-tasks when the parent is done",
        "{plan}"
    );
    let updated = ok(&updated);
    let now = rule_at_fake(&fake, SUBTASKS_RULE).await;
    assert_eq!(now["name"], "Close sub-tasks (v2)");
    assert_eq!(now["components"], json!([]));
    revert(&client, &updated).await;
    let back = rule_at_fake(&fake, SUBTASKS_RULE).await;
    for field in [
        "name",
        "description",
        "state",
        "trigger",
        "components",
        "ruleScopeARIs",
    ] {
        assert_eq!(back[field], before[field], "{field} is restored: {back}");
    }

    // From a template, then revert: disabled as well.
    let (_, templated) = preview_and_commit(
        &client,
        "automation.createRuleFromTemplate",
        json!({"body": {"templateId": "software_template_20", "ruleHome": PROJECT_ARI}}),
    )
    .await;
    let templated = ok(&templated);
    let uuid = templated["ruleUuid"].as_str().unwrap().to_owned();
    assert_eq!(rule_at_fake(&fake, &uuid).await["state"], "ENABLED");
    revert(&client, &templated).await;
    assert_eq!(rule_at_fake(&fake, &uuid).await["state"], "DISABLED");
    client.cancel().await.ok();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rule_state_and_scope_changes_are_reverted_at_the_fake() {
    let fake = seeded_fake().await;
    let server = start_server(&env(&fake));
    let client = connect(&server, ProtocolVersion::V_2025_11_25).await;

    let listed = ok(&call(
        &client,
        "automation.searchRules",
        json!({"body": {"state": "ENABLED"}}),
    )
    .await
    .unwrap());
    assert!(
        listed
            .to_string()
            .contains("Close sub-tasks when the parent is done"),
        "{listed}"
    );

    // Disable (the kill switch needs no preview), then revert: enabled again.
    let disabled = ok(&call(
        &client,
        "automation.setRuleState",
        json!({"ruleUuid": SUBTASKS_RULE, "body": {"value": "DISABLED"}}),
    )
    .await
    .unwrap());
    assert_eq!(
        rule_at_fake(&fake, SUBTASKS_RULE).await["state"],
        "DISABLED"
    );
    revert(&client, &disabled).await;
    assert_eq!(rule_at_fake(&fake, SUBTASKS_RULE).await["state"], "ENABLED");

    // Make it global, then revert: back to its one project.
    let site = format!("ari:cloud:jira::site/{DEFAULT_CLOUD_ID}");
    let (plan, scoped) = preview_and_commit(
        &client,
        "automation.updateRuleScope",
        json!({"ruleUuid": SUBTASKS_RULE, "body": {"ruleScopeARIs": [site]}}),
    )
    .await;
    assert_eq!(
        plan["before"]["rule"]["ruleScopeARIs"],
        json!([PROJECT_ARI]),
        "{plan}"
    );
    let scoped = ok(&scoped);
    assert_eq!(
        rule_at_fake(&fake, SUBTASKS_RULE).await["ruleScopeARIs"],
        json!([site])
    );
    revert(&client, &scoped).await;
    assert_eq!(
        rule_at_fake(&fake, SUBTASKS_RULE).await["ruleScopeARIs"],
        json!([PROJECT_ARI])
    );
    client.cancel().await.ok();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_manual_rule_run_is_journaled_and_cannot_be_reverted() {
    let fake = seeded_fake().await;
    let server = start_server(&env(&fake));
    let client = connect(&server, ProtocolVersion::V_2025_11_25).await;

    let (plan, ran) = preview_and_commit(
        &client,
        "automation.invokeManualRule",
        json!({"ruleId": "42", "body": {"objects": [
            "ari:cloud:jira:11111111-2222-3333-4444-555555555555:issue/10010"
        ]}}),
    )
    .await;
    assert_eq!(plan["revert"]["possible"], false, "{plan}");
    let ran = ok(&ran);
    let sent: Vec<_> = fake
        .requests()
        .into_iter()
        .filter(|r| r.method == "POST")
        .map(|r| r.path)
        .collect();
    assert_eq!(
        sent,
        [format!(
            "/automation/public/jira/{DEFAULT_CLOUD_ID}/rest/v1/rule/manual/42/invocation"
        )]
    );
    let id = ran["journalId"].as_u64().unwrap();
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
