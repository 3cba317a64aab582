//! Sign-in: the Atlassian leg completes only in the browser that approved
//! gojira's consent page.

use fake_atlassian::{DEFAULT_ACCOUNT_ID, FakeUser};
use serde_json::json;

use crate::common::oauth::*;
use crate::common::*;

/// Mallory, who registers a client and approves consent in her own browser.
const MALLORY: &str = "5b10ac8d82e05b22cc7dmallory";

/// The confused-deputy attack: Mallory approves gojira's consent for her own
/// client, sends the resulting Atlassian link to Alice; Alice passes
/// Atlassian's consent in her browser (which never saw gojira's consent
/// page). gojira must refuse the callback with a page that says why, sign
/// nobody in, and send nothing to Mallory's redirect URI.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sign_in_completes_only_in_the_browser_that_approved_consent() {
    let fake = strict_fake().await;
    fake.fake()
        .add_user(FakeUser::new(MALLORY, "mallory@example.com", "Mallory"));
    let server = start_server(&oauth_env(&fake, "utility,read_projects"));
    let http = http();

    // Mallory's browser: register a client, open /authorize, approve.
    let client_id = register_client(&server, "mallory").await;
    let (_verifier, challenge) = pkce_pair();
    let approved = approve_consent(&server, &client_id, &challenge).await;
    let atlassian_link = location(&approved);

    // Alice's browser: no gojira cookie. Atlassian consents as Alice.
    fake.fake().set_consenting_user(DEFAULT_ACCOUNT_ID);
    let atlassian = http.get(&atlassian_link).send().await.unwrap();
    assert_eq!(atlassian.status(), 302, "the fake consents as Alice");
    let callback = location(&atlassian);
    let refused = http.get(&callback).send().await.unwrap();
    let status = refused.status();
    let to = refused
        .headers()
        .get("location")
        .map(|v| v.to_str().unwrap().to_owned());
    let page = refused.text().await.unwrap();
    assert_eq!(
        status, 403,
        "a callback in another browser is refused; got {status}, Location {to:?}"
    );
    assert!(to.is_none(), "nothing is sent to the client: {to:?}");
    assert!(
        page.contains("different browser"),
        "the page says why: {page}"
    );
    // Nothing was exchanged at Atlassian, so nobody was signed in.
    assert!(
        fake.fake().issued_access_tokens().is_empty(),
        "Alice's Atlassian code was never redeemed"
    );

    // Mallory's own browser cannot finish it either: the state was spent.
    let replay = http
        .get(&callback)
        .header("cookie", signin_cookie(&approved))
        .send()
        .await
        .unwrap();
    assert_eq!(replay.status(), 400, "the upstream state is single use");

    // The same flow in one browser still signs in.
    let tokens = sign_in(&server).await;
    let client = connect_as(&server, &tokens.access).await;
    let me = call(&client, "gojira.whoami", json!({})).await.unwrap();
    assert_eq!(
        me.structured_content.unwrap()["principal"],
        format!("oauth:{DEFAULT_ACCOUNT_ID}")
    );
    client.cancel().await.ok();
    assert_no_secret_logged(&server, &fake, &[&tokens], &[]);
}
