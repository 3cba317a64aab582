//! Response shaping end to end: one pagination shape (`cursor`/`limit` in,
//! `nextCursor` out) over Atlassian's different paging styles, and trimming
//! of `self`/`avatarUrls`/`expand` unless the caller asks for `raw`.

#![allow(clippy::expect_used, clippy::unwrap_used, clippy::panic)]

mod common;

use common::*;
use fake_atlassian::Fault;
use rmcp::model::ProtocolVersion;
use serde_json::{Value, json};

fn query_of(fake: &fake_atlassian::FakeHandle, path: &str) -> Vec<Vec<(String, String)>> {
    fake.requests()
        .into_iter()
        .filter(|r| r.path == path)
        .map(|r| r.query)
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn offset_paging_is_one_cursor_and_answers_are_trimmed() {
    let fake = start_fake().await;
    let server = start_server(&fake_env(&fake, "read_projects"));
    let client = connect(&server, ProtocolVersion::V_2025_11_25).await;
    let path = "/rest/api/3/project/search";
    let project = |id: &str| {
        json!({"self": format!("https://site/rest/api/3/project/{id}"), "id": id, "key": format!("K{id}"),
               "avatarUrls": {"48x48": "https://site/a.png"}, "expand": "description,lead",
               "lead": {"self": "https://site/user", "displayName": "Lead"}})
    };
    let page1 = json!({"self": "https://site/p1", "nextPage": "https://site/p2", "startAt": 0, "maxResults": 2,
                       "total": 3, "isLast": false, "values": [project("1"), project("2")]});
    fake.inject(
        Fault::status(200)
            .on_path(path)
            .with_body(page1.clone())
            .times(1),
    );

    let first = call(&client, "jira.searchProjects", json!({"limit": 2}))
        .await
        .unwrap();
    assert_ne!(first.is_error, Some(true), "{}", text(&first));
    let answer = first.structured_content.clone().unwrap();
    let cursor = answer["nextCursor"]
        .as_str()
        .expect("a next cursor")
        .to_owned();
    assert_eq!(
        answer["values"][0],
        json!({"id": "1", "key": "K1", "lead": {"displayName": "Lead"}}),
        "self links, avatar maps and expand echoes are trimmed at any depth"
    );
    for gone in ["self", "nextPage", "startAt", "maxResults", "isLast"] {
        assert!(
            answer.get(gone).is_none(),
            "{gone} is the upstream's paging noise: {answer}"
        );
    }
    assert_eq!(answer["total"], 3);
    assert_eq!(
        query_of(&fake, path),
        vec![vec![("maxResults".to_owned(), "2".to_owned())]],
        "the first page sends the page size and no offset"
    );

    let page2 = json!({"startAt": 2, "maxResults": 2, "total": 3, "isLast": true, "values": [project("3")]});
    fake.inject(Fault::status(200).on_path(path).with_body(page2).times(1));
    let second = call(
        &client,
        "jira.searchProjects",
        json!({"cursor": cursor, "limit": 2}),
    )
    .await
    .unwrap();
    let answer = second.structured_content.clone().unwrap();
    assert!(
        answer.get("nextCursor").is_none(),
        "the last page has no next cursor: {answer}"
    );
    let sent = query_of(&fake, path).pop().unwrap();
    assert!(
        sent.contains(&("startAt".to_owned(), "2".to_owned())),
        "{sent:?}"
    );
    assert!(
        sent.contains(&("maxResults".to_owned(), "2".to_owned())),
        "{sent:?}"
    );

    // Without a limit the page size is the default; raw keeps the upstream's answer.
    fake.inject(
        Fault::status(200)
            .on_path(path)
            .with_body(page1.clone())
            .times(1),
    );
    let raw = call(&client, "jira.searchProjects", json!({"raw": true}))
        .await
        .unwrap();
    let answer = raw.structured_content.clone().unwrap();
    assert_eq!(
        answer["values"], page1["values"],
        "raw answers are untouched"
    );
    assert_eq!(answer["isLast"], false);
    assert!(
        answer["nextCursor"].is_string(),
        "raw answers still get the cursor"
    );
    assert_eq!(
        query_of(&fake, path).pop().unwrap(),
        vec![("maxResults".to_owned(), "25".to_owned())]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn token_paging_and_foreign_cursors() {
    let fake = start_fake().await;
    let server = start_server(&fake_env(&fake, "read_confluence_admin"));
    let client = connect(&server, ProtocolVersion::V_2025_11_25).await;
    let path = "/wiki/api/v2/spaces";
    fake.inject(
        Fault::status(200)
            .on_path(path)
            .with_body(json!({"results": [{"id": "1", "key": "OPS", "_links": {"webui": "/spaces/OPS"}}],
                              "_links": {"next": "/wiki/api/v2/spaces?cursor=eyJpZCI6MX0%3D&limit=1", "base": "https://site/wiki"}}))
            .times(1),
    );
    let first = call(&client, "confluence.listSpaces", json!({"limit": 1}))
        .await
        .unwrap();
    assert_ne!(first.is_error, Some(true), "{}", text(&first));
    let answer = first.structured_content.clone().unwrap();
    assert_eq!(
        answer["_links"],
        json!({"base": "https://site/wiki"}),
        "the next link became nextCursor"
    );
    let cursor = answer["nextCursor"].as_str().unwrap().to_owned();

    call(&client, "confluence.listSpaces", json!({"cursor": cursor}))
        .await
        .unwrap();
    let sent = query_of(&fake, path).pop().unwrap();
    assert!(
        sent.contains(&("cursor".to_owned(), "eyJpZCI6MX0=".to_owned())),
        "the upstream gets its own cursor back: {sent:?}"
    );

    let before = fake.requests().len();
    for bad in [json!("bm90IG91cnM"), json!("%%%")] {
        let refused = call(&client, "confluence.listSpaces", json!({"cursor": bad}))
            .await
            .unwrap();
        assert_eq!(refused.is_error, Some(true));
        let body: Value = refused.structured_content.clone().unwrap();
        assert_eq!(body["error"]["code"], "INVALID_ARGUMENTS", "{body}");
        assert!(text(&refused).contains("nextCursor"), "{}", text(&refused));
    }
    assert_eq!(
        fake.requests().len(),
        before,
        "a bad cursor never reaches Atlassian"
    );
}
