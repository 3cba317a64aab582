//! Outbound pacing and retries, end to end: the real binary against the
//! fake Atlassian, asserting on the fake's request log (what Atlassian would
//! have seen, and when).
//!
//! The class model under test (see `gojira_runtime::pacing`): every request
//! has a home class decided before it is sent, `per_issue_write` for a write
//! to a path containing `/issue/` and `burst` for everything else, and takes
//! one token from that class's bucket (per tenant and credential kind). A
//! 429 pauses the class its `RateLimit-Reason` names (`*-burst-based` →
//! burst, `*-quota-*` → quota, `*-per-issue-on-write` → per_issue_write; no
//! reason → the request's home class): no request of a paused home class is
//! sent before the pause ends, and a retry also waits for the pause of the
//! class that refused it. A quota pause therefore holds the refused
//! request's retry while other (burst) traffic keeps flowing, and a burst
//! pause holds every burst request of the tenant. The catalog has no
//! per-issue write tool, so burst/quota is the pair tested here (burst vs.
//! per_issue_write is covered by the runtime's unit tests).

#![allow(clippy::expect_used, clippy::unwrap_used, clippy::panic)]

mod common;

use std::collections::BTreeMap;
use std::time::{Duration, Instant, SystemTime};

use common::*;
use fake_atlassian::{FakeHandle, Fault, RecordedRequest};
use rmcp::model::ProtocolVersion;
use serde_json::json;

/// Seconds from `a` to `b` (negative when `b` is earlier).
fn secs_between(a: SystemTime, b: SystemTime) -> f64 {
    match b.duration_since(a) {
        Ok(d) => d.as_secs_f64(),
        Err(e) => -e.duration().as_secs_f64(),
    }
}

/// The recorded requests whose path ends with `suffix`.
fn to(fake: &FakeHandle, suffix: &str) -> Vec<RecordedRequest> {
    fake.requests()
        .into_iter()
        .filter(|r| r.path.ends_with(suffix))
        .collect()
}

