//! The read cache: a hit for the same principal, a miss for another, and a
//! write through gojira invalidates. Two instances share a real Redis.

#![allow(clippy::expect_used, clippy::unwrap_used, clippy::panic)]

mod common;

use common::*;
use rmcp::model::ProtocolVersion;
use serde_json::json;

fn upstream_gets(fake: &fake_atlassian::FakeHandle, path: &str) -> usize {
    fake.requests()
        .iter()
        .filter(|r| r.method == "GET" && r.path == path)
        .count()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cached_reads_are_per_principal_and_invalidated_by_writes() {
    let redis = common::redis::require_redis();
    let fake = start_fake().await;
    let run = format!(
        "{}-{}",
        std::process::id(),
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_millis()
    );
    let mut env_a = fake_env(&fake, "read_projects,write_projects");
    env_a.insert("GOJIRA_REDIS_URL".into(), redis);
    env_a.insert("ATLASSIAN_EMAIL".into(), format!("alice-{run}@example.com"));
    let mut env_b = env_a.clone();
    env_b.insert("GOJIRA_DATA_DIR".into(), data_dir());
    env_b.insert("ATLASSIAN_EMAIL".into(), format!("bob-{run}@example.com"));
    let a = start_server(&env_a);
    let b = start_server(&env_b);
    let client_a = connect(&a, ProtocolVersion::V_2025_11_25).await;
    let client_b = connect(&b, ProtocolVersion::V_2025_11_25).await;
    let search = "/rest/api/3/project/search";

    let first = call(&client_a, "jira.searchProjects", json!({}))
        .await
        .unwrap();
    assert_ne!(first.is_error, Some(true), "{}", text(&first));
    let second = call(&client_a, "jira.searchProjects", json!({}))
        .await
        .unwrap();
    assert_eq!(first.structured_content, second.structured_content);
    assert_eq!(
        upstream_gets(&fake, search),
        1,
        "the second identical read is a cache hit"
    );

    // Different arguments are a different request.
    call(&client_a, "jira.searchProjects", json!({"query": "ops"}))
        .await
        .unwrap();
    assert_eq!(upstream_gets(&fake, search), 2);

    // Another principal (another instance, same Redis) never sees alice's entry.
    call(&client_b, "jira.searchProjects", json!({}))
        .await
        .unwrap();
    assert_eq!(
        upstream_gets(&fake, search),
        3,
        "no sharing across principals"
    );

    // Alice writes through gojira: the preview changes nothing (her cache
    // stays), the committed write drops her cached reads of the product.
    let (_, updated) = preview_and_commit(
        &client_a,
        "jira.updateProject",
        json!({"project": "ABC", "body": {"name": "Renamed"}}),
    )
    .await;
    assert_ne!(updated.is_error, Some(true), "{}", text(&updated));
    call(&client_a, "jira.searchProjects", json!({}))
        .await
        .unwrap();
    assert_eq!(
        upstream_gets(&fake, search),
        4,
        "a write invalidates the writer's cache"
    );

    // Errors are never cached.
    fake.inject(
        fake_atlassian::Fault::status(500)
            .on_path("/rest/api/3/field/search")
            .times(1),
    );
    let mut env_c = env_a.clone();
    env_c.insert("GOJIRA_ENABLED_GROUPS".into(), "read_customfields".into());
    env_c.insert("GOJIRA_DATA_DIR".into(), data_dir());
    let c = start_server(&env_c);
    let client_c = connect(&c, ProtocolVersion::V_2025_11_25).await;
    let failed = call(&client_c, "jira.searchFields", json!({}))
        .await
        .unwrap();
    assert_eq!(failed.is_error, Some(true));
    let ok = call(&client_c, "jira.searchFields", json!({}))
        .await
        .unwrap();
    assert_ne!(ok.is_error, Some(true), "{}", text(&ok));
    for client in [client_a, client_b, client_c] {
        client.cancel().await.ok();
    }
}
