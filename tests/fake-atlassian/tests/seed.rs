//! The seeded tenant (`with_seed`, `serve --sandbox`): every seeded answer is
//! valid against its operation's response schema and carries the tenant's
//! data; seeded collections are stateful; the synthesized fallback stays.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use common::{BASIC, BEARER, Resp, fake, get, send};
use fake_atlassian::{DEFAULT_ORG_ID, FakeAtlassian};
use serde_json::{Value, json};

const ASSETS: &str = "/jsm/assets/workspace/sandbox-workspace/v1";
const DIRECTORY: &str = "e5f6a7b8-0000-4c1d-9e2f-000000000001";

fn seeded() -> FakeAtlassian {
    fake().with_seed().expect("the built-in seed parses")
}

/// Sends and checks the answer against the response schema of the operation
/// that served it (when it has one: some answer with a documented example only).
async fn checked(fake: &FakeAtlassian, method: &str, path: &str, body: Option<Value>) -> Resp {
    let auth = if path.starts_with("/admin/") {
        BEARER
    } else {
        BASIC
    };
    let resp = send(fake, method, path, Some(auth), body).await;
    assert_eq!(resp.status, 200, "{method} {path}: {}", resp.body);
    let label = fake
        .requests()
        .last()
        .and_then(|r| r.operation.clone())
        .unwrap_or_else(|| panic!("{path} matched no operation"));
    if let Err(errors) = fake.check_response(&label, &resp.body)
        && !errors
            .iter()
            .any(|e| e.contains("has no JSON response schema"))
    {
        panic!("{label} ({path}) answer invalid: {errors:?}\n{}", resp.body);
    }
    resp
}

