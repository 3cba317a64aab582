//! Redaction: no credential reaches the model or the journal. An upstream
//! (or a proxy in front of it) that echoes the request's `Authorization`
//! header in an error body must not hand the credential to the model; a
//! write that carries secret-named fields, or a secret value, must not put
//! them in the append-only journal, where they could never be removed.

use base64::Engine as _;
use fake_atlassian::{DEFAULT_ACCOUNT_ID, DEFAULT_ORG_ADMIN_KEY, FakeHandle, FakeUser, Fault};
use rmcp::model::{CallToolResult, ProtocolVersion};
use serde_json::{Value, json};

use crate::common::oauth::*;
use crate::common::*;

/// The local-mode credential of `fake_env`.
const EMAIL: &str = "e2e@example.com";
const API_TOKEN: &str = "e2e-secret-token";
const ORG_KEY: &str = "e2e-org-key";

/// Secret values the journal test writes (all must stay out of it).
const BODY_SECRETS: [&str; 7] = [
    "hunter2-password",
    "s3cr3t-client-secret",
    "nested-api-token-value",
    "array-private-key-value",
    "cookie-session-value",
    "zBearerTokenInAString123",
    "QmFzaWNJbkFTdHJpbmc=",
];

fn basic(email: &str, token: &str) -> String {
    base64::engine::general_purpose::STANDARD.encode(format!("{email}:{token}"))
}

/// Everything a tool result hands the model: its text and structured content.
fn seen_by_model(result: &CallToolResult) -> String {
    format!(
        "{}\n{}",
        text(result),
        result
            .structured_content
            .as_ref()
            .map(Value::to_string)
            .unwrap_or_default()
    )
}

fn assert_absent(haystack: &str, secrets: &[String], what: &str) {
    for secret in secrets {
        assert!(
            !haystack.contains(secret.as_str()),
            "{what} holds the secret {secret:?}: {haystack}"
        );
    }
}

