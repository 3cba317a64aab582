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

    // Its revert re-creates it (a new id) with its grants.
    revert(&client, ok(&deleted)["journalId"].as_u64().unwrap()).await;
    let (_, schemes) = at_the_fake(&fake, "/rest/api/3/permissionscheme").await;
    let state = schemes["permissionSchemes"]
        .as_array()
        .unwrap_or_else(|| panic!("{schemes}"))
        .iter()
        .find(|s| s["name"] == "Restricted: Legal")
        .cloned()
        .unwrap_or_else(|| panic!("not re-created: {schemes}"));
    assert_ne!(state["id"], 10001, "{state}");
    assert_eq!(
        state["permissions"].as_array().map(Vec::len),
        Some(3),
        "{state}"
    );
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

/// Workflow schemes: create → read back → rename → revert → delete (the
/// revert of the create); a used scheme's delete is refused naming its
/// projects (the usage read gives project ids only).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn workflow_scheme_round_trip() {
    let (fake, _server, client) = start().await;
    let refused = call(&client, "jira.deleteWorkflowScheme", json!({"id": 10001}))
        .await
        .unwrap();
    let error = &answer(&refused)["error"];
    assert_eq!(error["code"], "IN_USE", "{error}");
    assert!(
        error["message"]
            .as_str()
            .unwrap()
            .contains("in use by 2: 10003, 10004"),
        "{error}"
    );
    assert!(writes(&fake).is_empty(), "{:?}", writes(&fake));

    let created = ok(&call(
        &client,
        "jira.createWorkflowScheme",
        json!({"body": {"name": "Hardware bring-up", "description": "Boards", "defaultWorkflow": "jira"}}),
    )
    .await
    .unwrap());
    let id = created["id"].as_u64().expect("workflow scheme id");
    let create_journal = created["journalId"].as_u64().unwrap();
    let read = ok(&call(&client, "jira.getWorkflowScheme", json!({"id": id}))
        .await
        .unwrap());
    assert_eq!(read["name"], "Hardware bring-up", "{read}");

    let (plan, updated) = preview_and_commit(
        &client,
        "jira.updateWorkflowScheme",
        json!({"id": id, "body": {"name": "Hardware bring-up v2", "defaultWorkflow": "Software Simplified Workflow for Project ROBO"}}),
    )
    .await;
    assert_eq!(plan["impact"]["count"], 0, "{plan}");
    let update_journal = ok(&updated)["journalId"].as_u64().unwrap();
    let path = format!("/rest/api/3/workflowscheme/{id}");
    assert_eq!(
        at_the_fake(&fake, &path).await.1["name"],
        "Hardware bring-up v2"
    );
    revert(&client, update_journal).await;
    let (_, state) = at_the_fake(&fake, &path).await;
    assert_eq!(state["name"], "Hardware bring-up", "{state}");
    assert_eq!(state["defaultWorkflow"], "jira", "{state}");
    assert_eq!(state["description"], "Boards", "{state}");

    let (plan, _) = revert(&client, create_journal).await;
    assert_eq!(
        plan["steps"][0]["tool"], "jira.deleteWorkflowScheme",
        "{plan}"
    );
    assert_eq!(at_the_fake(&fake, &path).await.0, 404);
}

/// Issue type schemes: create → read back → update → revert → delete.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn issue_type_scheme_round_trip() {
    let (fake, _server, client) = start().await;
    let created = ok(&call(
        &client,
        "jira.createIssueTypeScheme",
        json!({"body": {"name": "Firmware lite", "description": "Stories and bugs", "issueTypeIds": ["10001", "10004"], "defaultIssueTypeId": "10001"}}),
    )
    .await
    .unwrap());
    let id: u64 = created["issueTypeSchemeId"]
        .as_str()
        .expect("issueTypeSchemeId")
        .parse()
        .unwrap();
    let create_journal = created["journalId"].as_u64().unwrap();
    let listed = ok(
        &call(&client, "jira.listIssueTypeSchemes", json!({"id": [id]}))
            .await
            .unwrap(),
    );
    assert!(listed.to_string().contains("Firmware lite"), "{listed}");

    let (plan, updated) = preview_and_commit(
        &client,
        "jira.updateIssueTypeScheme",
        json!({"issueTypeSchemeId": id, "body": {"name": "Firmware (lite)", "defaultIssueTypeId": "10004"}}),
    )
    .await;
    assert_eq!(plan["before"]["name"], "Firmware lite", "{plan}");
    assert_eq!(plan["impact"]["count"], 0, "{plan}");
    let update_journal = ok(&updated)["journalId"].as_u64().unwrap();
    let path = format!("/rest/api/3/issuetypescheme/{id}");
    let (_, state) = at_the_fake(&fake, "/rest/api/3/issuetypescheme").await;
    assert!(state.to_string().contains("Firmware (lite)"), "{state}");
    revert(&client, update_journal).await;
    let (_, state) = at_the_fake(&fake, "/rest/api/3/issuetypescheme").await;
    let record = state["values"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["id"] == json!(id.to_string()))
        .cloned()
        .unwrap_or_else(|| panic!("{state}"));
    assert_eq!(record["name"], "Firmware lite", "{record}");
    assert_eq!(record["defaultIssueTypeId"], "10001", "{record}");

    let (plan, _) = revert(&client, create_journal).await;
    assert_eq!(
        plan["steps"][0]["tool"], "jira.deleteIssueTypeScheme",
        "{plan}"
    );
    assert_eq!(writes(&fake).last().unwrap(), &("DELETE".to_owned(), path));
    let (_, state) = at_the_fake(&fake, "/rest/api/3/issuetypescheme").await;
    assert!(!state.to_string().contains("Firmware lite"), "{state}");
}