#[tokio::test]
async fn every_seeded_answer_is_schema_valid_and_shows_the_tenant() {
    let fake = seeded();
    let org = format!("/admin/v1/orgs/{DEFAULT_ORG_ID}");
    let dir = format!("/admin/v2/orgs/{DEFAULT_ORG_ID}/directories/{DIRECTORY}");
    let cases: Vec<(String, &str)> = vec![
        ("/rest/api/3/project/search".into(), "Robot Firmware"),
        ("/rest/api/3/project".into(), "Legacy Warehouse"),
        ("/rest/api/3/project/ROBO".into(), "Priya Natarajan"),
        ("/rest/api/3/project/10003".into(), "service_desk"),
        ("/rest/api/3/permissionscheme".into(), "Restricted: Legal"),
        (
            "/rest/api/3/project/LEGAL/permissionscheme".into(),
            "Restricted: Legal",
        ),
        (
            "/rest/api/3/project/10003/notificationscheme".into(),
            "Quiet: assignee only",
        ),
        (
            "/rest/api/3/permissionscheme/0".into(),
            "ADMINISTER_PROJECTS",
        ),
        (
            "/rest/api/3/notificationscheme".into(),
            "Quiet: assignee only",
        ),
        (
            "/rest/api/3/notificationscheme/10000".into(),
            "Issue Created",
        ),
        (
            "/rest/api/3/workflowscheme".into(),
            "ITS: Service Management",
        ),
        (
            "/rest/api/3/workflowscheme/10000".into(),
            "Software Simplified",
        ),
        (
            "/rest/api/3/workflows/search".into(),
            "IT Service Request Workflow",
        ),
        ("/rest/api/3/screens".into(), "ROBO: Scrum Bug Screen"),
        (
            "/rest/api/3/screenscheme".into(),
            "ITS: Request Screen Scheme",
        ),
        (
            "/rest/api/3/issuetypescheme".into(),
            "ROBO: Scrum Issue Type Scheme",
        ),
        (
            "/rest/api/3/fieldconfigurationscheme".into(),
            "Firmware field",
        ),
        ("/rest/api/3/field".into(), "Robot model"),
        ("/rest/api/3/field/search".into(), "Contract value"),
        (
            "/rest/api/3/field/customfield_10040/context".into(),
            "ROBO bugs",
        ),
        ("/rest/api/3/filter/search".into(), "ITS: breached SLAs"),
        ("/rest/api/3/filter/10000".into(), "resolution = Unresolved"),
        ("/rest/api/3/dashboard/search".into(), "sprint health"),
        ("/rest/api/3/dashboard".into(), "SLA overview"),
        ("/rest/api/3/dashboard/10001".into(), "Burndown"),
        ("/rest/agile/1.0/board".into(), "WEB board"),
        ("/rest/agile/1.0/board/1".into(), "Robot Firmware (ROBO)"),
        ("/rest/agile/1.0/board/1/sprint".into(), "ROBO Sprint 15"),
        (
            "/rest/agile/1.0/sprint/2".into(),
            "resumable after power loss",
        ),
        (
            "/rest/servicedeskapi/servicedesk".into(),
            "People Operations",
        ),
        (
            "/rest/servicedeskapi/servicedesk/1".into(),
            "IT Service Desk",
        ),
        (
            "/rest/servicedeskapi/servicedesk/1/requesttype".into(),
            "Request new hardware",
        ),
        (
            "/rest/servicedeskapi/servicedesk/2/requesttype/20".into(),
            "Onboard a new hire",
        ),
        (
            "/rest/servicedeskapi/servicedesk/1/queue".into(),
            "Incidents",
        ),
        (
            "/rest/servicedeskapi/servicedesk/1/customer".into(),
            "Aiko Tanaka",
        ),
        (
            "/rest/servicedeskapi/servicedesk/1/organization".into(),
            "Globex Corporation",
        ),
        (
            "/rest/servicedeskapi/organization".into(),
            "Northwind Traders",
        ),
        (
            "/rest/servicedeskapi/organization/2".into(),
            "Northwind Traders",
        ),
        (
            "/rest/servicedeskapi/organization/2/user".into(),
            "Samuel Okafor",
        ),
        (format!("{ASSETS}/objectschema/list"), "IT Assets"),
        (format!("{ASSETS}/objectschema/1"), "ITA"),
        (
            format!("{ASSETS}/objectschema/1/objecttypes/flat"),
            "Software licences",
        ),
        (format!("{ASSETS}/objecttype/1"), "Laptops"),
        (format!("{ASSETS}/objecttype/1/attributes"), "Serial number"),
        ("/wiki/api/v2/spaces".into(), "IT Knowledge Base"),
        ("/wiki/api/v2/spaces/65537".into(), "Architecture decisions"),
        ("/wiki/api/v2/spaces/65537/permissions".into(), "administer"),
        ("/wiki/api/v2/spaces/65537/properties".into(), "owning-team"),
        ("/wiki/api/v2/spaces/65537/pages".into(), "ADR-012"),
        ("/admin/v1/orgs".into(), "Acme Robotics"),
        (org.clone(), "Acme Robotics"),
        (format!("{org}/users"), "Lena Fischer"),
        (format!("{org}/domains"), "acme-robotics.example"),
        (
            format!("/admin/v2/orgs/{DEFAULT_ORG_ID}/directories"),
            "Acme Robotics",
        ),
        (format!("{dir}/groups"), "it-agents"),
        (format!("{dir}/users"), "Tomás Rivera"),
        (format!("{org}/events"), "api_token_created"),
        (
            format!(
                "{org}/directory/users/712020%3A9a4e7b33-6d2c-4e8f-b1a7-5c3e8d2f6b03/last-active-dates"
            ),
            "jira-service-desk",
        ),
        (
            "/rest/api/3/workflow/b9ff2384-d3b6-4d4e-9509-3ee19f607168/projectUsages".into(),
            "10001",
        ),
    ];
    for (path, expected) in &cases {
        let resp = checked(&fake, "GET", path, None).await;
        assert!(
            resp.body.to_string().contains(expected),
            "GET {path} lacks {expected:?}: {}",
            resp.body
        );
        assert!(
            !resp.body.to_string().contains("\"string\""),
            "GET {path} has a synthesized placeholder the seed should fill: {}",
            resp.body
        );
    }
    let found = checked(
        &fake,
        "POST",
        &format!("{ASSETS}/object/aql"),
        Some(json!({"qlQuery": "objectType = Laptops"})),
    )
    .await;
    assert!(
        found.body.to_string().contains("LT-BER-0142"),
        "{}",
        found.body
    );
    assert!(
        !found.body.to_string().contains("\"string\""),
        "{}",
        found.body
    );
    let counted = checked(
        &fake,
        "POST",
        &format!("{ASSETS}/object/aql/totalcount"),
        Some(json!({"qlQuery": "objectType = Laptops"})),
    )
    .await;
    assert_eq!(counted.body["totalCount"], 9, "{}", counted.body);
    assert!(
        !counted.body.to_string().contains("\"string\""),
        "{}",
        counted.body
    );
}

