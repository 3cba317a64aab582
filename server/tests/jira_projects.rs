//! Projects, filters and dashboards, and boards end to end (the real binary,
//! a real MCP client, the seeded fake): one round trip per write family,
//! with the fake's own state checked after each revert.

#![allow(clippy::expect_used, clippy::unwrap_used, clippy::panic)]

mod common;
#[path = "common/roundtrip.rs"]
mod roundtrip;

use common::*;
use rmcp::model::ProtocolVersion;
use roundtrip::*;
use serde_json::json;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn project_categories_round_trip_and_roles_read_back() {
    let fake = seeded_fake().await;
    let server = start_server(&fake_env(&fake, "utility,read_projects,write_projects"));
    let client = connect(&server, ProtocolVersion::V_2025_11_25).await;
    const CATEGORIES: &str = "/rest/api/3/projectCategory";

    let created = write(
        &client,
        "jira.createProjectCategory",
        json!({"body": {"name": "Hardware", "description": "Boards and sensors"}}),
    )
    .await;
    let id = created["id"].as_str().expect("category id").to_owned();
    assert!(members(&fake_list(&fake, CATEGORIES).await, "name").contains(&"Hardware".to_owned()));

    let renamed = write(
        &client,
        "jira.updateProjectCategory",
        json!({"id": id.parse::<i64>().unwrap(), "body": {"name": "Hardware & sensors"}}),
    )
    .await;
    let (_, now) = fake_get(&fake, &format!("{CATEGORIES}/{id}")).await;
    assert_eq!(now["name"], "Hardware & sensors", "{now}");
    revert(&client, journal_id(&renamed)).await;
    let (_, back) = fake_get(&fake, &format!("{CATEGORIES}/{id}")).await;
    assert_eq!(back["name"], "Hardware", "{back}");
    assert_eq!(back["description"], "Boards and sensors", "{back}");

    revert(&client, journal_id(&created)).await;
    let (status, _) = fake_get(&fake, &format!("{CATEGORIES}/{id}")).await;
    assert_eq!(status, 404);

    let deleted = write(&client, "jira.deleteProjectCategory", json!({"id": 10002})).await;
    assert!(!members(&fake_list(&fake, CATEGORIES).await, "name").contains(&"Business".to_owned()));
    assert!(
        revert_refusal(&client, journal_id(&deleted))
            .await
            .contains("irreversible")
    );

    // Roles and their actors, as the seeded tenant has them.
    let roles = ok(
        &call(&client, "jira.listProjectRoles", json!({"project": "ROBO"}))
            .await
            .unwrap(),
    );
    assert!(roles.to_string().contains("Administrators"), "{roles}");
    let admins = ok(&call(
        &client,
        "jira.getProjectRoleActors",
        json!({"project": "ROBO", "roleId": 10002}),
    )
    .await
    .unwrap());
    assert!(admins.to_string().contains("Priya Natarajan"), "{admins}");
    let components = ok(&call(
        &client,
        "jira.listProjectComponents",
        json!({"project": "ROBO"}),
    )
    .await
    .unwrap());
    assert!(
        components.to_string().contains("Motion control"),
        "{components}"
    );
    let versions = ok(&call(
        &client,
        "jira.listProjectVersions",
        json!({"project": "ROBO"}),
    )
    .await
    .unwrap());
    assert!(versions.to_string().contains("R-series 2.4"), "{versions}");
    let categories = ok(&call(&client, "jira.listProjectCategories", json!({}))
        .await
        .unwrap());
    assert!(
        categories.to_string().contains("Operations"),
        "{categories}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn filter_owners_and_dashboards_round_trip() {
    let fake = seeded_fake().await;
    let server = start_server(&fake_env(
        &fake,
        "utility,read_filters_dashboards,write_filters_dashboards",
    ));
    let client = connect(&server, ProtocolVersion::V_2025_11_25).await;
    const PRIYA: &str = "712020:3f6b2a10-8c3e-4d5b-9a41-7e2d0c9b1a01";
    const NEW_OWNER: &str = "712020:5c1d9e22-0b7a-4f3c-8e65-2a9f4b7d3c02";

    // Filter ownership: hand over, revert.
    let shares = ok(&call(
        &client,
        "jira.listFilterSharePermissions",
        json!({"id": 10000}),
    )
    .await
    .unwrap());
    assert!(shares.to_string().contains("ROBO"), "{shares}");
    let handed = write(
        &client,
        "jira.changeFilterOwner",
        json!({"id": 10000, "body": {"accountId": NEW_OWNER}}),
    )
    .await;
    let (_, filter) = fake_get(&fake, "/rest/api/3/filter/10000").await;
    assert_eq!(filter["owner"]["accountId"], NEW_OWNER, "{filter}");
    revert(&client, journal_id(&handed)).await;
    let (_, filter) = fake_get(&fake, "/rest/api/3/filter/10000").await;
    assert_eq!(filter["owner"]["accountId"], PRIYA, "{filter}");

    // Dashboards: create (reverted by a delete); gadgets: remove one.
    let created = write(
        &client,
        "jira.createDashboard",
        json!({"body": {"name": "Firmware health", "sharePermissions": [{"type": "loggedin"}], "editPermissions": []}}),
    )
    .await;
    let id = created["id"].as_str().expect("dashboard id").to_owned();
    let (status, board) = fake_get(&fake, &format!("/rest/api/3/dashboard/{id}")).await;
    assert_eq!(
        (status, board["name"].as_str()),
        (200, Some("Firmware health"))
    );
    let gadgets = |items: Vec<serde_json::Value>| members(&items, "title");
    let seeded =
        gadgets(fake_list_member(&fake, "/rest/api/3/dashboard/10001/gadget", "gadgets").await);
    assert_eq!(seeded.len(), 3, "{seeded:?}");
    let removed = write(
        &client,
        "jira.removeDashboardGadget",
        json!({"dashboardId": 10001, "gadgetId": 10102}),
    )
    .await;
    let left =
        gadgets(fake_list_member(&fake, "/rest/api/3/dashboard/10001/gadget", "gadgets").await);
    assert_eq!(left, ["ROBO: open bugs", "Created vs resolved"]);
    assert!(
        revert_refusal(&client, journal_id(&removed))
            .await
            .contains("irreversible")
    );
    let listed = ok(&call(
        &client,
        "jira.listDashboardGadgets",
        json!({"dashboardId": 10001}),
    )
    .await
    .unwrap());
    assert!(
        listed.to_string().contains("Created vs resolved"),
        "{listed}"
    );
    revert(&client, journal_id(&created)).await;
    let (status, _) = fake_get(&fake, &format!("/rest/api/3/dashboard/{id}")).await;
    assert_eq!(status, 404);

    let deleted = write(&client, "jira.deleteDashboard", json!({"id": "10000"})).await;
    let (status, _) = fake_get(&fake, "/rest/api/3/dashboard/10000").await;
    assert_eq!(status, 404);
    assert!(
        revert_refusal(&client, journal_id(&deleted))
            .await
            .contains("irreversible")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn boards_and_sprints_round_trip() {
    let fake = seeded_fake().await;
    let server = start_server(&fake_env(&fake, "utility,read_agile,write_agile"));
    let client = connect(&server, ProtocolVersion::V_2025_11_25).await;

    let board = write(
        &client,
        "agile.createBoard",
        json!({"body": {"name": "ROBO kanban", "type": "kanban", "filterId": 10000,
                        "location": {"type": "project", "projectKeyOrId": "ROBO"}}}),
    )
    .await;
    let board_id = board["id"].as_i64().expect("board id");
    let (status, read) = fake_get(&fake, &format!("/rest/agile/1.0/board/{board_id}")).await;
    assert_eq!((status, read["name"].as_str()), (200, Some("ROBO kanban")));
    let config = ok(&call(
        &client,
        "agile.getBoardConfiguration",
        json!({"boardId": 1}),
    )
    .await
    .unwrap());
    assert_eq!(config["filter"]["id"], "10000", "{config}");
    assert!(config.to_string().contains("In Review"), "{config}");

    // A sprint on it: create, rename and revert, then revert the creation.
    let sprint = write(
        &client,
        "agile.createSprint",
        json!({"body": {"name": "Kanban 1", "originBoardId": board_id}}),
    )
    .await;
    let sprint_id = sprint["id"].as_i64().expect("sprint id");
    let renamed = write(
        &client,
        "agile.updateSprint",
        json!({"sprintId": sprint_id, "body": {"name": "Kanban one", "goal": "Flow"}}),
    )
    .await;
    let (_, now) = fake_get(&fake, &format!("/rest/agile/1.0/sprint/{sprint_id}")).await;
    assert_eq!(now["name"], "Kanban one", "{now}");
    revert(&client, journal_id(&renamed)).await;
    let (_, back) = fake_get(&fake, &format!("/rest/agile/1.0/sprint/{sprint_id}")).await;
    assert_eq!(back["name"], "Kanban 1", "{back}");
    // Starting it is a state change the revert sends back (Jira itself
    // refuses active -> future, so there the revert fails, never silently).
    let started = write(
        &client,
        "agile.updateSprint",
        json!({"sprintId": sprint_id, "body": {"state": "active",
               "startDate": "2026-12-07T09:00:00.000Z", "endDate": "2026-12-21T17:00:00.000Z"}}),
    )
    .await;
    let (_, now) = fake_get(&fake, &format!("/rest/agile/1.0/sprint/{sprint_id}")).await;
    assert_eq!(now["state"], "active", "{now}");
    let plan = ok(&call(
        &client,
        "gojira.revert",
        json!({"journalIds": [journal_id(&started)]}),
    )
    .await
    .unwrap());
    assert!(
        plan["steps"][0]["requests"][0]["body"]["state"] == "future",
        "the revert puts the state back: {plan}"
    );
    revert(&client, journal_id(&started)).await;
    let (_, back) = fake_get(&fake, &format!("/rest/agile/1.0/sprint/{sprint_id}")).await;
    assert_eq!(back["state"], "future", "{back}");
    revert(&client, journal_id(&sprint)).await;
    let (status, _) = fake_get(&fake, &format!("/rest/agile/1.0/sprint/{sprint_id}")).await;
    assert_eq!(status, 404, "reverting the creation deletes the sprint");

    revert(&client, journal_id(&board)).await;
    let (status, _) = fake_get(&fake, &format!("/rest/agile/1.0/board/{board_id}")).await;
    assert_eq!(status, 404, "reverting the creation deletes the board");

    // Deleting a seeded board or sprint is irreversible, and says so.
    let gone = write(&client, "agile.deleteSprint", json!({"sprintId": 3})).await;
    let (status, _) = fake_get(&fake, "/rest/agile/1.0/sprint/3").await;
    assert_eq!(status, 404);
    assert!(
        revert_refusal(&client, journal_id(&gone))
            .await
            .contains("irreversible")
    );
    let gone = write(&client, "agile.deleteBoard", json!({"boardId": 2})).await;
    let (status, _) = fake_get(&fake, "/rest/agile/1.0/board/2").await;
    assert_eq!(status, 404);
    assert!(
        revert_refusal(&client, journal_id(&gone))
            .await
            .contains("irreversible")
    );
}

/// The account ids and group ids holding a role, from the fake.
async fn actors(fake: &fake_atlassian::FakeHandle, role: u64) -> (Vec<String>, Vec<String>) {
    let (status, role) = fake_get(fake, &format!("/rest/api/3/project/ROBO/role/{role}")).await;
    assert_eq!(status, 200, "{role}");
    let of = |kind: &str, pointer: &str| -> Vec<String> {
        role["actors"]
            .as_array()
            .into_iter()
            .flatten()
            .filter(|a| a["type"] == kind)
            .filter_map(|a| {
                a.pointer(pointer)
                    .and_then(|v| v.as_str())
                    .map(str::to_owned)
            })
            .collect()
    };
    (
        of("atlassian-user-role-actor", "/actorUser/accountId"),
        of("atlassian-group-role-actor", "/actorGroup/groupId"),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn project_role_actors_round_trip() {
    let fake = seeded_fake().await;
    let server = start_server(&fake_env(&fake, "utility,read_projects,write_projects"));
    let client = connect(&server, ProtocolVersion::V_2025_11_25).await;
    const ADMIN: &str = "5b10ac8d82e05b22cc7d4ef5";
    const PRIYA: &str = "712020:3f6b2a10-8c3e-4d5b-9a41-7e2d0c9b1a01";
    const NEW: &str = "712020:9a4e7b33-6d2c-4e8f-b1a7-5c3e8d2f6b03";
    const FIRMWARE: &str = "a1b2c3d4-0000-4000-8000-000000000001";
    const OPS: &str = "a1b2c3d4-0000-4000-8000-0000000000aa";
    let seeded = actors(&fake, 10002).await;
    assert_eq!(seeded, (vec![ADMIN.to_owned(), PRIYA.to_owned()], vec![]));

    let added = write(
        &client,
        "jira.addProjectRoleActors",
        json!({"project": "ROBO", "roleId": 10002, "body": {"user": [NEW], "groupId": [OPS]}}),
    )
    .await;
    let (users, groups) = actors(&fake, 10002).await;
    assert_eq!(users, [ADMIN, PRIYA, NEW]);
    assert_eq!(groups, [OPS]);
    revert(&client, journal_id(&added)).await;
    assert_eq!(actors(&fake, 10002).await, seeded);

    let dev_seeded = actors(&fake, 10001).await;
    assert_eq!(dev_seeded.1, [FIRMWARE]);
    let removed = write(
        &client,
        "jira.removeProjectRoleActor",
        json!({"project": "ROBO", "roleId": 10001, "groupId": FIRMWARE}),
    )
    .await;
    assert!(actors(&fake, 10001).await.1.is_empty());
    revert(&client, journal_id(&removed)).await;
    assert_eq!(actors(&fake, 10001).await, dev_seeded);
}
