//! Safe writes end to end (the real binary over HTTP, the fake Atlassian):
//! commit-positive consent bound to a preview, the hash-chained journal,
//! revert, and recovery of a write interrupted by kill -9.

#![allow(clippy::expect_used, clippy::unwrap_used, clippy::panic)]

mod common;

use std::time::{Duration, Instant};

use common::*;
use fake_atlassian::{FakeHandle, Fault};
use rmcp::model::{CallToolResult, ProtocolVersion};
use serde_json::{Value, json};

const GROUPS: &str = "utility,read_projects,write_projects,read_filters_dashboards,write_filters_dashboards,read_customfields,write_customfields,read_jsm_admin,write_jsm_admin";

fn writes(fake: &FakeHandle) -> Vec<(String, String, Option<Value>)> {
    fake.requests()
        .into_iter()
        .filter(|r| r.method != "GET")
        .map(|r| (r.method, r.path, r.body))
        .collect()
}

fn answer(result: &CallToolResult) -> Value {
    result.structured_content.clone().unwrap_or(Value::Null)
}

fn ok(result: &CallToolResult) -> Value {
    assert_ne!(result.is_error, Some(true), "{}", text(result));
    answer(result)
}

async fn journal_get(client: &Client, id: u64) -> Value {
    ok(&call(client, "gojira.journal.get", json!({"id": id}))
        .await
        .unwrap())
}

/// Changes a filter behind gojira's back, as another admin would.
async fn edit_at_the_fake(fake: &FakeHandle, id: &str, name: &str) {
    let status = reqwest::Client::new()
        .put(format!("{}/rest/api/3/filter/{id}", fake.base_url()))
        .basic_auth("someone-else@example.com", Some("their-token"))
        .json(&json!({"name": name, "jql": "project = OTHER"}))
        .send()
        .await
        .unwrap()
        .status();
    assert!(status.is_success(), "direct edit answered {status}");
}

