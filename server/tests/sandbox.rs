//! The newcomer's path through `serve --sandbox` (the real binary, a real
//! rmcp client): list projects, read a scheme, preview a change, commit it,
//! read the journal, revert. Every step shows the seeded tenant's data, a
//! committed write shows in the next read, and the revert puts the old
//! values back (not an empty PUT).

#![allow(clippy::expect_used, clippy::unwrap_used, clippy::panic)]

mod common;

use std::collections::BTreeMap;

use common::*;
use rmcp::model::{CallToolResult, ProtocolVersion};
use serde_json::{Value, json};

fn ok(result: &CallToolResult) -> Value {
    assert_ne!(result.is_error, Some(true), "{}", text(result));
    result.structured_content.clone().unwrap_or(Value::Null)
}

fn sandbox() -> Server {
    let mut env = BTreeMap::new();
    env.insert("MCP_PORT".to_owned(), "0".to_owned());
    env.insert("GOJIRA_DATA_DIR".to_owned(), data_dir());
    env.insert("GOJIRA_AUTH_MODE".to_owned(), "local".to_owned());
    start_server_with(&["serve", "--sandbox"], &env)
}

async fn project_name(client: &Client, key: &str) -> Value {
    let project = ok(&call(client, "jira.getProject", json!({"project": key}))
        .await
        .unwrap());
    project["name"].clone()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_newcomers_path_shows_a_real_looking_tenant_at_every_step() {
    let server = sandbox();
    let client = connect(&server, ProtocolVersion::V_2025_11_25).await;

    // 1. List projects: the seeded ones, of each type, not `{}`.
    let projects = ok(&call(&client, "jira.searchProjects", json!({}))
        .await
        .unwrap());
    let listed = projects.to_string();
    for name in ["Robot Firmware", "IT Service Desk", "Marketing Campaigns"] {
        assert!(
            listed.contains(name),
            "searchProjects lacks {name}: {projects}"
        );
    }
    assert!(
        !listed.contains("Legacy Warehouse"),
        "archived projects are not searched: {projects}"
    );
    let robo = ok(
        &call(&client, "jira.getProject", json!({"project": "ROBO"}))
            .await
            .unwrap(),
    );
    assert_eq!(robo["lead"]["displayName"], "Priya Natarajan", "{robo}");

    // 2. Read a scheme.
    let schemes = ok(&call(&client, "jira.listPermissionSchemes", json!({}))
        .await
        .unwrap());
    assert!(
        schemes.to_string().contains("Restricted: Legal"),
        "{schemes}"
    );
    let scheme = ok(
        &call(&client, "jira.getPermissionScheme", json!({"schemeId": 0}))
            .await
            .unwrap(),
    );
    assert_eq!(scheme["name"], "Default Permission Scheme", "{scheme}");
    assert!(
        scheme.to_string().contains("ADMINISTER_PROJECTS"),
        "{scheme}"
    );

    // 3. Preview a change: the request and the state it changes are real.
    let rename = json!({"project": "ROBO", "body": {"name": "Robot Firmware (R-series)"}});
    let (plan, committed) = preview_and_commit(&client, "jira.updateProject", rename).await;
    assert_eq!(plan["requests"][0]["method"], "PUT", "{plan}");
    assert_eq!(
        plan["requests"][0]["path"], "/rest/api/3/project/ROBO",
        "{plan}"
    );
    assert!(
        plan.to_string().contains("Robot Firmware (R-series)"),
        "the preview shows the new name: {plan}"
    );
    assert!(
        plan.to_string().contains("\"Robot Firmware\""),
        "the preview shows the current name: {plan}"
    );

    // 4. Commit: the next read sees it.
    let committed = ok(&committed);
    let journal_id = committed["journalId"].as_u64().expect("journalId");
    assert_eq!(
        project_name(&client, "ROBO").await,
        "Robot Firmware (R-series)"
    );

    // 5. The journal holds the write and the state before it.
    let listed = ok(&call(
        &client,
        "gojira.journal.list",
        json!({"tool": "jira.updateProject"}),
    )
    .await
    .unwrap());
    assert_eq!(
        listed["operations"].as_array().map(Vec::len),
        Some(1),
        "{listed}"
    );
    let entry = ok(
        &call(&client, "gojira.journal.get", json!({"id": journal_id}))
            .await
            .unwrap(),
    );
    assert_eq!(entry["status"], "completed", "{entry}");
    assert_eq!(entry["snapshot"]["name"], "Robot Firmware", "{entry}");

    // 6. Revert: the preview puts the old name back, the commit does it.
    let (plan, reverted) = preview_and_commit(
        &client,
        "gojira.revert",
        json!({"journalIds": [journal_id]}),
    )
    .await;
    assert_eq!(plan["steps"][0]["tool"], "jira.updateProject", "{plan}");
    assert!(
        plan.to_string().contains("\"Robot Firmware\""),
        "the revert preview is not an empty PUT: {plan}"
    );
    ok(&reverted);
    assert_eq!(project_name(&client, "ROBO").await, "Robot Firmware");
    client.cancel().await.ok();
}

/// The other resources a newcomer reaches first answer with the tenant too.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_sandbox_tenant_covers_every_product() {
    let server = sandbox();
    let client = connect(&server, ProtocolVersion::V_2025_11_25).await;
    let cases = [
        ("jira.searchFields", json!({}), "Robot model"),
        (
            "jira.listFieldContexts",
            json!({"fieldId": "customfield_10040"}),
            "ROBO bugs",
        ),
        ("jira.searchFilters", json!({}), "ITS: breached SLAs"),
        ("jira.searchDashboards", json!({}), "sprint health"),
        (
            "jira.listWorkflowSchemes",
            json!({}),
            "ITS: Service Management",
        ),
        (
            "jira.searchWorkflows",
            json!({}),
            "IT Service Request Workflow",
        ),
        ("agile.listBoards", json!({}), "ROBO board"),
        ("agile.listSprints", json!({"boardId": 1}), "ROBO Sprint 15"),
        ("jsm.listServiceDesks", json!({}), "People Operations"),
        (
            "jsm.listRequestTypes",
            json!({"serviceDeskId": "1"}),
            "Request new hardware",
        ),
        ("jsm.listOrganizations", json!({}), "Northwind Traders"),
        ("assets.listObjectSchemas", json!({}), "IT Assets"),
        (
            "assets.listObjectTypes",
            json!({"schemaId": "1"}),
            "Laptops",
        ),
        ("confluence.listSpaces", json!({}), "IT Knowledge Base"),
        (
            "confluence.listSpacePermissions",
            json!({"id": 65537}),
            "administer",
        ),
        ("org.listOrgs", json!({}), "Acme Robotics"),
        (
            "org.listManagedAccounts",
            json!({"orgId": fake_atlassian::DEFAULT_ORG_ID}),
            "Lena Fischer",
        ),
        (
            "org.listDomains",
            json!({"orgId": fake_atlassian::DEFAULT_ORG_ID}),
            "acme-robotics.example",
        ),
    ];
    let mut missing = Vec::new();
    for (tool, args, expected) in cases {
        let result = call(&client, tool, args).await.unwrap();
        let shown = format!(
            "{} {}",
            text(&result),
            result.structured_content.clone().unwrap_or_default()
        );
        if result.is_error == Some(true) || !shown.contains(expected) {
            missing.push(format!("{tool}: expected {expected:?} in {shown}"));
        }
    }
    assert!(missing.is_empty(), "{}", missing.join("\n"));
    client.cancel().await.ok();
}

