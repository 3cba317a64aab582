//! Behaviour of the fake against the real Atlassian specs: routing, auth,
//! validation, state round trips, synthesis, faults, recording.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::time::{Duration, Instant};

use common::{BASIC, BEARER, fake, get, send, tcp};
use fake_atlassian::{FakeAtlassian, Fault, RouteDef};
use serde_json::json;

#[tokio::test]
async fn get_project_is_synthesized_and_schema_valid() {
    let fake = fake();
    let resp = get(&fake, "/rest/api/3/project/ABC").await;
    assert_eq!(resp.status, 200, "{:?}", resp.body);
    assert_eq!(
        resp.body["key"], "ABC",
        "the path parameter is echoed into `key`"
    );
    fake.check_response("jira-platform#getProject", &resp.body)
        .unwrap_or_else(|e| panic!("synthesized project invalid: {e:?}\n{}", resp.body));
    assert!(resp.header("atl-traceid").is_some());
    assert!(
        resp.header("content-type")
            .unwrap()
            .starts_with("application/json")
    );
    // The response check itself is not vacuous.
    assert!(
        fake.check_response("jira-platform#getProject", &json!({"id": 1}))
            .is_err()
    );

    let numeric = get(&fake, "/rest/api/3/project/10042").await;
    assert_eq!(
        numeric.body["id"], "10042",
        "numeric identifiers are echoed into `id`"
    );
}