/// Waits until the fake has seen `n` requests (at most 10 s).
async fn wait_for_requests(fake: &FakeHandle, n: usize) {
    let started = Instant::now();
    while fake.requests().len() < n {
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "the fake saw {} requests, expected {n}",
            fake.requests().len()
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

/// A tenant identity no other test (or earlier run) uses, for shared Redis keys.
fn unique_cloud_id(test: &str) -> String {
    let nanos = SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    format!("pacing-{test}-{}-{nanos}", std::process::id())
}

fn env_with(fake: &FakeHandle, groups: &str, extra: &[(&str, &str)]) -> BTreeMap<String, String> {
    let mut env = fake_env(fake, groups);
    for (k, v) in extra {
        env.insert((*k).to_owned(), (*v).to_owned());
    }
    env
}

fn is_error(result: &rmcp::model::CallToolResult) -> bool {
    result.is_error == Some(true)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_429_is_retried_no_earlier_than_retry_after() {
    let fake = start_fake().await;
    let server = start_server(&fake_env(&fake, "read_projects"));
    let client = connect(&server, ProtocolVersion::V_2025_11_25).await;
    fake.inject(
        Fault::status(429)
            .on_operation("getProject")
            .with_header("Retry-After", "1")
            .times(1),
    );
    let result = call(&client, "jira.getProject", json!({"project": "ABC"}))
        .await
        .unwrap();
    assert!(!is_error(&result), "{}", text(&result));
    let requests = fake.requests();
    assert_eq!(requests.len(), 2, "one 429, one retry");
    assert_eq!(requests[0].status, 429);
    assert_eq!(requests[1].status, 200);
    let gap = secs_between(requests[0].at, requests[1].at);
    assert!(gap >= 0.99, "the retry came {gap:.3} s after the 429");
    client.cancel().await.ok();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_post_is_never_retried() {
    let fake = start_fake().await;
    let server = start_server(&fake_env(&fake, "write_projects"));
    let client = connect(&server, ProtocolVersion::V_2025_11_25).await;
    let body = json!({"key": "GOJ", "name": "Gojira", "projectTypeKey": "software", "leadAccountId": "5b10a2844c20165700ede21g"});
    fake.inject(
        Fault::status(503)
            .on_operation("createProject")
            .with_header("Retry-After", "1")
            .times(1),
    );
    let (_, result) =
        preview_and_commit(&client, "jira.createProject", json!({"body": body.clone()})).await;
    assert!(is_error(&result));
    let message = text(&result);
    assert!(message.contains("UPSTREAM_UNAVAILABLE"), "{message}");
    assert!(!message.contains("attempts"), "{message}");
    assert_eq!(fake.requests().len(), 1, "POST is not retried");

    // A connection reset after the request went out: not retried, and the
    // outcome is unknown.
    fake.clear_requests();
    fake.inject(Fault::reset().on_operation("createProject").times(1));
    let (_, result) =
        preview_and_commit(&client, "jira.createProject", json!({"body": body})).await;
    assert!(is_error(&result));
    let message = text(&result);
    assert!(
        message.contains("may or may not have been applied")
            && message.contains("check the resource before retrying")
            && message.contains("outcome unknown"),
        "the journal entry says the outcome is unknown: {message}"
    );
    let requests = fake.requests();
    assert_eq!(requests.len(), 1, "not retried");
    assert_eq!(requests[0].status, 0, "the fake dropped the connection");
    client.cancel().await.ok();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_get_is_retried_through_503s_and_resets() {
    let fake = start_fake().await;
    let server = start_server(&fake_env(&fake, "read_projects"));
    let client = connect(&server, ProtocolVersion::V_2025_11_25).await;
    fake.inject(Fault::status(503).on_operation("getProject").times(2));
    let result = call(&client, "jira.getProject", json!({"project": "ABC"}))
        .await
        .unwrap();
    assert!(!is_error(&result), "{}", text(&result));
    assert!(result.structured_content.is_some());
    let statuses: Vec<u16> = fake.requests().iter().map(|r| r.status).collect();
    assert_eq!(statuses, [503, 503, 200]);

    fake.clear_requests();
    fake.inject(Fault::reset().on_operation("getProject").times(1));
    let result = call(&client, "jira.getProject", json!({"project": "ABC"}))
        .await
        .unwrap();
    assert!(!is_error(&result), "{}", text(&result));
    let statuses: Vec<u16> = fake.requests().iter().map(|r| r.status).collect();
    assert_eq!(statuses, [0, 200], "a reset GET is retried");

    // When every attempt fails, the error says how many were made.
    fake.clear_requests();
    fake.inject(Fault::status(502).on_operation("getProject"));
    let result = call(&client, "jira.getProject", json!({"project": "ABC"}))
        .await
        .unwrap();
    assert!(is_error(&result));
    let message = text(&result);
    let attempts = fake.requests().len();
    assert!(attempts > 1, "retried");
    assert!(
        message.contains("HTTP 502") && message.contains(&format!("{attempts} attempts were made")),
        "{message}"
    );
    client.cancel().await.ok();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_retry_after_beyond_the_deadline_fails_fast() {
    let fake = start_fake().await;
    let server = start_server(&env_with(
        &fake,
        "read_projects",
        &[("GOJIRA_TOOL_TIMEOUT_MS", "1500")],
    ));
    let client = connect(&server, ProtocolVersion::V_2025_11_25).await;
    fake.inject(
        Fault::status(429)
            .on_operation("getProject")
            .with_header("Retry-After", "30")
            .with_header("RateLimit-Reason", "jira-burst-based")
            .times(1),
    );
    let started = Instant::now();
    let result = call(&client, "jira.getProject", json!({"project": "ABC"}))
        .await
        .unwrap();
    let elapsed = started.elapsed();
    assert!(elapsed < Duration::from_secs(3), "took {elapsed:?}");
    assert!(is_error(&result));
    let message = text(&result);
    assert!(
        message.contains("UPSTREAM_RATE_LIMITED")
            && message.contains("rate-limiting")
            && message.contains("wait 30 s"),
        "{message}"
    );
    assert_eq!(fake.requests().len(), 1);

    // The burst class stays paused: the next call is not even sent.
    let started = Instant::now();
    let result = call(&client, "jira.getProject", json!({"project": "XYZ"}))
        .await
        .unwrap();
    assert!(started.elapsed() < Duration::from_secs(3));
    assert!(is_error(&result));
    let message = text(&result);
    assert!(
        message.contains("UPSTREAM_RATE_LIMITED")
            && message.contains("was not sent")
            && message.contains("jira-burst-based")
            && message.contains("before retrying"),
        "{message}"
    );
    assert_eq!(fake.requests().len(), 1, "nothing sent during the pause");
    client.cancel().await.ok();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_paused_class_does_not_stall_the_others() {
    let fake = start_fake().await;
    let server = start_server(&fake_env(&fake, "read_projects"));
    let client = connect(&server, ProtocolVersion::V_2025_11_25).await;

    // 1. A quota 429 holds the refused request's retry; burst traffic flows.
    fake.inject(
        Fault::status(429)
            .on_operation("getProject")
            .with_header("Retry-After", "2")
            .with_header("RateLimit-Reason", "jira-quota-tenant-based")
            .times(1),
    );
    let refused = call(&client, "jira.getProject", json!({"project": "QUO"}));
    let other = async {
        wait_for_requests(&fake, 1).await;
        call(&client, "jira.getProject", json!({"project": "FLOW"})).await
    };
    let (refused, other) = tokio::join!(refused, other);
    assert!(!is_error(&refused.unwrap()));
    assert!(!is_error(&other.unwrap()));
    let quo = to(&fake, "/QUO");
    let flow = to(&fake, "/FLOW");
    assert_eq!(quo.len(), 2);
    assert_eq!(flow.len(), 1);
    let flowed_after = secs_between(quo[0].at, flow[0].at);
    assert!(
        flowed_after < 1.0,
        "a burst request during a quota pause went {flowed_after:.3} s after the 429"
    );
    let retried_after = secs_between(quo[0].at, quo[1].at);
    assert!(
        retried_after >= 1.99,
        "the quota-refused request was retried {retried_after:.3} s after the 429"
    );

    // 2. A burst 429 on one request pauses every burst request of the tenant.
    fake.clear_requests();
    fake.inject(
        Fault::status(429)
            .on_operation("getProject")
            .with_header("Retry-After", "2")
            .with_header("RateLimit-Reason", "jira-burst-based")
            .times(1),
    );
    let refused = call(&client, "jira.getProject", json!({"project": "BUR"}));
    let other = async {
        wait_for_requests(&fake, 1).await;
        call(&client, "jira.getProject", json!({"project": "HELD"})).await
    };
    let (refused, other) = tokio::join!(refused, other);
    assert!(!is_error(&refused.unwrap()));
    assert!(!is_error(&other.unwrap()));
    let bur = to(&fake, "/BUR");
    let held = to(&fake, "/HELD");
    assert_eq!((bur.len(), held.len()), (2, 1));
    let held_for = secs_between(bur[0].at, held[0].at);
    assert!(
        held_for >= 1.99,
        "a burst request went {held_for:.3} s after a burst 429 asking for 2 s"
    );
    client.cancel().await.ok();
}

/// `n` successful `jira.getProject` calls, one after the other.
async fn get_projects(client: &Client, prefix: &str, n: usize) {
    for i in 0..n {
        let result = call(
            client,
            "jira.getProject",
            json!({"project": format!("{prefix}{i}")}),
        )
        .await
        .unwrap();
        assert!(!is_error(&result), "{}", text(&result));
    }
}

/// Span in seconds between the first and the last recorded request.
fn span(requests: &[RecordedRequest]) -> f64 {
    secs_between(requests[0].at, requests[requests.len() - 1].at)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn near_limit_slows_the_pace() {
    const CALLS: usize = 10;
    let fake = start_fake().await;
    // 5/s, capacity 10 (twice the rate): one call, then ten more, on two
    // fresh servers; only the first server's first answer says NearLimit.
    let mut spans = Vec::new();
    for near in [true, false] {
        let server = start_server(&env_with(
            &fake,
            "read_projects",
            &[("GOJIRA_UPSTREAM_RATE", "5")],
        ));
        let client = connect(&server, ProtocolVersion::V_2025_11_25).await;
        if near {
            fake.inject(
                Fault::status(200)
                    .on_operation("getProject")
                    .with_header("X-RateLimit-NearLimit", "true")
                    .with_body(json!({"id": "10000", "key": "NEAR", "name": "Near"}))
                    .times(1),
            );
        }
        let first = call(&client, "jira.getProject", json!({"project": "NEAR"}))
            .await
            .unwrap();
        assert!(!is_error(&first), "{}", text(&first));
        fake.clear_requests();
        for i in 0..CALLS {
            let result = call(
                &client,
                "jira.getProject",
                json!({"project": format!("P{i}")}),
            )
            .await
            .unwrap();
            assert!(!is_error(&result), "{}", text(&result));
        }
        let requests = fake.requests();
        assert_eq!(requests.len(), CALLS);
        spans.push(span(&requests));
        fake.clear_requests();
        client.cancel().await.ok();
    }
    let (near, normal) = (spans[0], spans[1]);
    // Without: 9 tokens left, so 9 go at once and the 10th 0.2 s later.
    // With: half the capacity (5) taken at once, so 4 go and 6 wait 0.2 s each.
    assert!(
        near >= normal + 0.6,
        "after NearLimit {CALLS} requests took {near:.3} s, without it {normal:.3} s"
    );
    assert!(near >= 0.9, "{near:.3} s");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_instances_share_one_bucket_through_redis() {
    const PER_INSTANCE: usize = 10;
    let redis = common::redis::require_redis();
    let fake = start_fake().await;
    let cloud = unique_cloud_id("bucket");
    let settings = [
        ("GOJIRA_REDIS_URL", redis.as_str()),
        ("ATLASSIAN_CLOUD_ID", cloud.as_str()),
        ("GOJIRA_UPSTREAM_RATE", "5"),
        ("GOJIRA_UPSTREAM_BURST", "5"),
    ];
    let a = start_server(&env_with(&fake, "read_projects", &settings));
    let b = start_server(&env_with(&fake, "read_projects", &settings));
    let client_a = connect(&a, ProtocolVersion::V_2025_11_25).await;
    let client_b = connect(&b, ProtocolVersion::V_2025_11_25).await;
    let started = Instant::now();
    tokio::join!(
        get_projects(&client_a, "A", PER_INSTANCE),
        get_projects(&client_b, "B", PER_INSTANCE)
    );
    let requests = fake.requests();
    assert_eq!(requests.len(), 2 * PER_INSTANCE);
    // One bucket of 5 refilling at 5/s: 5 at once, the other 15 over 3 s.
    // (Two separate buckets would take about 1 s.)
    let total = span(&requests);
    assert!(
        total >= 2.7,
        "20 requests through one shared bucket took {total:.3} s"
    );
    assert!(started.elapsed() < Duration::from_secs(9));
    client_a.cancel().await.ok();
    client_b.cancel().await.ok();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_pause_is_honoured_by_every_instance() {
    let redis = common::redis::require_redis();
    let fake = start_fake().await;
    let cloud = unique_cloud_id("pause");
    let settings = [
        ("GOJIRA_REDIS_URL", redis.as_str()),
        ("ATLASSIAN_CLOUD_ID", cloud.as_str()),
    ];
    let a = start_server(&env_with(&fake, "read_projects", &settings));
    let b = start_server(&env_with(&fake, "read_projects", &settings));
    let client_a = connect(&a, ProtocolVersion::V_2025_11_25).await;
    let client_b = connect(&b, ProtocolVersion::V_2025_11_25).await;
    fake.inject(
        Fault::status(429)
            .on_operation("getProject")
            .with_header("Retry-After", "2")
            .with_header("RateLimit-Reason", "jira-burst-based")
            .times(1),
    );
    let refused = call(&client_a, "jira.getProject", json!({"project": "FIRST"}));
    let other = async {
        wait_for_requests(&fake, 1).await;
        // Leave instance A a moment to store the pause it was just given.
        tokio::time::sleep(Duration::from_millis(150)).await;
        call(&client_b, "jira.getProject", json!({"project": "OTHER"})).await
    };
    let (refused, other) = tokio::join!(refused, other);
    assert!(!is_error(&refused.unwrap()));
    assert!(!is_error(&other.unwrap()));
    let first = to(&fake, "/FIRST");
    let other = to(&fake, "/OTHER");
    assert_eq!((first.len(), other.len()), (2, 1));
    let held_for = secs_between(first[0].at, other[0].at);
    assert!(
        held_for >= 1.99,
        "instance B sent {held_for:.3} s after instance A was told to pause for 2 s"
    );
    client_a.cancel().await.ok();
    client_b.cancel().await.ok();
}

/// A storm of 429s that carry no rate-limit header at all (no `Retry-After`,
/// no reset, no reason): gojira backs that class off on its own (1 s,
/// doubling per consecutive header-less 429) instead of meeting the storm
/// at full rate, and the tool error says when to retry.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_header_less_429_storm_is_backed_off() {
    let fake = start_fake().await;
    let server = start_server(&env_with(
        &fake,
        "read_projects",
        &[("GOJIRA_TOOL_TIMEOUT_MS", "2000")],
    ));
    let client = connect(&server, ProtocolVersion::V_2025_11_25).await;
    fake.inject(Fault::status(429).on_operation("getProject"));
    let window = Duration::from_secs(6);
    let started = Instant::now();
    let mut calls = 0;
    let mut last = String::new();
    while started.elapsed() < window {
        let result = call(&client, "jira.getProject", json!({"project": "ABC"}))
            .await
            .unwrap();
        assert!(is_error(&result));
        last = text(&result);
        assert!(last.contains("UPSTREAM_RATE_LIMITED"), "{last}");
        calls += 1;
    }
    let sent = fake.requests().len();
    // Without a back-off every call makes up to five attempts 100 ms to 2 s
    // apart (dozens of requests in the window); with it: t=0, t=1 s (pause
    // 1 s), t=3 s (pause 2 s), then a 4 s pause beyond the window.
    assert!(
        sent <= 5,
        "{sent} requests reached Atlassian in {window:?} of header-less 429s ({calls} calls)"
    );
    assert!(
        last.contains("wait ") && last.contains(" s before retrying"),
        "the error says when to retry: {last}"
    );

    // A success resets the back-off: once Atlassian answers again, the
    // next header-less 429 pauses for 1 s, not for the doubled pause.
    fake.clear_faults();
    tokio::time::sleep(Duration::from_secs(8)).await;
    let result = call(&client, "jira.getProject", json!({"project": "ABC"}))
        .await
        .unwrap();
    assert!(!is_error(&result), "{}", text(&result));
    fake.clear_requests();
    fake.inject(Fault::status(429).on_operation("getProject").times(1));
    let result = call(&client, "jira.getProject", json!({"project": "ABC"}))
        .await
        .unwrap();
    assert!(!is_error(&result), "{}", text(&result));
    let requests = fake.requests();
    assert_eq!(requests.len(), 2, "one 429, one retry");
    let gap = secs_between(requests[0].at, requests[1].at);
    assert!(
        (0.99..1.9).contains(&gap),
        "the retry came {gap:.3} s after the 429 (back-off reset to 1 s)"
    );
    client.cancel().await.ok();
}
