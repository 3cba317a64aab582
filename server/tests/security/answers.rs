//! Upstream answers: gojira reads at most 16 MiB of one (an upstream that
//! answers without end must not make it buffer without end), and the
//! shaping it does keeps the answer's key order.

use std::time::{Duration, Instant};

use fake_atlassian::Fault;
use rmcp::model::ProtocolVersion;
use serde_json::json;

use crate::common::oauth::error_code;
use crate::common::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_answer_over_the_cap_is_refused_promptly_with_a_next_step() {
    let fake = start_fake().await;
    let server = start_server(&fake_env(&fake, "read_projects"));
    let client = connect(&server, ProtocolVersion::V_2025_11_25).await;
    // 17 MiB of one project list: over the 16 MiB cap.
    let huge = "x".repeat(17 * 1024 * 1024);
    fake.inject(
        Fault::status(200)
            .on_path("/rest/api/3/project/search")
            .with_body(json!({"values": [{"id": "1", "description": huge}], "isLast": true})),
    );
    let started = Instant::now();
    let result = call(&client, "jira.searchProjects", json!({"limit": 50}))
        .await
        .unwrap();
    let took = started.elapsed();
    assert!(error_code(&result).is_some(), "refused: {}", text(&result));
    let message = text(&result);
    assert!(
        message.contains("16 MiB") && message.contains("smaller `limit`"),
        "the error names the cap and the next step: {message}"
    );
    assert!(
        took < Duration::from_secs(10),
        "refused promptly, not at the deadline: {took:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_trimmed_answer_keeps_its_key_order() {
    let fake = start_fake().await;
    let server = start_server(&fake_env(&fake, "read_projects"));
    let client = connect(&server, ProtocolVersion::V_2025_11_25).await;
    fake.inject(
        Fault::status(200)
            .on_operation("getProject")
            .with_body(json!({
                "self": "https://site/rest/api/3/project/1",
                "expand": "description,lead",
                "id": "1",
                "key": "GOJ",
                "name": "Gojira",
                "avatarUrls": {"48x48": "https://site/a.png"},
                "description": "d",
                "lead": {"self": "https://site/user", "accountId": "a", "displayName": "Lead"},
                "projectTypeKey": "software",
            })),
    );
    let result = call(&client, "jira.getProject", json!({"project": "GOJ"}))
        .await
        .unwrap();
    assert_ne!(result.is_error, Some(true), "{}", text(&result));
    let answer = serde_json::to_string(&result.structured_content.unwrap()).unwrap();
    assert_eq!(
        answer,
        r#"{"id":"1","key":"GOJ","name":"Gojira","description":"d","lead":{"accountId":"a","displayName":"Lead"},"projectTypeKey":"software"}"#,
        "noise is trimmed and every other key keeps its place"
    );
}
