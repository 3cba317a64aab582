//! A simulated spec update: a small spec is generated, edited the way Atlassian's updates
//! go (a parameter removed, one made required, an enum value dropped, a paging parameter
//! renamed, a body field removed, a harmless addition), generated again, and the two
//! contracts compared. The breaking changes must all be found, and listed first.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::BTreeMap;

use gojira_codegen::contract::{self, Contract};
use serde_json::{Value, json};

const MANIFEST: &str = r#"
products:
  fx: {title: "Fixture", spec: fx.json, base_url: "{api}", auth: oauth}
groups:
  read_fx: {access: read, product: Fixture, description: "Reads"}
  write_fx: {access: write, product: Fixture, description: "Writes"}
tools:
  - name: fx.searchThings
    operation: fx#searchThings
    group: read_fx
    title: Search things
    description: Search things, a page at a time.
  - name: fx.createThing
    operation: fx#createThing
    group: write_fx
    title: Create a thing
    description: Create a thing.
    consent: none
    revert:
      irreversible: "fixture"
"#;

/// The spec before the update.
fn spec_v1() -> Value {
    json!({
        "openapi": "3.0.1",
        "info": {"title": "Fixture", "version": "1"},
        "paths": {
            "/things": {
                "get": {
                    "operationId": "searchThings",
                    "parameters": [
                        {"name": "startAt", "in": "query", "schema": {"type": "integer"}},
                        {"name": "maxResults", "in": "query", "schema": {"type": "integer", "maximum": 50}},
                        {"name": "query", "in": "query", "schema": {"type": "string"}},
                        {"name": "expand", "in": "query", "schema": {"type": "string"}},
                        {"name": "status", "in": "query",
                         "schema": {"type": "string", "enum": ["active", "archived", "deleted"]}}
                    ],
                    "responses": {"200": {"description": "OK", "content": {"application/json": {
                        "schema": {"type": "object", "properties": {"total": {"type": "integer"}}}}}}}
                },
                "post": {
                    "operationId": "createThing",
                    "requestBody": {"required": true, "content": {"application/json": {"schema": {
                        "type": "object",
                        "required": ["name"],
                        "properties": {
                            "name": {"type": "string"},
                            "color": {"type": "string", "enum": ["red", "green"]},
                            "owner": {"type": "object", "properties": {
                                "accountId": {"type": "string"},
                                "legacyKey": {"type": "string"}
                            }}
                        }
                    }}}},
                    "responses": {"201": {"description": "Created", "content": {"application/json": {
                        "schema": {"type": "object", "properties": {"id": {"type": "string"}}}}}}}
                }
            }
        }
    })
}

/// The same spec after a simulated Atlassian update.
fn spec_v2() -> Value {
    let mut spec = spec_v1();
    spec["info"]["version"] = json!("2");
    let params = spec["paths"]["/things"]["get"]["parameters"]
        .as_array_mut()
        .unwrap();
    // The paging parameter renamed: startAt -> offset (no longer recognized as paging).
    params[0]["name"] = json!("offset");
    // `expand` removed.
    params.retain(|p| p["name"] != "expand");
    // `query` made required.
    params[2]["required"] = json!(true);
    // Enum value `deleted` dropped.
    params[3]["schema"]["enum"] = json!(["active", "archived"]);
    // A harmless addition.
    params.push(json!({"name": "orderBy", "in": "query", "schema": {"type": "string"}}));
    let body = &mut spec["paths"]["/things"]["post"]["requestBody"]["content"]["application/json"]
        ["schema"]["properties"];
    // A body field removed, and a harmless one added.
    body["owner"]["properties"]
        .as_object_mut()
        .unwrap()
        .remove("legacyKey");
    body["labels"] = json!({"type": "array", "items": {"type": "string"}});
    spec
}

fn contract_of(spec: &Value) -> Contract {
    let mut specs = BTreeMap::new();
    specs.insert("fx.json".to_owned(), serde_json::to_vec(spec).unwrap());
    let output = gojira_codegen::generate("tools.yaml", MANIFEST, &specs);
    assert!(
        !output.has_errors(),
        "{:?}",
        output
            .diagnostics
            .iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>()
    );
    output.contract
}

