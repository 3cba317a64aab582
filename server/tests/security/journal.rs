//! The journal per user: each user sees, verifies and reverts only their own
//! writes; reading everyone's needs an explicit operator setting and is
//! audited.

use fake_atlassian::{DEFAULT_ACCOUNT_ID, FakeUser};
use serde_json::{Value, json};

use crate::common::oauth::*;
use crate::common::*;

const BOB: &str = "5b10ac8d82e05b22cc7d4bob";
const GROUPS: &str = "utility,read_projects,write_projects";

/// Alice archives a project (the journal holds the project as Alice's
/// credential read it). Bob, another user on the same server, cannot list
/// it (not even with Alice's principal as a filter), get it, see it in his
/// verification, or revert it; Alice can.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_user_sees_verifies_and_reverts_only_their_own_journal_entries() {
    let fake = strict_fake().await;
    fake.fake()
        .add_user(FakeUser::new(BOB, "bob@example.com", "Bob"));
    let server = start_server(&oauth_env(&fake, GROUPS));
    let alice = sign_in_as(&server, &fake, DEFAULT_ACCOUNT_ID).await;
    let bob = sign_in_as(&server, &fake, BOB).await;
    let alice_client = connect_as(&server, &alice.access).await;
    let bob_client = connect_as(&server, &bob.access).await;

    let (_, done) = preview_and_commit(
        &alice_client,
        "jira.archiveProject",
        json!({"project": "ABC"}),
    )
    .await;
    assert_ne!(done.is_error, Some(true), "{}", text(&done));
    let id = done.structured_content.unwrap()["journalId"].clone();
    assert!(id.as_u64().is_some(), "a journal id: {id}");

    // Alice sees her entry.
    let mine = call(&alice_client, "gojira.journal.list", json!({}))
        .await
        .unwrap();
    let mine = mine.structured_content.unwrap();
    assert_eq!(mine["operations"].as_array().unwrap().len(), 1, "{mine}");

    // Bob sees nothing of it.
    let listed = call(&bob_client, "gojira.journal.list", json!({}))
        .await
        .unwrap();
    assert_eq!(
        listed.structured_content.unwrap()["operations"],
        json!([]),
        "Bob's list holds only his own writes"
    );
    let filtered = call(
        &bob_client,
        "gojira.journal.list",
        json!({"principal": format!("oauth:{DEFAULT_ACCOUNT_ID}")}),
    )
    .await
    .unwrap();
    assert_eq!(
        error_code(&filtered).as_deref(),
        Some("INSUFFICIENT_PERMISSIONS"),
        "a filter on another user is refused: {}",
        text(&filtered)
    );
    let got = call(&bob_client, "gojira.journal.get", json!({"id": id}))
        .await
        .unwrap();
    assert_eq!(
        error_code(&got).as_deref(),
        Some("NOT_FOUND"),
        "another user's entry answers as a missing one: {}",
        text(&got)
    );
    assert!(!text(&got).contains("ABC"), "{}", text(&got));
    let all = call(
        &bob_client,
        "gojira.journal.list",
        json!({"allUsers": true}),
    )
    .await
    .unwrap();
    assert_eq!(
        error_code(&all).as_deref(),
        Some("INSUFFICIENT_PERMISSIONS"),
        "{}",
        text(&all)
    );
    let verified = call(&bob_client, "gojira.journal.verify", json!({}))
        .await
        .unwrap();
    let verified = verified.structured_content.unwrap();
    assert_eq!(
        verified["checked"], 0,
        "Bob verifies his own entries: {verified}"
    );
    assert_eq!(verified["chainIntact"], true, "{verified}");
    let reverted = call(
        &bob_client,
        "gojira.revert",
        json!({"journalIds": [id], "commit": false}),
    )
    .await
    .unwrap();
    assert_eq!(reverted.is_error, Some(true), "{}", text(&reverted));
    assert!(
        text(&reverted).contains("not one of your writes"),
        "{}",
        text(&reverted)
    );

    // Alice can revert her own.
    let preview = call(&alice_client, "gojira.revert", json!({"journalIds": [id]}))
        .await
        .unwrap();
    assert_ne!(preview.is_error, Some(true), "{}", text(&preview));
    let got = call(&alice_client, "gojira.journal.get", json!({"id": id}))
        .await
        .unwrap();
    assert_ne!(got.is_error, Some(true), "{}", text(&got));
    alice_client.cancel().await.ok();
    bob_client.cancel().await.ok();
}