async fn create_filter(client: &Client, name: &str) -> (String, u64) {
    let created = ok(&call(
        client,
        "jira.createFilter",
        json!({"body": {"name": name, "jql": "project = GOJ", "description": "d"}}),
    )
    .await
    .unwrap());
    let id = created["id"].as_str().expect("filter id").to_owned();
    (id, created["journalId"].as_u64().expect("journalId"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn archive_then_revert_restores_and_reverting_the_revert_archives_again() {
    let fake = start_fake().await;
    let server = start_server(&fake_env(&fake, GROUPS));
    let client = connect(&server, ProtocolVersion::V_2025_11_25).await;

    let preview = ok(
        &call(&client, "jira.archiveProject", json!({"project": "ABC"}))
            .await
            .unwrap(),
    );
    assert_eq!(preview["dryRun"], true);
    assert_eq!(
        preview["revert"],
        json!({"possible": true, "with": "jira.restoreProject"})
    );
    assert_eq!(
        preview["requests"][0]["path"],
        "/rest/api/3/project/ABC/archive"
    );
    assert!(
        writes(&fake).is_empty(),
        "a preview never reaches Atlassian with a write"
    );

    // A forgotten digest fails closed.
    let refused = call(
        &client,
        "jira.archiveProject",
        json!({"project": "ABC", "commit": true}),
    )
    .await
    .unwrap();
    assert_eq!(refused.is_error, Some(true));
    assert_eq!(answer(&refused)["error"]["code"], "CONSENT_REQUIRED");
    assert!(writes(&fake).is_empty());

    let (_, archived) =
        preview_and_commit(&client, "jira.archiveProject", json!({"project": "ABC"})).await;
    let archived = ok(&archived);
    let original = archived["journalId"].as_u64().expect("journalId");
    assert_eq!(
        writes(&fake),
        [(
            "POST".into(),
            "/rest/api/3/project/ABC/archive".into(),
            None
        )]
    );
    let entry = journal_get(&client, original).await;
    assert_eq!(entry["status"], "completed");
    assert_eq!(entry["tool"], "jira.archiveProject");
    assert_eq!(entry["principal"], "api-token:e2e@example.com");
    assert!(entry["snapshot"].is_object(), "{entry}");
    assert_eq!(entry["outcome"]["upstreamStatus"], 204, "{entry}");

    let (plan, reverted) =
        preview_and_commit(&client, "gojira.revert", json!({"journalIds": [original]})).await;
    assert_eq!(plan["steps"][0]["tool"], "jira.restoreProject", "{plan}");
    let reverted = ok(&reverted);
    let revert_id = reverted["reverted"][0]["revertJournalId"]
        .as_u64()
        .expect("{reverted}");
    assert_eq!(
        writes(&fake).last().unwrap().1,
        "/rest/api/3/project/ABC/restore",
        "the revert restored the project"
    );
    assert_eq!(journal_get(&client, revert_id).await["revertOf"], original);

    // Reverting the revert archives it again.
    let (plan, again) =
        preview_and_commit(&client, "gojira.revert", json!({"journalIds": [revert_id]})).await;
    assert_eq!(plan["steps"][0]["tool"], "jira.archiveProject");
    ok(&again);
    assert_eq!(
        writes(&fake).last().unwrap().1,
        "/rest/api/3/project/ABC/archive"
    );
    assert_eq!(writes(&fake).len(), 3);

    let listed = ok(&call(
        &client,
        "gojira.journal.list",
        json!({"tool": "jira.archiveProject"}),
    )
    .await
    .unwrap());
    assert_eq!(
        listed["operations"].as_array().unwrap().len(),
        2,
        "{listed}"
    );
    let verified = ok(&call(&client, "gojira.journal.verify", json!({}))
        .await
        .unwrap());
    assert_eq!(verified["ok"], true, "{verified}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn custom_field_rename_is_reverted_to_both_prior_values() {
    let fake = start_fake().await;
    let server = start_server(&fake_env(&fake, GROUPS));
    let client = connect(&server, ProtocolVersion::V_2025_11_25).await;
    let field = |name: &str, description: &str| json!({"isLast": true, "total": 1, "values": [{"id": "customfield_10100", "name": name, "description": description}]});
    // The preview and the commit read the old state; every later read sees the new one.
    fake.inject(
        Fault::status(200)
            .on_path("/rest/api/3/field/search")
            .with_body(field("Team", "Owning team"))
            .times(2),
    );
    fake.inject(
        Fault::status(200)
            .on_path("/rest/api/3/field/search")
            .with_body(field("Squad", "The squad")),
    );

    let args = json!({"fieldId": "customfield_10100", "body": {"name": "Squad", "description": "The squad"}});
    let (plan, done) = preview_and_commit(&client, "jira.updateCustomField", args).await;
    assert_eq!(
        plan["patch"],
        json!([
            {"op": "replace", "path": "/description", "value": "The squad"},
            {"op": "replace", "path": "/name", "value": "Squad"}
        ]),
        "the preview diffs the snapshot against the predicted state: {plan}"
    );
    let id = ok(&done)["journalId"].as_u64().unwrap();

    let (_, reverted) =
        preview_and_commit(&client, "gojira.revert", json!({"journalIds": [id]})).await;
    ok(&reverted);
    let (method, path, body) = writes(&fake).pop().unwrap();
    assert_eq!(
        (method.as_str(), path.as_str()),
        ("PUT", "/rest/api/3/field/customfield_10100")
    );
    assert_eq!(
        body,
        Some(json!({"name": "Team", "description": "Owning team"})),
        "both prior values come back"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn created_filter_is_reverted_by_deleting_it() {
    let fake = start_fake().await;
    let server = start_server(&fake_env(&fake, GROUPS));
    let client = connect(&server, ProtocolVersion::V_2025_11_25).await;
    // consent: none: a create happens at once, and is journaled.
    let (filter, id) = create_filter(&client, "My open bugs").await;
    assert_eq!(writes(&fake).len(), 1);
    let (plan, reverted) =
        preview_and_commit(&client, "gojira.revert", json!({"journalIds": [id]})).await;
    assert_eq!(plan["steps"][0]["tool"], "jira.deleteFilter");
    ok(&reverted);
    assert_eq!(
        writes(&fake).last().map(|w| (w.0.clone(), w.1.clone())),
        Some(("DELETE".to_owned(), format!("/rest/api/3/filter/{filter}")))
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_irreversible_delete_says_so_and_is_journaled() {
    let fake = start_fake().await;
    let server = start_server(&fake_env(&fake, GROUPS));
    let client = connect(&server, ProtocolVersion::V_2025_11_25).await;
    let (plan, done) = preview_and_commit(
        &client,
        "jsm.deleteOrganization",
        json!({"organizationId": 42}),
    )
    .await;
    assert_eq!(plan["revert"]["possible"], false);
    assert!(
        plan["revert"]["reason"]
            .as_str()
            .unwrap()
            .contains("cannot be restored"),
        "{plan}"
    );
    let id = ok(&done)["journalId"].as_u64().unwrap();
    let entry = journal_get(&client, id).await;
    assert_eq!(
        (entry["tool"].as_str(), entry["status"].as_str()),
        (Some("jsm.deleteOrganization"), Some("completed"))
    );
    let refused = call(&client, "gojira.revert", json!({"journalIds": [id]}))
        .await
        .unwrap();
    assert_eq!(refused.is_error, Some(true));
    assert!(
        text(&refused).contains("irreversible"),
        "{}",
        text(&refused)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_change_between_preview_and_commit_is_refused_with_the_new_diff() {
    let fake = start_fake().await;
    let server = start_server(&fake_env(&fake, GROUPS));
    let client = connect(&server, ProtocolVersion::V_2025_11_25).await;
    let (filter, _) = create_filter(&client, "Before").await;
    let update = json!({"id": filter.parse::<u64>().unwrap(), "body": {"name": "Mine", "jql": "project = GOJ"}});
    let preview = ok(&call(&client, "jira.updateFilter", update.clone())
        .await
        .unwrap());
    let stale = preview["planDigest"].as_str().unwrap().to_owned();

    edit_at_the_fake(&fake, &filter, "Theirs").await;
    let writes_before = writes(&fake).len();
    let mut commit = update.clone();
    commit["commit"] = json!(true);
    commit["planDigest"] = json!(stale);
    let refused = call(&client, "jira.updateFilter", commit).await.unwrap();
    assert_eq!(refused.is_error, Some(true));
    let error = &answer(&refused)["error"];
    assert_eq!(error["code"], "PLAN_CHANGED", "{error}");
    assert_eq!(
        error["details"]["before"]["name"], "Theirs",
        "the new plan shows the new state"
    );
    assert_ne!(error["details"]["planDigest"], json!(stale));
    assert_eq!(writes(&fake).len(), writes_before, "nothing was sent");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn revert_refuses_to_overwrite_a_later_edit_unless_forced() {
    let fake = start_fake().await;
    let server = start_server(&fake_env(&fake, GROUPS));
    let client = connect(&server, ProtocolVersion::V_2025_11_25).await;
    let (filter, _) = create_filter(&client, "Original").await;
    let update = json!({"id": filter.parse::<u64>().unwrap(), "body": {"name": "Ours", "jql": "project = GOJ"}});
    let (_, done) = preview_and_commit(&client, "jira.updateFilter", update).await;
    let id = ok(&done)["journalId"].as_u64().unwrap();

    edit_at_the_fake(&fake, &filter, "Someone else's").await;
    let preview = ok(&call(&client, "gojira.revert", json!({"journalIds": [id]}))
        .await
        .unwrap());
    let conflict = &preview["steps"][0]["conflict"]["changedSince"];
    assert!(
        conflict
            .as_array()
            .unwrap()
            .iter()
            .any(|op| op["path"] == "/name" && op["value"] == "Someone else's"),
        "{preview}"
    );
    let digest = preview["planDigest"].clone();
    let writes_before = writes(&fake).len();
    let refused = call(
        &client,
        "gojira.revert",
        json!({"journalIds": [id], "commit": true, "planDigest": digest}),
    )
    .await
    .unwrap();
    assert_eq!(refused.is_error, Some(true));
    assert_eq!(answer(&refused)["error"]["code"], "REVERT_CONFLICT");
    assert_eq!(
        writes(&fake).len(),
        writes_before,
        "a conflicting revert sends nothing"
    );

    let forced = call(
        &client,
        "gojira.revert",
        json!({"journalIds": [id], "commit": true, "planDigest": digest, "force": true}),
    )
    .await
    .unwrap();
    ok(&forced);
    let (_, path, body) = writes(&fake).pop().unwrap();
    assert_eq!(path, format!("/rest/api/3/filter/{filter}"));
    assert_eq!(body.unwrap()["name"], "Original");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_write_interrupted_by_kill_9_is_resolved_at_restart() {
    let fake = start_fake().await;
    let mut env = fake_env(&fake, GROUPS);
    // Short, so the restarted server resolves the interrupted write soon
    // (after the deadline plus a margin), long enough to kill within it.
    env.insert("GOJIRA_TOOL_TIMEOUT_MS".into(), "3000".into());
    let server = start_server(&env);
    let client = connect(&server, ProtocolVersion::V_2025_11_25).await;
    let (filter, _) = create_filter(&client, "Steady").await;
    let update = json!({"id": filter.parse::<u64>().unwrap(), "body": {"name": "Interrupted", "jql": "project = GOJ"}});
    let preview = ok(&call(&client, "jira.updateFilter", update.clone())
        .await
        .unwrap());
    // The update hangs upstream; the server is killed while it waits.
    fake.inject(
        Fault::status(200)
            .on_method("PUT")
            .with_delay(Duration::from_secs(30)),
    );
    let mut commit = update;
    commit["commit"] = json!(true);
    commit["planDigest"] = preview["planDigest"].clone();
    let in_flight = tokio::spawn(async move { call(&client, "jira.updateFilter", commit).await });
    // The intent is journaled before the request goes; the fake holds the request.
    tokio::time::sleep(Duration::from_millis(700)).await;
    drop(server); // SIGKILL, while the update is in flight
    in_flight.abort();
    fake.clear_faults();

    let server = start_server(&env);
    let client = connect(&server, ProtocolVersion::V_2025_11_25).await;
    let started = Instant::now();
    let entry = loop {
        let listed = ok(&call(
            &client,
            "gojira.journal.list",
            json!({"tool": "jira.updateFilter"}),
        )
        .await
        .unwrap());
        let op = listed["operations"][0].clone();
        if op["status"] != "pending" || started.elapsed() > Duration::from_secs(20) {
            break journal_get(
                &client,
                op["id"].as_u64().expect("the intent survived the crash"),
            )
            .await;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    assert_eq!(entry["status"], "unknown", "{entry}");
    assert!(
        entry["outcome"]["resolution"]
            .as_str()
            .unwrap_or_default()
            .starts_with("not applied"),
        "the hung update never reached the fake's state: {entry}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn verify_names_a_tampered_entry() {
    let fake = start_fake().await;
    let env = fake_env(&fake, GROUPS);
    let server = start_server(&env);
    let client = connect(&server, ProtocolVersion::V_2025_11_25).await;
    let (_, first) = create_filter(&client, "One").await;
    create_filter(&client, "Two").await;
    drop(server);

    let (clean, out, _) = run_with_output(&["verify-journal"], &env);
    assert!(clean, "an untouched journal verifies: {out}");

    // Someone with access to the data directory edits history.
    {
        let store = gojira_store::Store::Embedded(
            gojira_store::embedded::EmbeddedStore::open(
                std::path::Path::new(&env["GOJIRA_DATA_DIR"]),
                gojira_store::Clock::System,
            )
            .unwrap(),
        );
        let entry = store.journal_get("ops", first).await.unwrap().unwrap();
        let forged = String::from_utf8(entry.data).unwrap().replace("One", "Uno");
        assert!(
            store
                .journal_update("ops", first, forged.as_bytes())
                .await
                .unwrap()
        );
    }

    // The operator's command names it (exit status 1)...
    let (clean, out, err) = run_with_output(&["verify-journal"], &env);
    assert!(!clean, "{out}");
    let report: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(report["broken"][0]["id"], first, "{out}");
    assert!(err.contains("broken"), "{err}");

    // ...and so does the tool.
    let server = start_server(&env);
    let client = connect(&server, ProtocolVersion::V_2025_11_25).await;
    let verified = ok(&call(&client, "gojira.journal.verify", json!({}))
        .await
        .unwrap());
    assert_eq!(verified["ok"], false);
    assert_eq!(verified["broken"][0]["id"], first, "{verified}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_batch_reverts_newest_first_and_stops_at_the_first_conflict() {
    let fake = start_fake().await;
    let server = start_server(&fake_env(&fake, GROUPS));
    let client = connect(&server, ProtocolVersion::V_2025_11_25).await;
    let (older, older_id) = create_filter(&client, "Older").await;
    let (newer, newer_id) = create_filter(&client, "Newer").await;
    let (plan, done) = preview_and_commit(
        &client,
        "gojira.revert",
        json!({"journalIds": [older_id, newer_id]}),
    )
    .await;
    let steps: Vec<u64> = plan["steps"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["journalId"].as_u64().unwrap())
        .collect();
    assert_eq!(steps, [newer_id, older_id], "newest first");
    ok(&done);
    let deletes: Vec<String> = writes(&fake)
        .into_iter()
        .filter(|w| w.0 == "DELETE")
        .map(|w| w.1)
        .collect();
    assert_eq!(
        deletes,
        [
            format!("/rest/api/3/filter/{newer}"),
            format!("/rest/api/3/filter/{older}")
        ]
    );

    // Two updates; the newer one's filter is then changed by someone else:
    // the batch stops there and reports the other as not attempted.
    let (a, _) = create_filter(&client, "A").await;
    let (b, _) = create_filter(&client, "B").await;
    let mut ids = Vec::new();
    for (filter, name) in [(&a, "A2"), (&b, "B2")] {
        let update = json!({"id": filter.parse::<u64>().unwrap(), "body": {"name": name, "jql": "project = GOJ"}});
        let (_, done) = preview_and_commit(&client, "jira.updateFilter", update).await;
        ids.push(ok(&done)["journalId"].as_u64().unwrap());
    }
    edit_at_the_fake(&fake, &b, "B by someone else").await;
    let before = writes(&fake).len();
    let (_, stopped) =
        preview_and_commit(&client, "gojira.revert", json!({"journalIds": ids})).await;
    assert_eq!(stopped.is_error, Some(true));
    let details = &answer(&stopped)["error"]["details"];
    assert_eq!(details["reverted"], json!([]), "{details}");
    assert_eq!(details["notReverted"][0]["reason"], "conflict");
    assert_eq!(details["notReverted"][1]["journalId"], ids[0]);
    assert_eq!(writes(&fake).len(), before, "nothing was sent");
}

/// `jira.deleteScreenTab` is `hidden: true`: the inverse of
/// `jira.addScreenTab`, so gojira.revert calls it, but a client never sees
/// it in tools/list and a direct call answers exactly as an unknown tool.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hidden_inverse_is_never_listed_nor_called_directly_but_reverts_its_write() {
    let fake = start_fake().await;
    let server = start_server(&fake_env(&fake, &format!("{GROUPS},write_schemes")));
    let client = connect(&server, ProtocolVersion::V_2025_11_25).await;

    let names: Vec<String> = client
        .list_all_tools()
        .await
        .expect("tools/list")
        .iter()
        .map(|t| t.name.to_string())
        .collect();
    assert!(names.iter().any(|n| n == "jira.addScreenTab"), "{names:?}");
    assert!(
        !names.iter().any(|n| n == "jira.deleteScreenTab"),
        "{names:?}"
    );

    let args = json!({"screenId": 10000, "tabId": 10001, "commit": true});
    let hidden = call(&client, "jira.deleteScreenTab", args.clone())
        .await
        .expect_err("a hidden tool is not callable");
    let unknown = call(&client, "jira.noSuchTabTool", args)
        .await
        .expect_err("unknown tool");
    assert_eq!(
        hidden.to_string(),
        unknown
            .to_string()
            .replace("jira.noSuchTabTool", "jira.deleteScreenTab"),
        "a hidden tool answers as an unknown one"
    );
    assert!(writes(&fake).is_empty(), "nothing reached Atlassian");

    let added = ok(&call(
        &client,
        "jira.addScreenTab",
        json!({"screenId": 10000, "body": {"name": "Audit"}}),
    )
    .await
    .unwrap());
    let tab = added["id"].as_i64().expect("tab id");
    let original = added["journalId"].as_u64().expect("journalId");
    let (plan, reverted) =
        preview_and_commit(&client, "gojira.revert", json!({"journalIds": [original]})).await;
    assert_eq!(plan["steps"][0]["tool"], "jira.deleteScreenTab", "{plan}");
    let reverted = ok(&reverted);
    let revert_id = reverted["reverted"][0]["revertJournalId"]
        .as_u64()
        .expect("{reverted}");
    assert_eq!(
        writes(&fake).last().map(|w| (w.0.clone(), w.1.clone())),
        Some((
            "DELETE".to_owned(),
            format!("/rest/api/3/screens/10000/tabs/{tab}")
        ))
    );
    let entry = journal_get(&client, revert_id).await;
    assert_eq!(entry["tool"], "jira.deleteScreenTab");
    assert_eq!(entry["revertOf"], original);
    client.cancel().await.ok();
}
