//! Jira schemes end to end (the real binary, a real MCP client, the seeded
//! fake Atlassian): the blast radius of scheme writes (the projects using the
//! scheme in the preview and the plan digest; deletes of schemes in use
//! refused, listing them), and one round trip per write family: create, read
//! back, update, revert (asserting the fake's state), delete.

#![allow(clippy::expect_used, clippy::unwrap_used, clippy::panic)]

mod common;

use common::*;
use fake_atlassian::{FakeAtlassian, FakeHandle};
use rmcp::model::{CallToolResult, ProtocolVersion};
use serde_json::{Value, json};

const GROUPS: &str = "utility,read_projects,read_schemes,write_schemes";

/// The seeded tenant: projects SBX, ROBO, WEB, MKT (and archived OLD) on
/// permission scheme 0, ITS and HR on 10000, LEGAL ("Contracts") on 10001.
async fn start_seeded_fake() -> FakeHandle {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let dir =
        fake_atlassian::find_specs_dir().expect("the Atlassian specs (cargo xtask fetch-specs)");
    FakeAtlassian::load(&dir)
        .expect("fake Atlassian loads the specs")
        .with_seed()
        .expect("the seed loads")
        .serve(0)
        .await
        .expect("fake Atlassian binds")
}

async fn start() -> (FakeHandle, Server, Client) {
    let fake = start_seeded_fake().await;
    let server = start_server(&fake_env(&fake, GROUPS));
    let client = connect(&server, ProtocolVersion::V_2025_11_25).await;
    (fake, server, client)
}

fn answer(result: &CallToolResult) -> Value {
    result.structured_content.clone().unwrap_or(Value::Null)
}

fn ok(result: &CallToolResult) -> Value {
    assert_ne!(result.is_error, Some(true), "{}", text(result));
    answer(result)
}

/// The writes the fake received (method, path), oldest first.
fn writes(fake: &FakeHandle) -> Vec<(String, String)> {
    fake.requests()
        .into_iter()
        .filter(|r| r.method != "GET")
        .map(|r| (r.method, r.path))
        .collect()
}

/// Reads the fake's state directly (not through gojira).
async fn at_the_fake(fake: &FakeHandle, path: &str) -> (u16, Value) {
    let response = reqwest::Client::new()
        .get(format!("{}{path}", fake.base_url()))
        .basic_auth("e2e@example.com", Some("e2e-secret-token"))
        .send()
        .await
        .unwrap();
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or(Value::Null))
}

/// Changes a project's permission scheme behind gojira's back, as another admin would.
async fn assign_at_the_fake(fake: &FakeHandle, project: &str, scheme: u64) {
    let status = reqwest::Client::new()
        .put(format!(
            "{}/rest/api/3/project/{project}/permissionscheme",
            fake.base_url()
        ))
        .basic_auth("someone-else@example.com", Some("their-token"))
        .json(&json!({"id": scheme}))
        .send()
        .await
        .unwrap()
        .status();
    assert!(status.is_success(), "direct assign answered {status}");
}

fn used_by_keys(plan: &Value) -> Vec<String> {
    let mut keys: Vec<String> = plan["impact"]["usedBy"]
        .as_array()
        .unwrap_or_else(|| panic!("the preview has no impact: {plan}"))
        .iter()
        .map(|p| p["key"].as_str().unwrap_or_default().to_owned())
        .collect();
    keys.sort();
    keys
}