/// An operator named in `GOJIRA_JOURNAL_OPERATORS` reads every user's
/// entries with `allUsers: true`, and each such read is in the audit log.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_operator_reads_every_users_journal_only_when_configured_and_audited() {
    let fake = strict_fake().await;
    fake.fake()
        .add_user(FakeUser::new(BOB, "bob@example.com", "Bob"));
    let mut env = oauth_env(&fake, GROUPS);
    env.insert("GOJIRA_JOURNAL_OPERATORS".into(), BOB.into());
    let audit_path = format!("{}/org-admin-audit.log", env["GOJIRA_DATA_DIR"]);
    let server = start_server(&env);
    let alice = sign_in_as(&server, &fake, DEFAULT_ACCOUNT_ID).await;
    let bob = sign_in_as(&server, &fake, BOB).await;
    let alice_client = connect_as(&server, &alice.access).await;
    let bob_client = connect_as(&server, &bob.access).await;
    let (_, done) = preview_and_commit(
        &alice_client,
        "jira.archiveProject",
        json!({"project": "ABC"}),
    )
    .await;
    assert_ne!(done.is_error, Some(true), "{}", text(&done));

    // Without allUsers even an operator sees only their own.
    let own = call(&bob_client, "gojira.journal.list", json!({}))
        .await
        .unwrap();
    assert_eq!(own.structured_content.unwrap()["operations"], json!([]));
    let all = call(
        &bob_client,
        "gojira.journal.list",
        json!({"allUsers": true}),
    )
    .await
    .unwrap();
    assert_ne!(all.is_error, Some(true), "{}", text(&all));
    let ops = all.structured_content.unwrap()["operations"].clone();
    assert_eq!(ops.as_array().unwrap().len(), 1, "{ops}");
    assert_eq!(ops[0]["principal"], format!("oauth:{DEFAULT_ACCOUNT_ID}"));
    let audit = std::fs::read_to_string(&audit_path).unwrap_or_default();
    let event = audit
        .lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .find(|e| e["event"] == "JOURNAL_OPERATOR_VIEW")
        .unwrap_or_else(|| panic!("the operator's view is audited: {audit}"));
    assert_eq!(event["principal"], format!("oauth:{BOB}"));
    assert_eq!(event["tool"], "gojira.journal.list");
    alice_client.cancel().await.ok();
    bob_client.cancel().await.ok();
}

/// The journal's own errors and inputs: a missing entry is `NOT_FOUND` (no
/// Atlassian call was involved), impossible dates are refused, and the
/// schema says `date-time`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn journal_inputs_are_checked_and_a_missing_entry_is_not_found() {
    let fake = start_fake().await;
    let server = start_server(&fake_env(&fake, "utility"));
    let client = connect(&server, rmcp::model::ProtocolVersion::V_2025_11_25).await;
    let missing = call(&client, "gojira.journal.get", json!({"id": 424242}))
        .await
        .unwrap();
    assert_eq!(missing.is_error, Some(true));
    assert_eq!(
        missing.structured_content.unwrap()["error"]["code"],
        "NOT_FOUND"
    );
    for bad in ["2026-02-31T00:00:00Z", "2025-02-29T00:00:00Z", "yesterday"] {
        let r = call(&client, "gojira.journal.list", json!({"since": bad}))
            .await
            .unwrap();
        assert_eq!(r.is_error, Some(true), "{bad} is refused");
        let message = text(&r);
        assert!(
            message.contains("INVALID_ARGUMENTS") && message.contains("date-time"),
            "{message}"
        );
    }
    let ok = call(
        &client,
        "gojira.journal.list",
        json!({"since": "2024-02-29T00:00:00+01:00", "until": "2099-01-01T00:00:00Z"}),
    )
    .await
    .unwrap();
    assert_ne!(ok.is_error, Some(true), "{}", text(&ok));
    let tools = client.list_all_tools().await.unwrap();
    let list = tools
        .iter()
        .find(|t| t.name == "gojira.journal.list")
        .unwrap();
    for field in ["since", "until"] {
        assert_eq!(
            list.input_schema["properties"][field]["format"], "date-time",
            "{field}"
        );
    }
    client.cancel().await.ok();
}

/// A revert goes to the site its write was made on, or nowhere: a user
/// whose calls now go to another site is refused before anything is sent.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_revert_is_refused_on_another_site_than_its_write() {
    const OTHER: &str = "99999999-0000-0000-0000-000000000000";
    let fake = strict_fake().await;
    fake.fake()
        .add_site(fake_atlassian::FakeSite::new(OTHER, "other"));
    fake.fake().add_user(
        FakeUser::new(BOB, "bob@example.com", "Bob")
            .with_sites(&[fake_atlassian::DEFAULT_CLOUD_ID, OTHER]),
    );
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
        .to_string();
    let mut env = oauth_env(&fake, GROUPS);
    env.insert("MCP_PORT".into(), port.clone());
    env.insert("MCP_SERVER_URL".into(), format!("http://127.0.0.1:{port}"));
    env.insert(
        "ATLASSIAN_CLOUD_ID".into(),
        fake_atlassian::DEFAULT_CLOUD_ID.into(),
    );
    let server = start_server(&env);
    let bob = sign_in_as(&server, &fake, BOB).await;
    let client = connect_as(&server, &bob.access).await;
    let (_, done) =
        preview_and_commit(&client, "jira.archiveProject", json!({"project": "ABC"})).await;
    assert_ne!(done.is_error, Some(true), "{}", text(&done));
    let id = done.structured_content.unwrap()["journalId"].clone();
    client.cancel().await.ok();
    drop(server);

    // The same store and sign-in; the server now sends Bob's calls to OTHER.
    env.insert("ATLASSIAN_CLOUD_ID".into(), OTHER.into());
    let server = start_server(&env);
    let client = connect_as(&server, &bob.access).await;
    let sent = fake.requests().len();
    let revert = call(&client, "gojira.revert", json!({"journalIds": [id]}))
        .await
        .unwrap();
    assert_eq!(revert.is_error, Some(true), "{}", text(&revert));
    assert!(
        text(&revert).contains(fake_atlassian::DEFAULT_CLOUD_ID),
        "the refusal names the write's site: {}",
        text(&revert)
    );
    assert_eq!(
        fake.requests().len(),
        sent,
        "nothing was sent to either site"
    );
    client.cancel().await.ok();
}
