//! Refresh tokens: reuse is still detected, but a client racing its own
//! refresh keeps its session, and another user's client gains nothing.

use fake_atlassian::{DEFAULT_ACCOUNT_ID, FakeUser};
use serde_json::json;

use crate::common::oauth::*;
use crate::common::*;

const BOB: &str = "5b10ac8d82e05b22cc7d4bob";

fn refresh_form<'a>(client_id: &'a str, token: &'a str) -> [(&'a str, &'a str); 3] {
    [
        ("grant_type", "refresh_token"),
        ("client_id", client_id),
        ("refresh_token", token),
    ]
}

/// Alice's client sends the same refresh twice at once: both answers carry
/// the same new pair, which works. After the grace window the old token is
/// reuse: her sign-in is revoked. Bob's client, presenting Alice's refresh
/// token, is refused and revokes nothing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_racing_its_own_refresh_keeps_its_session_and_reuse_is_still_caught() {
    let fake = strict_fake().await;
    fake.fake()
        .add_user(FakeUser::new(BOB, "bob@example.com", "Bob"));
    let mut env = oauth_env(&fake, "utility,read_projects");
    env.insert("GOJIRA_REFRESH_REUSE_GRACE_S".into(), "2".into());
    let server = start_server(&env);
    let alice = sign_in_as_with_scope(&server, &fake, DEFAULT_ACCOUNT_ID, "gojira:read").await;
    let bob = sign_in_as_with_scope(&server, &fake, BOB, "gojira:read").await;

    // Bob's client with Alice's refresh token: refused, and Alice keeps her session.
    let (status, stolen) = token_endpoint(
        &server,
        &refresh_form(&bob.client_id, &alice.tokens.refresh),
    )
    .await;
    assert_eq!(status, 400, "{stolen}");

    let form = refresh_form(&alice.client_id, &alice.tokens.refresh);
    let ((s1, a), (s2, b)) = tokio::join!(
        token_endpoint(&server, &form),
        token_endpoint(&server, &form)
    );
    assert_eq!((s1, s2), (200, 200), "{a} {b}");
    assert_eq!(a["access_token"], b["access_token"], "one pair");
    assert_eq!(a["refresh_token"], b["refresh_token"], "one pair");
    let access = a["access_token"].as_str().unwrap();
    let me = raw_mcp(
        &server,
        access,
        "tools/call",
        json!({"name": "gojira.whoami", "arguments": {}}),
    )
    .await;
    assert_eq!(me.status(), 200, "the session lives");

    // After the window, the rotated token is reuse: the family is revoked.
    tokio::time::sleep(std::time::Duration::from_millis(2500)).await;
    let (status, reuse) = token_endpoint(&server, &form).await;
    assert_eq!(status, 400, "{reuse}");
    assert_eq!(reuse["error"], "invalid_grant");
    let me = raw_mcp(
        &server,
        access,
        "tools/call",
        json!({"name": "gojira.whoami", "arguments": {}}),
    )
    .await;
    assert_eq!(me.status(), 401, "every token of the sign-in is revoked");
    // Bob was never affected.
    let me = raw_mcp(
        &server,
        &bob.tokens.access,
        "tools/call",
        json!({"name": "gojira.whoami", "arguments": {}}),
    )
    .await;
    assert_eq!(me.status(), 200);
}
