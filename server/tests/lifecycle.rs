//! The server's life cycle in production: how it stops (SIGTERM drains like
//! Ctrl-C) and how a client ends its session (DELETE), against the real
//! binary over real HTTP.

#![allow(clippy::expect_used, clippy::unwrap_used, clippy::panic)]

mod common;

use std::time::{Duration, Instant};

use common::*;
use fake_atlassian::Fault;
use rmcp::model::{CallToolResult, ProtocolVersion};
use serde_json::{Value, json};

fn ok(result: &CallToolResult) -> Value {
    assert_ne!(result.is_error, Some(true), "{}", text(result));
    result.structured_content.clone().unwrap_or(Value::Null)
}

/// SIGTERM (what Kubernetes and systemd send) stops accepting, lets the
/// write in flight finish for its client, journals its outcome, and exits 0
/// within `GOJIRA_SHUTDOWN_GRACE_SECS`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_drains_a_write_in_flight_and_exits_0() {
    let fake = start_fake().await;
    let mut env = fake_env(&fake, "write_projects,utility");
    env.insert("GOJIRA_SHUTDOWN_GRACE_SECS".into(), "8".into());
    let mut server = start_server(&env);
    let addr = server.base.trim_start_matches("http://").to_owned();
    let client = connect(&server, ProtocolVersion::V_2025_11_25).await;
    let args = json!({"project": "ABC"});
    let preview = ok(&call(&client, "jira.archiveProject", args.clone())
        .await
        .unwrap());
    let digest = preview["planDigest"].as_str().unwrap().to_owned();
    // Atlassian takes 3 s to answer the write.
    fake.inject(
        Fault::status(204)
            .on_operation("archiveProject")
            .with_delay(Duration::from_secs(3))
            .times(1),
    );
    let mut commit = args.clone();
    commit["commit"] = json!(true);
    commit["planDigest"] = json!(digest);
    let write = tokio::spawn(async move {
        let result = call(&client, "jira.archiveProject", commit).await;
        (client, result)
    });
    tokio::time::sleep(Duration::from_millis(1000)).await;
    server.signal("TERM");
    let signalled = Instant::now();
    tokio::time::sleep(Duration::from_millis(300)).await;
    let refused = tokio::net::TcpStream::connect(&addr).await;
    assert!(
        refused.is_err(),
        "a new connection was accepted after SIGTERM"
    );

    let (client, result) = tokio::time::timeout(Duration::from_secs(15), write)
        .await
        .unwrap_or_else(|_| {
            panic!(
                "the write in flight got no answer within 15 s of SIGTERM: {}",
                server.stderr()
            )
        })
        .unwrap();
    let done = ok(&result.expect("the write in flight completes for its client"));
    let journal_id = done["journalId"].as_u64().expect("journalId");
    drop(client);
    let status = server
        .wait_for_exit(Duration::from_secs(8))
        .unwrap_or_else(|| panic!("still running 8 s after SIGTERM: {}", server.stderr()));
    assert!(
        status.success(),
        "exit status {status:?} after SIGTERM: {}",
        server.stderr()
    );
    assert!(
        signalled.elapsed() < Duration::from_secs(8),
        "exited {:?} after SIGTERM",
        signalled.elapsed()
    );

    // Restarted on the same data: the write's outcome is in the journal.
    drop(server);
    let server = start_server(&env);
    let client = connect(&server, ProtocolVersion::V_2025_11_25).await;
    let entry = ok(
        &call(&client, "gojira.journal.get", json!({"id": journal_id}))
            .await
            .unwrap(),
    );
    assert_eq!(entry["status"], "completed", "{entry}");
    assert_eq!(entry["outcome"]["upstreamStatus"], 204, "{entry}");
    client.cancel().await.ok();
}

/// A client ends its session with DELETE: 204 for a session that exists,
/// 404 for one that does not (never existed, or already ended).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn delete_ends_a_session_and_404s_an_unknown_one() {
    let fake = start_fake().await;
    let server = start_server(&fake_env(&fake, "read_projects"));
    let http = reqwest::Client::new();
    let post = |body: Value, session: Option<&str>| {
        let mut request = http
            .post(server.mcp_url())
            .header("content-type", "application/json")
            .header("accept", "application/json, text/event-stream")
            .json(&body);
        if let Some(id) = session {
            request = request
                .header("mcp-session-id", id)
                .header("mcp-protocol-version", "2025-11-25");
        }
        request.send()
    };
    let delete = |session: &str| {
        http.delete(server.mcp_url())
            .header("mcp-session-id", session)
            .header("mcp-protocol-version", "2025-11-25")
            .send()
    };
    let session = open_raw_session(&http, &server).await;

    let deleted = delete(&session).await.unwrap();
    assert!(
        matches!(deleted.status().as_u16(), 200 | 204),
        "closing a session answered {}",
        deleted.status()
    );
    // The session is gone: using it or closing it again is 404.
    let again = delete(&session).await.unwrap();
    assert_eq!(again.status(), 404, "closing it again");
    let listed = post(
        json!({"jsonrpc": "2.0", "id": 2, "method": "tools/list"}),
        Some(&session),
    )
    .await
    .unwrap();
    assert_eq!(listed.status(), 404, "using a closed session");
    let unknown = delete("no-such-session").await.unwrap();
    assert_eq!(unknown.status(), 404, "closing an unknown session");
}