#[tokio::test]
async fn views_filter_by_path_and_query_and_hide_archived_projects() {
    let fake = seeded();
    let keys = |resp: &Resp| -> Vec<String> {
        resp.body["values"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| p["key"].as_str().unwrap().to_owned())
            .collect()
    };
    let all = checked(&fake, "GET", "/rest/api/3/project/search", None).await;
    assert_eq!(
        keys(&all),
        ["SBX", "ROBO", "WEB", "ITS", "HR", "MKT", "LEGAL"],
        "the archived project is not searched"
    );
    assert_eq!(all.body["total"], 7);
    let desks = get(&fake, "/rest/api/3/project/search?typeKey=service_desk").await;
    assert_eq!(keys(&desks), ["ITS", "HR"]);
    let robo = get(&fake, "/rest/api/3/project/search?query=robot").await;
    assert_eq!(keys(&robo), ["ROBO"]);
    let sprints = get(&fake, "/rest/agile/1.0/board/3/sprint").await;
    let names: Vec<&str> = sprints.body["values"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["SBX Sprint 1"], "only board 3's sprints");
    let page = get(&fake, "/rest/api/3/project/search?startAt=2&maxResults=2").await;
    assert_eq!(keys(&page), ["WEB", "ITS"]);
    assert_eq!(
        (
            &page.body["startAt"],
            &page.body["maxResults"],
            &page.body["total"],
            &page.body["isLast"]
        ),
        (&json!(2), &json!(2), &json!(7), &json!(false))
    );
    let last = get(&fake, "/rest/api/3/project/search?startAt=6&maxResults=2").await;
    assert_eq!(keys(&last), ["LEGAL"]);
    assert_eq!(last.body["isLast"], true);
    let jsm = get(
        &fake,
        "/rest/servicedeskapi/servicedesk/1/requesttype?start=1&limit=2",
    )
    .await;
    assert_eq!(
        (
            &jsm.body["start"],
            &jsm.body["size"],
            &jsm.body["isLastPage"]
        ),
        (&json!(1), &json!(2), &json!(false)),
        "{}",
        jsm.body
    );
    assert_eq!(jsm.body["values"][0]["name"], "Request new hardware");
    let sprints_page = get(&fake, "/rest/agile/1.0/board/1/sprint").await;
    assert_eq!(
        (
            &sprints_page.body["isLast"],
            &sprints_page.body["startAt"],
            &sprints_page.body["total"]
        ),
        (&json!(true), &json!(0), &json!(3)),
        "one page, not the documented example's paging: {}",
        sprints_page.body
    );
    let flat = get(&fake, &format!("{ASSETS}/objectschema/2/objecttypes/flat")).await;
    assert_eq!(flat.body.as_array().map(Vec::len), Some(1), "{}", flat.body);
    assert_eq!(flat.body[0]["name"], "Offices");
}