/// Issue type screen schemes: the reverse lookup names the projects (key and
/// name) in previews and refusals; create → read back → rename → revert →
/// delete.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn issue_type_screen_scheme_round_trip() {
    let (fake, _server, client) = start().await;
    let refused = call(
        &client,
        "jira.deleteIssueTypeScreenScheme",
        json!({"issueTypeScreenSchemeId": "10001"}),
    )
    .await
    .unwrap();
    let error = &answer(&refused)["error"];
    assert_eq!(error["code"], "IN_USE", "{error}");
    let message = error["message"].as_str().unwrap();
    for part in [
        "ITS (IT Service Desk)",
        "HR (People Operations)",
        "jira.assignIssueTypeScreenScheme",
    ] {
        assert!(message.contains(part), "{part:?} missing in {message}");
    }
    let plan = ok(&call(
        &client,
        "jira.updateIssueTypeScreenScheme",
        json!({"issueTypeScreenSchemeId": "10000", "body": {"description": "d"}}),
    )
    .await
    .unwrap());
    assert_eq!(used_by_keys(&plan), ["ROBO"], "{plan}");
    assert!(writes(&fake).is_empty(), "{:?}", writes(&fake));

    let created = ok(&call(
        &client,
        "jira.createIssueTypeScreenScheme",
        json!({"body": {"name": "Hardware screens", "description": "Boards", "issueTypeMappings": [{"issueTypeId": "default", "screenSchemeId": "1"}]}}),
    )
    .await
    .unwrap());
    let id = created["id"].as_str().expect("id").to_owned();
    let create_journal = created["journalId"].as_u64().unwrap();
    let listed = ok(&call(
        &client,
        "jira.listIssueTypeScreenSchemes",
        json!({"id": [id.parse::<u64>().unwrap()]}),
    )
    .await
    .unwrap());
    assert!(listed.to_string().contains("Hardware screens"), "{listed}");

    let (plan, updated) = preview_and_commit(
        &client,
        "jira.updateIssueTypeScreenScheme",
        json!({"issueTypeScreenSchemeId": id, "body": {"name": "Hardware screens v2"}}),
    )
    .await;
    assert_eq!(plan["before"]["name"], "Hardware screens", "{plan}");
    assert_eq!(plan["impact"]["count"], 0, "{plan}");
    let update_journal = ok(&updated)["journalId"].as_u64().unwrap();
    let list_path = "/rest/api/3/issuetypescreenscheme";
    assert!(
        at_the_fake(&fake, list_path)
            .await
            .1
            .to_string()
            .contains("Hardware screens v2")
    );
    revert(&client, update_journal).await;
    let (_, state) = at_the_fake(&fake, list_path).await;
    assert!(
        state.to_string().contains("\"Hardware screens\"") && !state.to_string().contains("v2"),
        "{state}"
    );

    let (plan, _) = revert(&client, create_journal).await;
    assert_eq!(
        plan["steps"][0]["tool"], "jira.deleteIssueTypeScreenScheme",
        "{plan}"
    );
    let (_, state) = at_the_fake(&fake, list_path).await;
    assert!(!state.to_string().contains("Hardware screens"), "{state}");
}