#[tokio::test]
async fn wrong_typed_body_field_is_a_400_naming_the_field() {
    let fake = fake();
    let resp = send(
        &fake,
        "POST",
        "/rest/api/3/project",
        Some(BASIC),
        Some(json!({"key": "GOJ", "name": 123})),
    )
    .await;
    assert_eq!(resp.status, 400);
    assert_eq!(resp.body["errors"], json!({}), "Jira error shape");
    let errors = resp.errors();
    assert!(
        errors.contains(r#"body: /name: 123 is not of type "string""#),
        "{errors}"
    );

    let missing = send(
        &fake,
        "POST",
        "/rest/api/3/project",
        Some(BASIC),
        Some(json!({"key": "GOJ"})),
    )
    .await;
    assert_eq!(missing.status, 400);
    assert!(
        missing
            .errors()
            .contains(r#""name" is a required property"#),
        "{}",
        missing.errors()
    );

    let no_body = send(&fake, "POST", "/rest/api/3/project", Some(BASIC), None).await;
    assert_eq!(no_body.status, 400);
    assert!(
        no_body.errors().contains("body: missing"),
        "{}",
        no_body.errors()
    );

    let recorded = fake.requests();
    assert_eq!(recorded.len(), 3);
    assert_eq!(recorded[0].status, 400);
    assert!(recorded[0].violation.as_deref().unwrap().contains("/name"));
    assert_eq!(
        recorded[0].operation.as_deref(),
        Some("jira-platform#createProject")
    );
    assert_eq!(recorded[0].body, Some(json!({"key": "GOJ", "name": 123})));
}

#[tokio::test]
async fn jira_project_round_trip() {
    let fake = fake();
    let created = send(
        &fake,
        "POST",
        "/rest/api/3/project",
        Some(BASIC),
        Some(json!({"key": "GOJ", "name": "Gojira", "projectTypeKey": "software", "leadAccountId": "5b10a0effa615349cb016cd8"})),
    )
    .await;
    assert_eq!(created.status, 201, "{:?}", created.body);
    assert_eq!(created.body["key"], "GOJ");
    assert_eq!(
        created.body["id"], 10000,
        "ProjectIdentifiers.id is an integer"
    );
    assert_eq!(
        created.body["self"],
        "http://fake.test/rest/api/3/project/10000"
    );
    fake.check_response("jira-platform#createProject", &created.body)
        .unwrap();

    for ident in ["GOJ", "10000"] {
        let got = get(&fake, &format!("/rest/api/3/project/{ident}")).await;
        assert_eq!(got.status, 200);
        assert_eq!(got.body["name"], "Gojira");
        assert_eq!(got.body["key"], "GOJ");
        assert_eq!(got.body["id"], "10000", "Project.id is a string");
        fake.check_response("jira-platform#getProject", &got.body)
            .unwrap();
    }

    let listed = get(&fake, "/rest/api/3/project").await;
    assert_eq!(listed.body[0]["key"], "GOJ", "{}", listed.body);

    let updated = send(
        &fake,
        "PUT",
        "/rest/api/3/project/GOJ",
        Some(BASIC),
        Some(json!({"name": "Gojira 2"})),
    )
    .await;
    assert_eq!(updated.status, 200, "{:?}", updated.body);
    assert_eq!(updated.body["name"], "Gojira 2");
    assert_eq!(
        get(&fake, "/rest/api/3/project/GOJ").await.body["name"],
        "Gojira 2"
    );

    let deleted = send(
        &fake,
        "DELETE",
        "/rest/api/3/project/GOJ",
        Some(BASIC),
        None,
    )
    .await;
    assert_eq!(deleted.status, 204);
    assert!(deleted.body.is_null());

    let gone = get(&fake, "/rest/api/3/project/GOJ").await;
    assert_eq!(gone.status, 404);
    assert_eq!(
        gone.body,
        json!({"errorMessages": ["No resource at /rest/api/3/project/GOJ"]})
    );
    let gone_again = send(
        &fake,
        "DELETE",
        "/rest/api/3/project/GOJ",
        Some(BASIC),
        None,
    )
    .await;
    assert_eq!(gone_again.status, 404);
}

#[tokio::test]
async fn confluence_space_round_trip_across_v2_and_v1() {
    let fake = fake();
    let created = send(
        &fake,
        "POST",
        "/wiki/api/v2/spaces",
        Some(BASIC),
        Some(json!({"name": "Docs", "key": "DOCS"})),
    )
    .await;
    assert_eq!(created.status, 201, "{:?}", created.body);
    assert_eq!(created.body["id"], "10000");
    assert_eq!(created.body["key"], "DOCS");
    fake.check_response("confluence-v2#createSpace", &created.body)
        .unwrap();

    let got = get(&fake, "/wiki/api/v2/spaces/10000").await;
    assert_eq!(got.status, 200);
    assert_eq!(got.body["name"], "Docs");
    fake.check_response("confluence-v2#getSpaceById", &got.body)
        .unwrap();

    let listed = get(&fake, "/wiki/api/v2/spaces").await;
    assert_eq!(listed.body["results"][0]["key"], "DOCS", "{}", listed.body);
    fake.check_response("confluence-v2#getSpaces", &listed.body)
        .unwrap();

    // Confluence v2 has no space update/delete: the v1 endpoints act on the same store.
    let updated = send(
        &fake,
        "PUT",
        "/wiki/rest/api/space/DOCS",
        Some(BASIC),
        Some(json!({"name": "Docs 2"})),
    )
    .await;
    assert_eq!(updated.status, 200, "{:?}", updated.body);
    assert_eq!(
        get(&fake, "/wiki/api/v2/spaces/10000").await.body["name"],
        "Docs 2"
    );

    let deleted = send(
        &fake,
        "DELETE",
        "/wiki/rest/api/space/DOCS",
        Some(BASIC),
        None,
    )
    .await;
    assert_eq!(deleted.status, 202, "deleteSpace answers 202 (long task)");
    assert_eq!(get(&fake, "/wiki/api/v2/spaces/10000").await.status, 404);
}

#[tokio::test]
async fn filter_sprint_and_assets_round_trips() {
    let fake = fake();
    let filter = send(
        &fake,
        "POST",
        "/rest/api/3/filter",
        Some(BASIC),
        Some(json!({"name": "Mine", "jql": "assignee = currentUser()"})),
    )
    .await;
    assert_eq!(filter.status, 200, "{:?}", filter.body);
    let id = filter.body["id"].as_str().unwrap().to_string();
    let got = get(&fake, &format!("/rest/api/3/filter/{id}")).await;
    assert_eq!(
        (got.status, got.body["jql"].as_str()),
        (200, Some("assignee = currentUser()"))
    );
    let put = send(
        &fake,
        "PUT",
        &format!("/rest/api/3/filter/{id}"),
        Some(BASIC),
        Some(json!({"name": "Renamed"})),
    )
    .await;
    assert_eq!(put.body["name"], "Renamed");
    assert_eq!(
        send(
            &fake,
            "DELETE",
            &format!("/rest/api/3/filter/{id}"),
            Some(BASIC),
            None
        )
        .await
        .status,
        204
    );
    assert_eq!(
        get(&fake, &format!("/rest/api/3/filter/{id}")).await.status,
        404
    );

    // Jira Software: the sprint responses are examples only; records overlay them.
    let sprint = send(
        &fake,
        "POST",
        "/rest/agile/1.0/sprint",
        Some(BASIC),
        Some(json!({"name": "Sprint 1", "originBoardId": 5})),
    )
    .await;
    assert_eq!(sprint.status, 201, "{:?}", sprint.body);
    let sprint_id = sprint.body["id"].as_i64().expect("integer sprint id");
    assert_eq!(sprint.body["name"], "Sprint 1");
    let got = get(&fake, &format!("/rest/agile/1.0/sprint/{sprint_id}")).await;
    assert_eq!(
        (got.status, got.body["name"].as_str()),
        (200, Some("Sprint 1"))
    );
    let post_update = send(
        &fake,
        "POST",
        &format!("/rest/agile/1.0/sprint/{sprint_id}"),
        Some(BASIC),
        Some(json!({"goal": "ship"})),
    )
    .await;
    assert_eq!(post_update.body["goal"], "ship");
    assert_eq!(
        send(
            &fake,
            "DELETE",
            &format!("/rest/agile/1.0/sprint/{sprint_id}"),
            Some(BASIC),
            None
        )
        .await
        .status,
        204
    );
    assert_eq!(
        get(&fake, &format!("/rest/agile/1.0/sprint/{sprint_id}"))
            .await
            .status,
        404
    );
    let bad_id = get(&fake, "/rest/agile/1.0/sprint/abc").await;
    assert_eq!(bad_id.status, 400);
    assert!(
        bad_id
            .errors()
            .contains(r#"path sprintId: "abc" is not an integer"#),
        "{}",
        bad_id.errors()
    );

    // Assets: `POST .../objectschema/create` creates in `.../objectschema`.
    let base = "/jsm/assets/workspace/ws-1/v1/objectschema";
    let schema = send(
        &fake,
        "POST",
        &format!("{base}/create"),
        Some(BASIC),
        Some(json!({"name": "IT", "objectSchemaKey": "IT"})),
    )
    .await;
    assert_eq!(schema.status, 201, "{:?}", schema.body);
    let sid = schema.body["id"].as_str().unwrap().to_string();
    let got = get(&fake, &format!("{base}/{sid}")).await;
    assert_eq!((got.status, got.body["name"].as_str()), (200, Some("IT")));
}

#[tokio::test]
async fn query_parameters_are_coerced_and_validated() {
    let fake = fake();
    let bad = get(&fake, "/rest/api/3/project/search?maxResults=abc").await;
    assert_eq!(bad.status, 400);
    assert_eq!(
        bad.body["errorMessages"],
        json!([r#"query maxResults: "abc" is not an integer"#])
    );
    assert_eq!(
        fake.requests()[0].violation.as_deref(),
        Some(r#"query maxResults: "abc" is not an integer"#)
    );

    let ok = get(
        &fake,
        "/rest/api/3/project/search?maxResults=5&startAt=0&id=1,2&id=3&unknownParam=x",
    )
    .await;
    assert_eq!(ok.status, 200, "{:?}", ok.body);
    assert_eq!(
        fake.requests()[1].query,
        vec![
            ("maxResults".to_string(), "5".to_string()),
            ("startAt".to_string(), "0".to_string()),
            ("id".to_string(), "1,2".to_string()),
            ("id".to_string(), "3".to_string()),
            ("unknownParam".to_string(), "x".to_string()),
        ]
    );
    let bad_item = get(&fake, "/rest/api/3/project/search?id=1,x").await;
    assert_eq!(bad_item.status, 400);
    assert!(
        bad_item
            .errors()
            .contains(r#"query id: "x" is not an integer"#),
        "{}",
        bad_item.errors()
    );

    let bad_bool = get(
        &fake,
        "/rest/api/3/filter/10?overrideSharePermissions=maybe",
    )
    .await;
    assert_eq!(bad_bool.status, 400);
    assert!(
        bad_bool.errors().contains("query overrideSharePermissions"),
        "{}",
        bad_bool.errors()
    );
}

#[tokio::test]
async fn symbol_enum_query_parameter() {
    let fake = fake();
    // searchProjects' orderBy is an enum of sort symbols (`key`, `-key`, `+name`, ...).
    let bad = get(&fake, "/rest/api/3/project/search?orderBy=bogus").await;
    assert_eq!(bad.status, 400);
    let errors = bad.errors();
    assert!(
        errors.starts_with("query orderBy: \"bogus\" is not one of"),
        "{errors}"
    );
    for symbol in ["-key", "%2Bname", "issueCount"] {
        let ok = get(
            &fake,
            &format!("/rest/api/3/project/search?orderBy={symbol}"),
        )
        .await;
        assert_eq!(ok.status, 200, "orderBy={symbol}: {:?}", ok.body);
    }
    let action = get(&fake, "/rest/api/3/project/search?action=destroy").await;
    assert_eq!(action.status, 400);
}

#[tokio::test]
async fn missing_or_unknown_auth_is_401_and_only_the_scheme_is_recorded() {
    let fake = fake();
    let none = send(&fake, "GET", "/rest/api/3/project/ABC", None, None).await;
    assert_eq!(none.status, 401);
    assert_eq!(
        none.body,
        json!({"errorMessages": ["Client must be authenticated to access this resource."]})
    );
    let digest = send(
        &fake,
        "GET",
        "/rest/api/3/project/ABC",
        Some("Digest abc"),
        None,
    )
    .await;
    assert_eq!(digest.status, 401);
    let bearer = send(&fake, "GET", "/rest/api/3/project/ABC", Some(BEARER), None).await;
    assert_eq!(bearer.status, 200);

    let recorded = fake.requests();
    assert_eq!(
        recorded.iter().map(|r| r.status).collect::<Vec<_>>(),
        vec![401, 401, 200]
    );
    assert_eq!(recorded[0].auth_scheme, None);
    assert_eq!(
        recorded[0].operation.as_deref(),
        Some("jira-platform#getProject")
    );
    assert_eq!(recorded[2].auth_scheme.as_deref(), Some("Bearer"));
    let debug = format!("{recorded:?}");
    assert!(
        !debug.contains("test-admin-key") && !debug.contains("dXNlck"),
        "credentials must not be recorded"
    );
}

#[tokio::test]
async fn routing_specificity_404_405_and_missing_path_parameter() {
    let fake = fake();
    assert_eq!(get(&fake, "/rest/api/3/project/search").await.status, 200);
    assert_eq!(get(&fake, "/rest/api/3/project/XYZ").await.status, 200);
    let ops: Vec<_> = fake
        .requests()
        .into_iter()
        .map(|r| r.operation.unwrap())
        .collect();
    assert_eq!(
        ops,
        vec!["jira-platform#searchProjects", "jira-platform#getProject"]
    );

    let unknown = get(&fake, "/rest/api/3/nothing-here").await;
    assert_eq!(unknown.status, 404);
    assert_eq!(
        unknown.body,
        json!({"errorMessages": ["No operation matches GET /rest/api/3/nothing-here"]})
    );

    let wrong_method = send(&fake, "PATCH", "/rest/api/3/project/ABC", Some(BASIC), None).await;
    assert_eq!(wrong_method.status, 405);
    assert_eq!(wrong_method.header("allow"), Some("DELETE, GET, PUT"));

    let missing = get(&fake, "/rest/api/3/project/").await;
    assert_eq!(missing.status, 400);
    assert_eq!(missing.errors(), "path projectIdOrKey: missing");
}

#[tokio::test]
async fn org_admin_user_management_and_automation_mounts() {
    let fake = fake();
    let orgs = send(&fake, "GET", "/admin/v1/orgs", Some(BEARER), None).await;
    assert_eq!(orgs.status, 200, "{:?}", orgs.body);
    fake.check_response("org-admin#getOrgs", &orgs.body)
        .unwrap();
    let org = send(
        &fake,
        "GET",
        "/admin/v1/orgs/org-1/domains",
        Some(BEARER),
        None,
    )
    .await;
    assert_eq!(org.status, 200);
    // An operation without operationId, and the `accountId` vs `{userId}` defect.
    let last_active = send(
        &fake,
        "GET",
        "/admin/v1/orgs/o/directory/users/u/last-active-dates",
        Some(BEARER),
        None,
    )
    .await;
    assert_eq!(last_active.status, 200);
    let user = send(
        &fake,
        "GET",
        "/admin/v2/orgs/o/directories/d/users/u-1",
        Some(BEARER),
        None,
    )
    .await;
    assert_eq!(user.status, 200, "{:?}", user.body);
    let manage = send(&fake, "GET", "/users/abc/manage", Some(BEARER), None).await;
    assert_eq!(manage.status, 200);
    let rule = get(
        &fake,
        "/automation/public/jira/cloud-1/rest/v1/rule/0b7c3f7e-0000-4000-8000-000000000001",
    )
    .await;
    assert_eq!(rule.status, 200, "{:?}", rule.body);
    let alias = get(
        &fake,
        "/automation/public/jira/cloud-1/rest/latest/rule/0b7c3f7e-0000-4000-8000-000000000001",
    )
    .await;
    assert_eq!(alias.status, 200, "path-item $ref aliases are served");

    let ops: Vec<String> = fake
        .requests()
        .into_iter()
        .map(|r| r.operation.unwrap())
        .collect();
    assert_eq!(ops[0], "org-admin#getOrgs");
    assert_eq!(
        ops[2],
        "org-admin#GET /v1/orgs/{orgId}/directory/users/{accountId}/last-active-dates"
    );
    assert!(
        ops[4].starts_with("user-management#GET /users/{account_id}/manage"),
        "{}",
        ops[4]
    );
    assert!(ops[5].starts_with("automation#"), "{}", ops[5]);
    assert_eq!(fake.requests()[0].auth_scheme.as_deref(), Some("Bearer"));
}

#[tokio::test]
async fn assets_routes_live_under_the_workspace_mount() {
    let fake = fake();
    let list = get(
        &fake,
        "/jsm/assets/workspace/3f8a2c11-0000-4000-8000-000000000000/v1/objectschema/list",
    )
    .await;
    assert_eq!(list.status, 200, "{:?}", list.body);
    let recorded = fake.requests();
    assert_eq!(
        recorded[0].operation.as_deref(),
        Some("assets#Schema - List")
    );
    fake.check_response("assets#Schema - List", &list.body)
        .unwrap();
    // Without the mount the path is unknown; without a workspace id it is incomplete.
    assert_eq!(get(&fake, "/objectschema/list").await.status, 404);
    let no_workspace = get(&fake, "/jsm/assets/workspace//v1/objectschema/list").await;
    assert_eq!(no_workspace.status, 400);
    assert_eq!(no_workspace.errors(), "path workspaceId: missing");
    // The undeclared `{importSourceId}` path parameter of assets still routes.
    let token = send(
        &fake,
        "POST",
        "/jsm/assets/workspace/w/v1/importsource/abc/token",
        Some(BASIC),
        None,
    )
    .await;
    assert_eq!(token.status, 200, "{:?}", token.body);
    assert!(
        token.body["token"].is_string(),
        "example-only responses return the example"
    );
}

#[tokio::test]
async fn lenient_routes_without_specs() {
    let fake = FakeAtlassian::from_routes(vec![
        RouteDef {
            method: "GET".into(),
            path: "/rest/api/3/myself".into(),
            operation: "sandbox#getCurrentUser".into(),
            response_schema: Some(
                json!({"type": "object", "required": ["accountId", "active"], "properties": {
                    "accountId": {"type": "string"}, "active": {"type": "boolean"}, "email": {"type": "string", "nullable": true}
                }}),
            ),
        },
        RouteDef {
            method: "POST".into(),
            path: "/things".into(),
            operation: "sandbox#create".into(),
            response_schema: None,
        },
        RouteDef {
            method: "GET".into(),
            path: "/things/{id}".into(),
            operation: "sandbox#get".into(),
            response_schema: None,
        },
    ]);
    assert_eq!(fake.spec_count(), 0);
    let me = get(&fake, "/rest/api/3/myself?anything=goes").await;
    assert_eq!(me.status, 200);
    assert_eq!(me.body, json!({"accountId": "string", "active": false}));
    let created = send(
        &fake,
        "POST",
        "/things",
        Some(BASIC),
        Some(json!({"any": "thing"})),
    )
    .await;
    assert_eq!((created.status, &created.body), (200, &json!({})));
    assert_eq!(get(&fake, "/things/10000").await.status, 200);
    assert_eq!(
        get(&fake, "/things/1").await.status,
        404,
        "the collection is known once created in"
    );
    assert_eq!(
        send(&fake, "GET", "/things/10000", None, None).await.status,
        401
    );
    assert_eq!(
        fake.requests()[0].operation.as_deref(),
        Some("sandbox#getCurrentUser")
    );
}

#[tokio::test]
async fn served_over_tcp_with_faults_that_count_down() {
    let handle = fake().serve(0).await.unwrap();
    let base = handle.base_url();
    assert!(base.starts_with("http://127.0.0.1:"), "{base}");

    handle.inject(
        Fault::status(503)
            .on_method("GET")
            .on_path("/rest/api/3/myself")
            .with_header("Retry-After", "1")
            .times(2),
    );
    let mut statuses = Vec::new();
    for _ in 0..3 {
        let resp = tcp(&base, "GET", "/rest/api/3/myself", Some(BASIC), None).await;
        if resp.status == 503 {
            assert_eq!(resp.header("retry-after"), Some("1"));
            assert_eq!(resp.body, json!({"errorMessages": ["injected fault"]}));
        }
        statuses.push(resp.status);
    }
    assert_eq!(statuses, vec![503, 503, 200]);
    // Faults apply before authentication and routing too.
    handle.inject(
        Fault::status(429)
            .on_operation("getServerInfo")
            .with_delay(Duration::from_millis(150))
            .with_body(json!({"message": "slow down"})),
    );
    let started = Instant::now();
    let slowed = tcp(&base, "GET", "/rest/api/3/serverInfo", None, None).await;
    assert_eq!(
        (slowed.status, &slowed.body),
        (429, &json!({"message": "slow down"}))
    );
    assert!(started.elapsed() >= Duration::from_millis(150));
    handle.clear_faults();
    assert_eq!(
        tcp(&base, "GET", "/rest/api/3/serverInfo", Some(BASIC), None)
            .await
            .status,
        200
    );

    let recorded = handle.requests();
    assert_eq!(
        recorded.iter().map(|r| r.status).collect::<Vec<_>>(),
        vec![503, 503, 200, 429, 200]
    );
    assert_eq!(
        recorded[0].operation.as_deref(),
        Some("jira-platform#getCurrentUser")
    );
    handle.clear_requests();
    assert!(handle.requests().is_empty());

    handle.shutdown();
    tokio::time::timeout(Duration::from_secs(5), handle.stopped())
        .await
        .expect("server stops");
    assert!(
        std::net::TcpStream::connect(handle.addr()).is_err(),
        "port closed after shutdown"
    );
}

#[tokio::test]
async fn tcp_round_trip_and_trace_ids() {
    let handle = fake().serve(0).await.unwrap();
    let base = handle.base_url();
    let created = tcp(
        &base,
        "POST",
        "/rest/api/3/project",
        Some(BASIC),
        Some(&json!({"key": "TCP", "name": "Over TCP"})),
    )
    .await;
    assert_eq!(created.status, 201, "{:?}", created.body);
    assert_eq!(
        created.body["self"],
        format!("{base}/rest/api/3/project/10000")
    );
    let got = tcp(&base, "GET", "/rest/api/3/project/TCP", Some(BASIC), None).await;
    assert_eq!(got.body["name"], "Over TCP");
    let a = created.header("atl-traceid").unwrap().to_string();
    let b = got.header("atl-traceid").unwrap().to_string();
    assert_ne!(a, b);
    let deleted = tcp(
        &base,
        "DELETE",
        "/rest/api/3/project/TCP",
        Some(BASIC),
        None,
    )
    .await;
    assert_eq!(deleted.status, 204);
    assert_eq!(
        tcp(&base, "GET", "/rest/api/3/project/TCP", Some(BASIC), None)
            .await
            .status,
        404
    );
    handle.shutdown();
}

/// Jira's documented example of `getProject`, read from the spec file.
fn documented_get_project() -> serde_json::Value {
    let dir = fake_atlassian::find_specs_dir().unwrap();
    let spec: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.join("jira-platform.json")).unwrap()).unwrap();
    let example = spec
        .pointer("/paths/~1rest~1api~13~1project~1{projectIdOrKey}/get/responses/200/content/application~1json/example")
        .expect("getProject documents an example");
    match example {
        serde_json::Value::String(text) => serde_json::from_str(text).unwrap(),
        other => other.clone(),
    }
}

#[tokio::test]
async fn examples_mode_answers_documented_examples_and_keeps_state() {
    let documented = documented_get_project();
    assert!(documented.get("self").is_some() && documented.get("avatarUrls").is_some());

    let fake = fake().with_examples();
    let resp = get(&fake, "/rest/api/3/project/ABC").await;
    assert_eq!(resp.status, 200);
    assert_eq!(resp.body, documented, "the documented example, verbatim");
    assert_eq!(
        get(&fake.fresh(), "/rest/api/3/project/ABC").await.body,
        documented,
        "fresh() keeps the mode"
    );

    // Without an example the answer is synthesized, as without the mode.
    let picker = "/rest/api/3/issue/picker";
    assert_eq!(
        get(&fake, picker).await.body,
        get(&plain_fake(), picker).await.body
    );

    // Created resources behave as without the mode.
    let created = send(
        &fake,
        "POST",
        "/rest/api/3/project",
        Some(BASIC),
        Some(json!({"key": "GOJ", "name": "Gojira", "projectTypeKey": "software", "leadAccountId": "5b10a0effa615349cb016cd8"})),
    )
    .await;
    assert_eq!(created.status, 201, "{:?}", created.body);
    assert_eq!(
        created.body["self"],
        "http://fake.test/rest/api/3/project/10000"
    );
    let got = get(&fake, "/rest/api/3/project/GOJ").await;
    assert_eq!(got.body["name"], "Gojira");
    assert_eq!(got.body["id"], "10000");
    fake.check_response("jira-platform#getProject", &got.body)
        .unwrap();
    let listed = get(&fake, "/rest/api/3/project").await;
    assert_eq!(listed.body[0]["key"], "GOJ", "{}", listed.body);

    // Off (the default), answers stay synthesized.
    let plain = get(&plain_fake(), "/rest/api/3/project/ABC").await;
    assert_ne!(plain.body, documented);
    assert_eq!(plain.body["key"], "ABC");
    assert!(plain.body.get("avatarUrls").is_none());
}

/// A fake without examples (the default).
fn plain_fake() -> FakeAtlassian {
    fake()
}

/// The request log is a ring: past its cap the oldest records go, and the
/// fake counts them (a long-running sandbox must not grow without bound).
#[tokio::test]
async fn the_request_log_keeps_the_newest_records_up_to_its_cap() {
    assert!(
        fake().request_log_cap() >= 100_000,
        "tests read the log: the default stays generous"
    );
    let fake = fake().with_request_log_cap(3);
    for key in ["A1", "A2", "A3", "A4", "A5"] {
        get(&fake, &format!("/rest/api/3/project/{key}")).await;
    }
    let paths: Vec<String> = fake.requests().into_iter().map(|r| r.path).collect();
    assert_eq!(
        paths,
        [
            "/rest/api/3/project/A3",
            "/rest/api/3/project/A4",
            "/rest/api/3/project/A5"
        ]
    );
    assert_eq!(fake.dropped_requests(), 2);
    fake.clear_requests();
    assert!(fake.requests().is_empty());
    assert_eq!(fake.dropped_requests(), 0);
}