/// The fake really echoes the credential (so a clean result proves redaction).
async fn assert_fake_echoes(fake: &FakeHandle, path: &str) {
    let echoed = reqwest::Client::new()
        .get(format!("{}{path}", fake.base_url()))
        .basic_auth("probe@example.com", Some("probe-token-123"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        echoed.contains("probe-token-123")
            && echoed.contains(&basic("probe@example.com", "probe-token-123")),
        "the fault echoes the credential: {echoed}"
    );
    fake.clear_requests();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_upstream_error_that_echoes_authorization_never_reaches_the_model() {
    let fake = start_fake().await;
    let server = start_server(&fake_env(&fake, "utility,read_projects,admin_org"));
    let client = connect(&server, ProtocolVersion::V_2025_11_25).await;
    fake.inject(
        Fault::echo_authorization(400)
            .on_operation("getProject")
            .times(2),
    );
    assert_fake_echoes(&fake, "/rest/api/3/project/GOJ").await;

    let result = call(&client, "jira.getProject", json!({"project": "GOJ"}))
        .await
        .unwrap();
    assert_eq!(error_code(&result).as_deref(), Some("UPSTREAM_REJECTED"));
    assert_eq!(
        fake.requests()[0].auth_scheme.as_deref(),
        Some("Basic"),
        "the call used the API token"
    );
    let secrets = vec![API_TOKEN.to_owned(), basic(EMAIL, API_TOKEN)];
    assert_absent(&seen_by_model(&result), &secrets, "the tool result");

    // The org key, on the org-admin product (a 401, never retried).
    fake.inject(Fault::echo_authorization(401).on_path("/admin/"));
    let result = call(&client, "org.listOrgs", json!({})).await.unwrap();
    assert_eq!(
        error_code(&result).as_deref(),
        Some("UPSTREAM_UNAUTHORIZED")
    );
    assert_absent(
        &seen_by_model(&result),
        &[ORG_KEY.to_owned(), API_TOKEN.to_owned()],
        "the org-admin tool result",
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_oauth_users_atlassian_token_never_reaches_a_tool_result() {
    let fake = strict_fake().await;
    fake.fake().add_user(FakeUser::new(BOB, BOB_EMAIL, "Bob"));
    let server = start_server(&oauth_env(&fake, "utility,read_projects,admin_org"));
    let alice = sign_in_as(&server, &fake, DEFAULT_ACCOUNT_ID).await;
    let bob = sign_in_as(&server, &fake, BOB).await;
    fake.inject(Fault::echo_authorization(403).on_operation("getProject"));
    fake.inject(Fault::echo_authorization(401).on_path("/admin/"));

    for tokens in [&alice, &bob] {
        let client = connect_as(&server, &tokens.access).await;
        let result = call(&client, "jira.getProject", json!({"project": "GOJ"}))
            .await
            .unwrap();
        assert_eq!(error_code(&result).as_deref(), Some("UPSTREAM_FORBIDDEN"));
        let org = call(&client, "org.listOrgs", json!({})).await.unwrap();
        assert!(error_code(&org).is_some());
        let mut secrets: Vec<String> = fake
            .fake()
            .issued_access_tokens()
            .into_iter()
            .map(|t| t.access_token)
            .collect();
        assert!(secrets.len() >= 2, "both users hold an Atlassian token");
        secrets.extend([
            alice.access.clone(),
            bob.access.clone(),
            DEFAULT_ORG_ADMIN_KEY.to_owned(),
        ]);
        assert_absent(&seen_by_model(&result), &secrets, "the tool result");
        assert_absent(&seen_by_model(&org), &secrets, "the org-admin tool result");
    }
    assert!(
        fake.requests()
            .iter()
            .any(|r| r.auth_scheme.as_deref() == Some("Bearer") && r.path.contains("/project/GOJ")),
        "the calls went with the users' Atlassian tokens"
    );
}

/// A space property value full of secrets: secret-named keys at any depth,
/// secret-named objects inside arrays, credentials inside ordinary strings,
/// and the configured API token under an innocent name.
fn secret_value() -> Value {
    json!({
        "name": "integration",
        "password": BODY_SECRETS[0],
        "oauth": {"clientSecret": BODY_SECRETS[1], "settings": {"apiToken": BODY_SECRETS[2]}},
        "keys": [{"privateKey": BODY_SECRETS[3]}, {"Cookie": BODY_SECRETS[4]}],
        "headers": [["Authorization", format!("Bearer {}", BODY_SECRETS[5])]],
        "note": format!("sent with Authorization: Basic {}", BODY_SECRETS[6]),
        "copiedCredential": API_TOKEN,
        "innocent": format!("the token is {API_TOKEN}"),
    })
}

fn journal_secrets() -> Vec<String> {
    let mut secrets: Vec<String> = BODY_SECRETS.iter().map(|s| (*s).to_owned()).collect();
    secrets.extend([
        API_TOKEN.to_owned(),
        basic(EMAIL, API_TOKEN),
        ORG_KEY.to_owned(),
    ]);
    secrets
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_journal_never_holds_a_secret() {
    let fake = start_fake().await;
    let env = fake_env(
        &fake,
        "utility,read_confluence_admin,write_confluence_admin",
    );
    let server = start_server(&env);
    let client = connect(&server, ProtocolVersion::V_2025_11_25).await;

    // A create (consent: none): args, request body and result carry the secrets.
    let created = call(
        &client,
        "confluence.createSpaceProperty",
        json!({"spaceId": 42, "body": {"key": "integration", "value": secret_value()}}),
    )
    .await
    .unwrap();
    assert_ne!(created.is_error, Some(true), "{}", text(&created));
    let created = created.structured_content.unwrap();
    let created_id = created["journalId"].as_u64().expect("journalId");
    let property_id = created["id"].as_str().map_or_else(
        || created["id"].as_u64().unwrap().to_string(),
        str::to_owned,
    );

    // An update (consent: commit): the snapshot and the state after hold them too.
    let (_, updated) = preview_and_commit(
        &client,
        "confluence.updateSpaceProperty",
        json!({"spaceId": 42, "propertyId": property_id.parse::<i64>().unwrap(),
               "body": {"key": "integration", "value": secret_value(), "version": {"number": 2}}}),
    )
    .await;
    assert_ne!(updated.is_error, Some(true), "{}", text(&updated));
    let updated_id = updated.structured_content.unwrap()["journalId"]
        .as_u64()
        .expect("journalId");

    // A failed write whose error body echoes the credential.
    fake.inject(Fault::echo_authorization(400).on_method("POST").times(1));
    let failed = call(
        &client,
        "confluence.createSpaceProperty",
        json!({"spaceId": 42, "body": {"key": "again", "value": secret_value()}}),
    )
    .await
    .unwrap();
    assert_eq!(error_code(&failed).as_deref(), Some("UPSTREAM_REJECTED"));

    // What gojira.journal.get shows.
    let listed = call(&client, "gojira.journal.list", json!({}))
        .await
        .unwrap();
    let ids: Vec<u64> = listed.structured_content.unwrap()["operations"]
        .as_array()
        .expect("operations")
        .iter()
        .filter_map(|op| op["id"].as_u64())
        .collect();
    assert!(
        ids.contains(&created_id) && ids.contains(&updated_id),
        "{ids:?}"
    );
    assert_eq!(ids.len(), 3, "create, update, failed create: {ids:?}");
    for id in ids {
        let entry = call(&client, "gojira.journal.get", json!({"id": id}))
            .await
            .unwrap();
        assert_ne!(entry.is_error, Some(true), "{}", text(&entry));
        let shown = seen_by_model(&entry);
        assert!(
            shown.contains("[redacted]"),
            "entry {id} is redacted: {shown}"
        );
        assert_absent(&shown, &journal_secrets(), &format!("journal entry {id}"));
    }
    assert_absent(
        &seen_by_model(&failed),
        &journal_secrets(),
        "the failed write's result",
    );
    drop(client);
    drop(server);

    // What the store holds: every entry of the chain, and every byte on disk.
    let store = gojira_store::Store::Embedded(
        gojira_store::embedded::EmbeddedStore::open(
            std::path::Path::new(&env["GOJIRA_DATA_DIR"]),
            gojira_store::Clock::System,
        )
        .unwrap(),
    );
    let mut entries = 0;
    for id in 1..100 {
        let Some(entry) = store.journal_get("ops", id).await.unwrap() else {
            break;
        };
        entries += 1;
        let data = String::from_utf8(entry.data).unwrap();
        assert_absent(
            &data,
            &journal_secrets(),
            &format!("stored journal entry {id}"),
        );
    }
    assert_eq!(entries, 6, "three intents and three outcomes");
    drop(store);
    for file in std::fs::read_dir(&env["GOJIRA_DATA_DIR"]).unwrap() {
        let path = file.unwrap().path();
        if !path.is_file() {
            continue;
        }
        let bytes = std::fs::read(&path).unwrap();
        for secret in journal_secrets() {
            assert!(
                !bytes.windows(secret.len()).any(|w| w == secret.as_bytes()),
                "{} holds the secret {secret:?}",
                path.display()
            );
        }
    }
}

/// The journal keeps no secret, so an inverse that needs one cannot be
/// built from it: the revert is refused, and nothing (least of all the
/// redaction marker) is written over the live value.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_revert_never_writes_a_redacted_value_back() {
    let fake = start_fake().await;
    let server = start_server(&fake_env(
        &fake,
        "utility,read_confluence_admin,write_confluence_admin",
    ));
    let client = connect(&server, ProtocolVersion::V_2025_11_25).await;
    let created = call(
        &client,
        "confluence.createSpaceProperty",
        json!({"spaceId": 42, "body": {"key": "integration", "value": {"password": "old-password-1"}}}),
    )
    .await
    .unwrap();
    let created = created.structured_content.unwrap();
    let property_id = created["id"].as_str().unwrap().parse::<i64>().unwrap();
    let (_, updated) = preview_and_commit(
        &client,
        "confluence.updateSpaceProperty",
        json!({"spaceId": 42, "propertyId": property_id,
               "body": {"key": "integration", "value": {"password": "new-password-2"}, "version": {"number": 2}}}),
    )
    .await;
    let update_id = updated.structured_content.unwrap()["journalId"]
        .as_u64()
        .unwrap();
    fake.clear_requests();

    let preview = call(&client, "gojira.revert", json!({"journalIds": [update_id]}))
        .await
        .unwrap();
    let digest = preview.structured_content.unwrap()["planDigest"]
        .as_str()
        .unwrap()
        .to_owned();
    // No force needed: the live state is compared redacted, like the journal's.
    let refused = call(
        &client,
        "gojira.revert",
        json!({"journalIds": [update_id], "commit": true, "planDigest": digest}),
    )
    .await
    .unwrap();
    assert!(
        error_code(&refused).is_some(),
        "refused: {}",
        text(&refused)
    );
    assert!(text(&refused).contains("redacted"), "{}", text(&refused));
    assert!(
        fake.requests().iter().all(|r| r.method == "GET"),
        "nothing was written: {:?}",
        fake.requests()
            .iter()
            .map(|r| (&r.method, &r.path))
            .collect::<Vec<_>>()
    );
}