/// Screens: add a tab → rename it → revert → add a field → read back →
/// remove it → revert (back on the tab) → delete the tab (the revert of its
/// creation, through the hidden jira.deleteScreenTab).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn screen_tab_and_field_round_trip() {
    let (fake, _server, client) = start().await;
    let tab = ok(&call(
        &client,
        "jira.addScreenTab",
        json!({"screenId": 10001, "body": {"name": "Hardware"}}),
    )
    .await
    .unwrap());
    let tab_id = tab["id"].as_u64().expect("tab id");
    let tab_journal = tab["journalId"].as_u64().unwrap();
    let renamed = ok(&call(
        &client,
        "jira.renameScreenTab",
        json!({"screenId": 10001, "tabId": tab_id, "body": {"name": "Hardware details"}}),
    )
    .await
    .unwrap());
    let tabs_path = "/rest/api/3/screens/10001/tabs";
    assert!(
        at_the_fake(&fake, tabs_path)
            .await
            .1
            .to_string()
            .contains("Hardware details")
    );
    revert(&client, renamed["journalId"].as_u64().unwrap()).await;
    let (_, tabs) = at_the_fake(&fake, tabs_path).await;
    assert_eq!(tabs[0]["name"], "Hardware", "{tabs}");

    let added = ok(&call(
        &client,
        "jira.addScreenTabField",
        json!({"screenId": 10001, "tabId": tab_id, "body": {"fieldId": "customfield_10020"}}),
    )
    .await
    .unwrap());
    let field = added["id"].as_str().expect("field id").to_owned();
    let fields = ok(&call(
        &client,
        "jira.listScreenTabFields",
        json!({"screenId": 10001, "tabId": tab_id}),
    )
    .await
    .unwrap());
    assert!(fields.to_string().contains(&field), "{fields}");
    let (plan, removed) = preview_and_commit(
        &client,
        "jira.removeScreenTabField",
        json!({"screenId": 10001, "tabId": tab_id, "id": field}),
    )
    .await;
    assert_eq!(plan["before"]["id"], json!(field), "{plan}");
    let fields_path = format!("{tabs_path}/{tab_id}/fields");
    let count = |v: &Value| v.as_array().map_or(0, Vec::len);
    assert_eq!(count(&at_the_fake(&fake, &fields_path).await.1), 0);
    let (plan, _) = revert(&client, ok(&removed)["journalId"].as_u64().unwrap()).await;
    assert_eq!(plan["steps"][0]["tool"], "jira.addScreenTabField", "{plan}");
    assert_eq!(count(&at_the_fake(&fake, &fields_path).await.1), 1);

    let (plan, _) = revert(&client, tab_journal).await;
    assert_eq!(plan["steps"][0]["tool"], "jira.deleteScreenTab", "{plan}");
    assert_eq!(
        writes(&fake).last().unwrap(),
        &("DELETE".to_owned(), format!("{tabs_path}/{tab_id}"))
    );
    assert_eq!(count(&at_the_fake(&fake, tabs_path).await.1), 0);
}

/// Screen schemes: create → read back → delete → revert (re-created) →
/// revert that (deleted again).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn screen_scheme_round_trip() {
    let (fake, _server, client) = start().await;
    let created = ok(&call(
        &client,
        "jira.createScreenScheme",
        json!({"body": {"name": "Bench screens", "description": "Lab", "screens": {"default": 1, "create": 10000}}}),
    )
    .await
    .unwrap());
    let id = created["id"].as_u64().expect("screen scheme id");
    let listed = ok(
        &call(&client, "jira.listScreenSchemes", json!({"id": [id]}))
            .await
            .unwrap(),
    );
    assert!(listed.to_string().contains("Bench screens"), "{listed}");

    let (plan, deleted) = preview_and_commit(
        &client,
        "jira.deleteScreenScheme",
        json!({"screenSchemeId": id.to_string()}),
    )
    .await;
    assert_eq!(plan["before"]["name"], "Bench screens", "{plan}");
    let delete_journal = ok(&deleted)["journalId"].as_u64().unwrap();
    let list_path = "/rest/api/3/screenscheme";
    assert!(
        !at_the_fake(&fake, list_path)
            .await
            .1
            .to_string()
            .contains("Bench screens")
    );
    let (_, reverted) = revert(&client, delete_journal).await;
    let (_, state) = at_the_fake(&fake, list_path).await;
    let record = state["values"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["name"] == "Bench screens")
        .cloned()
        .unwrap_or_else(|| panic!("not re-created: {state}"));
    assert_eq!(record["description"], "Lab", "{record}");
    assert_eq!(
        record["screens"],
        json!({"default": 1, "create": 10000}),
        "{record}"
    );

    let again = reverted["reverted"][0]["revertJournalId"]
        .as_u64()
        .expect("{reverted}");
    let (plan, _) = revert(&client, again).await;
    assert_eq!(
        plan["steps"][0]["tool"], "jira.deleteScreenScheme",
        "{plan}"
    );
    assert!(
        !at_the_fake(&fake, list_path)
            .await
            .1
            .to_string()
            .contains("Bench screens")
    );
}