#[tokio::test]
async fn a_seeded_project_lives_through_create_update_archive_restore_delete() {
    let fake = seeded();
    let created = send(
        &fake,
        "POST",
        "/rest/api/3/project",
        Some(BASIC),
        Some(
            json!({"key": "NEW", "name": "New things", "projectTypeKey": "business",
                    "leadAccountId": "712020:5c1d9e22-0b7a-4f3c-8e65-2a9f4b7d3c02"}),
        ),
    )
    .await;
    assert_eq!(created.status, 201, "{}", created.body);
    let id = created.body["id"].as_i64().expect("integer id");
    assert!(id > 10007, "a created id follows the seeded ones: {id}");
    let search = checked(&fake, "GET", "/rest/api/3/project/search", None).await;
    assert!(
        search.body.to_string().contains("New things"),
        "{}",
        search.body
    );

    let updated = send(
        &fake,
        "PUT",
        "/rest/api/3/project/ROBO",
        Some(BASIC),
        Some(json!({"name": "Robot Firmware (R-series)", "description": "Renamed"})),
    )
    .await;
    assert_eq!(updated.status, 200, "{}", updated.body);
    let read = checked(&fake, "GET", "/rest/api/3/project/ROBO", None).await;
    assert_eq!(read.body["name"], "Robot Firmware (R-series)");
    assert_eq!(read.body["description"], "Renamed");
    assert_eq!(
        read.body["lead"]["displayName"], "Priya Natarajan",
        "the rest stays"
    );

    let archived = send(
        &fake,
        "POST",
        "/rest/api/3/project/MKT/archive",
        Some(BASIC),
        None,
    )
    .await;
    assert!(archived.status < 300, "{}", archived.body);
    assert_eq!(
        get(&fake, "/rest/api/3/project/MKT").await.body["archived"],
        true
    );
    let search = get(&fake, "/rest/api/3/project/search").await;
    assert!(!search.body.to_string().contains("Marketing Campaigns"));
    let restored = send(
        &fake,
        "POST",
        "/rest/api/3/project/MKT/restore",
        Some(BASIC),
        None,
    )
    .await;
    assert!(restored.status < 300, "{}", restored.body);
    let search = get(&fake, "/rest/api/3/project/search").await;
    assert!(search.body.to_string().contains("Marketing Campaigns"));

    let deleted = send(
        &fake,
        "DELETE",
        "/rest/api/3/project/LEGAL",
        Some(BASIC),
        None,
    )
    .await;
    assert!(deleted.status < 300, "{}", deleted.body);
    assert_eq!(get(&fake, "/rest/api/3/project/LEGAL").await.status, 404);
    assert_eq!(get(&fake, "/rest/api/3/project/NOPE").await.status, 404);
    let search = get(&fake, "/rest/api/3/project/search").await;
    assert!(!search.body.to_string().contains("Contracts"));

    let field = send(
        &fake,
        "POST",
        "/rest/api/3/field",
        Some(BASIC),
        Some(json!({"name": "Warranty end", "type": "com.atlassian.jira.plugin.system.customfieldtypes:datepicker"})),
    )
    .await;
    assert_eq!(field.status, 201, "{}", field.body);
    let field_id = field.body["id"].as_str().expect("field id").to_owned();
    assert!(field_id.starts_with("customfield_"), "{field_id}");
    let fields = get(&fake, "/rest/api/3/field/search?query=warranty").await;
    assert_eq!(
        fields.body["values"][0]["id"],
        field_id.as_str(),
        "{}",
        fields.body
    );

    // What the server fills in comes from the seed's defaults, not placeholders.
    let created = send(
        &fake,
        "POST",
        &format!("{ASSETS}/objecttype/create"),
        Some(BASIC),
        Some(json!({"name": "Monitors", "iconId": "13", "objectSchemaId": "1"})),
    )
    .await;
    assert!(created.status < 300, "{}", created.body);
    assert!(
        !created.body.to_string().contains("\"string\""),
        "{}",
        created.body
    );
    assert_eq!(
        created.body["globalId"],
        format!("sandbox-workspace:{}", created.body["id"].as_str().unwrap())
    );
    let flat = get(&fake, &format!("{ASSETS}/objectschema/1/objecttypes/flat")).await;
    assert!(flat.body.to_string().contains("Monitors"), "{}", flat.body);

    // A project's schemes follow its assignments, also after a change.
    let assigned = send(
        &fake,
        "PUT",
        "/rest/api/3/project/WEB/permissionscheme",
        Some(BASIC),
        Some(json!({"id": 10001})),
    )
    .await;
    assert!(assigned.status < 300, "{}", assigned.body);
    let scheme = checked(
        &fake,
        "GET",
        "/rest/api/3/project/WEB/permissionscheme",
        None,
    )
    .await;
    assert_eq!(scheme.body["name"], "Restricted: Legal");
    let updated = send(
        &fake,
        "PUT",
        "/rest/api/3/project/WEB",
        Some(BASIC),
        Some(json!({"notificationScheme": 10001})),
    )
    .await;
    assert_eq!(updated.status, 200, "{}", updated.body);
    let scheme = get(&fake, "/rest/api/3/project/WEB/notificationscheme").await;
    assert_eq!(scheme.body["name"], "Quiet: assignee only");
    assert_eq!(
        get(&fake, "/rest/api/3/project/NOPE/permissionscheme")
            .await
            .status,
        404
    );

    fake.reset_state();
    let search = get(&fake, "/rest/api/3/project/search").await;
    assert_eq!(search.body["total"], 7, "a reset goes back to the seed");
    assert_eq!(
        get(&fake, "/rest/api/3/project/ROBO").await.body["name"],
        "Robot Firmware"
    );
}

#[tokio::test]
async fn unseeded_resources_are_still_synthesized() {
    let fake = seeded();
    // Not in the seed: synthesized as without one.
    let version = checked(&fake, "GET", "/rest/api/3/version/10000", None).await;
    assert_eq!(version.body["id"], "10000");
    // A fresh copy keeps the seed; an unseeded fake has none of it.
    assert!(fake.fresh().is_seeded());
    let plain = get(&self::fake(), "/rest/api/3/project/ROBO").await;
    assert_eq!(plain.status, 200);
    assert_ne!(plain.body["name"], "Robot Firmware");
}