#[test]
fn a_simulated_spec_update_lists_every_breaking_change_first() {
    let old = contract_of(&spec_v1());
    let new = contract_of(&spec_v2());
    // The committed snapshot is JSON: compare what a later regen would read back.
    let old = Contract::from_json(&old.to_json()).unwrap();
    let changes = contract::diff(&old, &new);
    let text = contract::render_text(&changes);
    println!("{text}");

    assert!(contract::has_breaking(&changes));
    let lines: Vec<&str> = text.lines().collect();
    let expected_breaking = [
        "  fx.createThing: body field `owner.legacyKey` removed",
        "  fx.searchThings: paging offset (startAt, maxResults) -> none: `cursor`/`limit` are gone (an upstream paging parameter was renamed or removed)",
        "  fx.searchThings: parameter `expand` removed",
        "  fx.searchThings: parameter `query` is now required",
        "  fx.searchThings: parameter `status` enum value(s) gone: \"deleted\"",
    ];
    let expected_compatible = [
        "  fx.createThing: body field `labels` added (optional)",
        "  fx.searchThings: parameter `maxResults` added (optional)",
        "  fx.searchThings: parameter `offset` added (optional)",
        "  fx.searchThings: parameter `orderBy` added (optional)",
    ];
    let position = |line: &str| {
        lines
            .iter()
            .position(|l| *l == line)
            .unwrap_or_else(|| panic!("missing line {line:?} in:\n{text}"))
    };
    let last_breaking = expected_breaking.iter().map(|l| position(l)).max().unwrap();
    let first_compatible = expected_compatible
        .iter()
        .map(|l| position(l))
        .min()
        .unwrap();
    assert!(
        lines[0].starts_with("BREAKING (5)") && last_breaking < first_compatible,
        "breaking changes must come first:\n{text}"
    );
    assert!(
        lines.iter().any(|l| l.starts_with("compatible (")),
        "{text}"
    );
    // The spec version change is noted (and is not breaking by itself).
    assert!(
        text.contains("product fx: spec fx.json 1 -> fx.json 2"),
        "{text}"
    );

    // The reviewer's file lists the same, breaking first.
    let md = contract::render_markdown(&changes, &old, &new);
    let breaking_at = md.find("## Breaking (5)").unwrap();
    let compatible_at = md.find("## Compatible").unwrap();
    assert!(breaking_at < compatible_at, "{md}");
    assert!(
        md.contains("- `fx.searchThings`: parameter `expand` removed"),
        "{md}"
    );
}

#[test]
fn only_harmless_additions_are_not_breaking() {
    let old = contract_of(&spec_v1());
    let mut spec = spec_v1();
    spec["paths"]["/things"]["get"]["parameters"]
        .as_array_mut()
        .unwrap()
        .push(json!({"name": "orderBy", "in": "query", "schema": {"type": "string"}}));
    spec["paths"]["/things"]["get"]["parameters"][4]["schema"]["enum"]
        .as_array_mut()
        .unwrap()
        .push(json!("draft"));
    let changes = contract::diff(&old, &contract_of(&spec));
    assert!(!contract::has_breaking(&changes), "{changes:?}");
    assert_eq!(changes.len(), 2, "{changes:?}");
    assert!(contract::diff(&old, &old).is_empty());
}

#[test]
fn a_renamed_parameter_is_named_as_a_rename() {
    let old = contract_of(&spec_v1());
    let mut spec = spec_v1();
    spec["paths"]["/things"]["get"]["parameters"][3]["name"] = json!("expandFields");
    let changes = contract::diff(&old, &contract_of(&spec));
    let text = contract::render_text(&changes);
    assert!(
        text.contains("fx.searchThings: parameter `expand` renamed to `expandFields`"),
        "{text}"
    );
    assert!(contract::has_breaking(&changes));
}