async fn revert(client: &Client, id: u64) -> (Value, Value) {
    let (plan, done) =
        preview_and_commit(client, "gojira.revert", json!({"journalIds": [id]})).await;
    (plan, ok(&done))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_permission_scheme_change_previews_the_projects_using_it() {
    let (fake, _server, client) = start().await;
    let grant = json!({"schemeId": 10000, "body": {"permission": "EDIT_ISSUES", "holder": {"type": "group", "value": "it-agents"}}});
    let plan = ok(&call(&client, "jira.addPermissionGrant", grant)
        .await
        .unwrap());
    assert_eq!(plan["dryRun"], true, "{plan}");
    assert_eq!(used_by_keys(&plan), ["HR", "ITS"], "{plan}");
    assert_eq!(plan["impact"]["count"], 2, "{plan}");
    assert_eq!(plan["impact"]["complete"], true, "{plan}");
    let names = plan["impact"]["usedBy"].to_string();
    assert!(
        names.contains("IT Service Desk") && names.contains("People Operations"),
        "{plan}"
    );
    assert!(writes(&fake).is_empty(), "a preview sends nothing");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_commit_is_refused_when_the_schemes_usage_changed_after_the_preview() {
    let (fake, _server, client) = start().await;
    let mut grant = json!({"schemeId": 10001, "body": {"permission": "BROWSE_PROJECTS", "holder": {"type": "group", "value": "auditors"}}});
    let plan = ok(&call(&client, "jira.addPermissionGrant", grant.clone())
        .await
        .unwrap());
    assert_eq!(used_by_keys(&plan), ["LEGAL"], "{plan}");

    // Another admin moves HR onto the scheme between preview and commit.
    assign_at_the_fake(&fake, "HR", 10001).await;
    grant["commit"] = json!(true);
    grant["planDigest"] = plan["planDigest"].clone();
    let refused = call(&client, "jira.addPermissionGrant", grant)
        .await
        .unwrap();
    assert_eq!(refused.is_error, Some(true), "{}", text(&refused));
    let error = &answer(&refused)["error"];
    assert_eq!(error["code"], "PLAN_CHANGED", "{error}");
    assert_eq!(used_by_keys(&error["details"]), ["HR", "LEGAL"], "{error}");
    assert!(
        writes(&fake)
            .iter()
            .all(|(_, path)| !path.ends_with("/permission")),
        "no grant was sent: {:?}",
        writes(&fake)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deleting_a_scheme_in_use_is_refused_listing_its_projects_until_it_is_unused() {
    let (fake, _server, client) = start().await;
    let refused = call(
        &client,
        "jira.deletePermissionScheme",
        json!({"schemeId": 10001}),
    )
    .await
    .unwrap();
    assert_eq!(refused.is_error, Some(true), "{}", text(&refused));
    let error = &answer(&refused)["error"];
    assert_eq!(error["code"], "IN_USE", "{error}");
    assert_eq!(error["details"]["usedBy"][0]["key"], "LEGAL", "{error}");
    let message = text(&refused);
    for part in [
        "in use by 1: LEGAL (Contracts)",
        "jira.assignPermissionScheme",
        "nothing was sent",
    ] {
        assert!(message.contains(part), "{part:?} missing in {message}");
    }
    assert!(writes(&fake).is_empty(), "{:?}", writes(&fake));

    // Move LEGAL away through gojira; then the same delete goes through.
    let (plan, moved) = preview_and_commit(
        &client,
        "jira.assignPermissionScheme",
        json!({"project": "LEGAL", "body": {"id": 0}}),
    )
    .await;
    assert_eq!(plan["before"]["id"], 10001, "{plan}");
    ok(&moved);
    let (plan, deleted) = preview_and_commit(
        &client,
        "jira.deletePermissionScheme",
        json!({"schemeId": 10001}),
    )
    .await;
    assert_eq!(plan["impact"]["count"], 0, "{plan}");
    ok(&deleted);
    assert_eq!(
        writes(&fake).last().unwrap(),
        &(
            "DELETE".to_owned(),
            "/rest/api/3/permissionscheme/10001".to_owned()
        )
    );
    let (status, _) = at_the_fake(&fake, "/rest/api/3/permissionscheme/10001").await;
    assert_eq!(status, 404);
}

/// Permission schemes and grants: create → read back → rename → revert →
/// add a grant → remove it → revert (re-added) → assign a project → revert
/// → delete (the revert of the create).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn permission_scheme_and_grants_round_trip() {
    let (fake, _server, client) = start().await;
    let created = ok(&call(
        &client,
        "jira.createPermissionScheme",
        json!({"body": {"name": "Contractors", "description": "Outside contractors", "permissions": [
            {"permission": "BROWSE_PROJECTS", "holder": {"type": "group", "value": "contractors"}}
        ]}}),
    )
    .await
    .unwrap());
    let scheme = created["id"].as_u64().expect("scheme id");
    let create_journal = created["journalId"].as_u64().unwrap();
    let read = ok(&call(
        &client,
        "jira.getPermissionScheme",
        json!({"schemeId": scheme}),
    )
    .await
    .unwrap());
    assert_eq!(read["name"], "Contractors", "{read}");

    // Rename, then revert: the fake holds the old name again.
    let (plan, renamed) = preview_and_commit(
        &client,
        "jira.updatePermissionScheme",
        json!({"schemeId": scheme, "body": {"name": "Contractors (EU)"}}),
    )
    .await;
    assert_eq!(plan["impact"]["count"], 0, "{plan}");
    let rename_journal = ok(&renamed)["journalId"].as_u64().unwrap();
    let path = format!("/rest/api/3/permissionscheme/{scheme}");
    assert_eq!(
        at_the_fake(&fake, &path).await.1["name"],
        "Contractors (EU)"
    );
    revert(&client, rename_journal).await;
    let (_, state) = at_the_fake(&fake, &path).await;
    assert_eq!(state["name"], "Contractors", "{state}");
    assert_eq!(state["description"], "Outside contractors", "{state}");

    // A grant: add, remove, revert the removal (re-added).
    let (_, added) = preview_and_commit(
        &client,
        "jira.addPermissionGrant",
        json!({"schemeId": scheme, "body": {"permission": "EDIT_ISSUES", "holder": {"type": "group", "value": "contractors"}}}),
    )
    .await;
    let grant = ok(&added)["id"].as_u64().expect("grant id");
    let grants = ok(&call(
        &client,
        "jira.listPermissionGrants",
        json!({"schemeId": scheme}),
    )
    .await
    .unwrap());
    assert!(grants.to_string().contains("EDIT_ISSUES"), "{grants}");
    let (plan, removed) = preview_and_commit(
        &client,
        "jira.removePermissionGrant",
        json!({"schemeId": scheme, "permissionId": grant}),
    )
    .await;
    assert_eq!(plan["before"]["permission"], "EDIT_ISSUES", "{plan}");
    let remove_journal = ok(&removed)["journalId"].as_u64().unwrap();
    let grants_path = format!("{path}/permission");
    let (_, state) = at_the_fake(&fake, &grants_path).await;
    assert!(!state.to_string().contains("EDIT_ISSUES"), "{state}");
    let (plan, _) = revert(&client, remove_journal).await;
    assert_eq!(
        plan["steps"][0]["tool"], "jira.addPermissionGrant",
        "{plan}"
    );
    let (_, state) = at_the_fake(&fake, &grants_path).await;
    assert!(state.to_string().contains("EDIT_ISSUES"), "{state}");

    // Assign a project, then revert: the project is back on its scheme.
    let (plan, assigned) = preview_and_commit(
        &client,
        "jira.assignPermissionScheme",
        json!({"project": "MKT", "body": {"id": scheme}}),
    )
    .await;
    assert_eq!(plan["before"]["id"], 0, "{plan}");
    let assign_journal = ok(&assigned)["journalId"].as_u64().unwrap();
    let project_scheme = "/rest/api/3/project/MKT/permissionscheme";
    assert_eq!(at_the_fake(&fake, project_scheme).await.1["id"], scheme);
    // While MKT uses it, the revert of the create (a delete) is refused.
    let refused = call(
        &client,
        "gojira.revert",
        json!({"journalIds": [create_journal]}),
    )
    .await
    .unwrap();
    assert_eq!(refused.is_error, Some(true), "{}", text(&refused));
    assert!(
        text(&refused).contains("MKT (Marketing Campaigns)"),
        "{}",
        text(&refused)
    );
    revert(&client, assign_journal).await;
    assert_eq!(at_the_fake(&fake, project_scheme).await.1["id"], 0);

    // Delete: the revert of the create.
    let (plan, _) = revert(&client, create_journal).await;
    assert_eq!(
        plan["steps"][0]["tool"], "jira.deletePermissionScheme",
        "{plan}"
    );
    assert_eq!(at_the_fake(&fake, &path).await.0, 404);
}