#[tokio::test]
async fn a_broken_seed_is_refused_with_its_reason() {
    let err = fake()
        .with_seed_text(r#"{"collections": {"/x": [{"name": "no id"}]}}"#)
        .expect_err("refused");
    assert!(err.to_string().contains("/x[0] has no `id`"), "{err}");
    assert!(fake().with_seed_text("{\"unknown\": 1}").is_err());
}

/// Where a seeded value made it into an answer but changed (an enum value
/// the schema does not allow, a type that does not fit), naming the path.
fn mismatches(seed: &Value, answer: &Value, at: &str, out: &mut Vec<String>) {
    match (seed, answer) {
        (Value::Object(s), Value::Object(a)) => {
            for (k, v) in s {
                if let Some(got) = a.get(k) {
                    mismatches(v, got, &format!("{at}/{k}"), out);
                }
            }
        }
        (Value::Array(s), Value::Array(a)) if s.len() == a.len() => {
            for (i, (v, got)) in s.iter().zip(a).enumerate() {
                mismatches(v, got, &format!("{at}/{i}"), out);
            }
        }
        (Value::Array(s), Value::Array(a)) => {
            out.push(format!(
                "{at}: {} items seeded, {} answered",
                s.len(),
                a.len()
            ));
        }
        (s, a) => {
            let text = |v: &Value| v.as_str().map_or_else(|| v.to_string(), str::to_owned);
            if text(s) != text(a) {
                out.push(format!("{at}: seeded {s}, answered {a}"));
            }
        }
    }
}

/// Every seeded record read back through its item path, and through its
/// collection's list, answers the values the seed gives it.
#[tokio::test]
async fn seeded_values_come_back_as_seeded() {
    let fake = seeded();
    let mut collections = serde_json::Map::new();
    let mut envelopes = serde_json::Map::new();
    let mut documents = Vec::new();
    for (_, text) in fake_atlassian::BUILTIN_SEEDS {
        let seed: Value = serde_json::from_str(text).unwrap();
        if let Some(c) = seed["collections"].as_object() {
            collections.extend(c.clone());
        }
        if let Some(e) = seed["envelopes"].as_object() {
            envelopes.extend(e.clone());
        }
        if let Some(d) = seed["documents"].as_array() {
            documents.extend(d.iter().cloned());
        }
    }
    let mut problems = Vec::new();
    let mut read = 0;
    for (collection, records) in &collections {
        let auth = if collection.starts_with("/admin/") {
            BEARER
        } else {
            BASIC
        };
        let list = send(&fake, "GET", collection, Some(auth), None).await;
        for record in records.as_array().unwrap() {
            let id = record["id"]
                .as_str()
                .map_or_else(|| record["id"].to_string(), str::to_owned);
            let encoded = id.replace(':', "%3A");
            let item = send(
                &fake,
                "GET",
                &format!("{collection}/{encoded}"),
                Some(auth),
                None,
            )
            .await;
            let mut answers = Vec::new();
            if item.status == 200 {
                let body = match envelopes.get(collection) {
                    Some(Value::String(member)) => item.body[member].clone(),
                    _ => item.body,
                };
                answers.push(("item", body));
            }
            if list.status == 200 {
                let text = |v: &Value| v.as_str().map_or_else(|| v.to_string(), str::to_owned);
                let mut found = None;
                let mut stack = vec![list.body.clone()];
                while let Some(v) = stack.pop() {
                    match v {
                        Value::Array(items) => {
                            found = found.or_else(|| {
                                items
                                    .iter()
                                    .find(|i| {
                                        ["id", "account_id", "accountId", "directoryId"]
                                            .iter()
                                            .any(|k| i.get(*k).map(text) == Some(id.clone()))
                                    })
                                    .cloned()
                            });
                        }
                        Value::Object(map) => stack.extend(map.into_values()),
                        _ => {}
                    }
                }
                if let Some(found) = found {
                    answers.push(("list", found));
                }
            }
            for (how, answer) in answers {
                read += 1;
                mismatches(
                    record,
                    &answer,
                    &format!("{how} {collection}/{id}"),
                    &mut problems,
                );
            }
        }
    }
    for document in &documents {
        let path = document["path"].as_str().unwrap().replace(':', "%3A");
        let answer = checked(&fake, "GET", &path, None).await;
        read += 1;
        mismatches(&document["body"], &answer.body, &path, &mut problems);
    }
    assert!(read > 100, "only {read} seeded records were read back");
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}