/// A delete is gone from the next list, and its revert recreates it from the
/// snapshot, with the seeded values.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_deleted_filter_is_gone_and_its_revert_brings_it_back() {
    let server = sandbox();
    let client = connect(&server, ProtocolVersion::V_2025_11_25).await;
    let filters = || async {
        ok(&call(&client, "jira.searchFilters", json!({}))
            .await
            .unwrap())
        .to_string()
    };
    assert!(filters().await.contains("ROBO: open bugs"));
    let (plan, deleted) =
        preview_and_commit(&client, "jira.deleteFilter", json!({"id": 10000})).await;
    assert_eq!(plan["before"]["name"], "ROBO: open bugs", "{plan}");
    let journal_id = ok(&deleted)["journalId"].as_u64().expect("journalId");
    assert!(!filters().await.contains("ROBO: open bugs"), "deleted");
    let missing = call(&client, "jira.getFilter", json!({"id": 10000}))
        .await
        .unwrap();
    assert_eq!(missing.is_error, Some(true), "{}", text(&missing));

    let (plan, reverted) = preview_and_commit(
        &client,
        "gojira.revert",
        json!({"journalIds": [journal_id]}),
    )
    .await;
    assert_eq!(plan["steps"][0]["tool"], "jira.createFilter", "{plan}");
    assert!(
        plan.to_string().contains("issuetype = Bug"),
        "the revert recreates the seeded JQL: {plan}"
    );
    ok(&reverted);
    assert!(filters().await.contains("ROBO: open bugs"), "recreated");
    client.cancel().await.ok();
}

/// Seeded lists page like a site's: a small `limit` gives a `nextCursor`
/// that reaches the rest, and every project is seen once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn seeded_lists_page_through_the_cursor() {
    let server = sandbox();
    let client = connect(&server, ProtocolVersion::V_2025_11_25).await;
    let mut keys = Vec::new();
    let mut args = json!({"limit": 3});
    for _ in 0..5 {
        let page = ok(&call(&client, "jira.searchProjects", args.clone())
            .await
            .unwrap());
        let values = page["values"].as_array().expect("values");
        assert!(values.len() <= 3, "{page}");
        keys.extend(values.iter().map(|p| p["key"].as_str().unwrap().to_owned()));
        match page["nextCursor"].as_str() {
            Some(next) => args = json!({"limit": 3, "cursor": next}),
            None => break,
        }
    }
    assert_eq!(keys, ["SBX", "ROBO", "WEB", "ITS", "HR", "MKT", "LEGAL"]);
    client.cancel().await.ok();
}
