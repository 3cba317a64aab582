//! The fixture snapshots' request builders, driven with the arguments a
//! model would send: each typed shape accepts what the spec allows, sends it
//! back unchanged, and the input schema (validated as the runtime does, with
//! draft 7) agrees with the Rust type.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use gojira_catalog_types::ToolSpec;
use gojira_codegen_compiled as fixtures;
use serde_json::{Value, json};

fn tool(tools: &'static [ToolSpec], name: &str) -> &'static ToolSpec {
    tools
        .iter()
        .find(|t| t.name == name)
        .unwrap_or_else(|| panic!("no tool {name}"))
}

fn schema_accepts(tool: &ToolSpec, args: &Value) -> bool {
    let schema: Value = serde_json::from_str(tool.input_schema).unwrap();
    jsonschema::draft7::new(&schema).unwrap().is_valid(args)
}

/// Builds the request and returns the body it would send.
fn sent_body(tool: &ToolSpec, args: Value) -> Value {
    assert!(
        schema_accepts(tool, &args),
        "{} schema refuses {args}",
        tool.name
    );
    let request = (tool.build)(args).unwrap_or_else(|e| panic!("{}: {e:?}", tool.name));
    request.body.expect("a body")
}

#[test]
fn all_of_permission_scheme_round_trips_and_requires_its_name() {
    let t = tool(fixtures::all_of::fx::TOOLS, "fx.updatePermissionScheme");
    let body = json!({
        "name": "Default",
        "permissions": [{"holder": {"type": "group", "value": "jira-admins"}, "permission": "ADMINISTER", "custom": 1}],
        "scope": {"anything": "goes"},
        "extra": true
    });
    assert_eq!(
        sent_body(t, json!({"schemeId": 10000, "body": body.clone()})),
        body
    );
    // The model's `{}` is refused before anything is sent (it was a 400).
    let empty = json!({"schemeId": 10000, "body": {}});
    assert!(!schema_accepts(t, &empty));
    assert!((t.build)(empty).is_err());
    // The hidden holder.parameter is not offered.
    let hidden = json!({"schemeId": 1, "body": {"name": "n", "permissions": [{"holder": {"type": "group", "parameter": "x"}}]}});
    assert!(!schema_accepts(t, &hidden));
}

#[test]
fn one_of_with_discriminator_picks_the_branch_that_fits() {
    let t = tool(fixtures::discriminator::fx::TOOLS, "fx.createRule");
    for body in [
        json!({"trigger": {"kind": "scheduled", "cron": "0 * * * *"}, "threshold": 5, "labels": ["a", "b"], "note": null}),
        json!({"trigger": {"kind": "issue_created", "projectKey": "ABC"}, "threshold": "high", "labels": "a", "owner": null, "actor": {"groupId": "g"}, "target": {"projectKey": "ABC"}}),
    ] {
        let mut expected = body.clone();
        // An optional member sent as null is simply left out.
        if let Some(map) = expected.as_object_mut() {
            map.retain(|_, v| !v.is_null());
        }
        assert_eq!(sent_body(t, json!({"body": body})), expected);
    }
    // A trigger that fits no branch is refused by both the schema and serde.
    let wrong = json!({"body": {"trigger": {"kind": "scheduled"}, "threshold": 1}});
    assert!(!schema_accepts(t, &wrong));
    assert!((t.build)(wrong).is_err());
    // Neither of the alternative required sets: the schema's oneOf refuses it.
    let neither = json!({"body": {"trigger": {"kind": "scheduled", "cron": "x"}, "threshold": 1, "target": {}}});
    assert!(!schema_accepts(t, &neither));
}

#[test]
fn recursive_bodies_nest_and_validate_through_defs() {
    let t = tool(fixtures::reference_cycle::fx::TOOLS, "fx.createContent");
    let body = json!({
        "type": "page",
        "space": {"key": "DOC", "homepage": {"type": "page", "id": "1", "ancestors": [{"type": "page", "id": "0"}]}},
        "ancestors": [{"type": "page", "ancestors": [{"type": "page"}]}]
    });
    assert_eq!(sent_body(t, json!({"body": body.clone()})), body);
    // A nested Content without its required `type` is refused at any depth.
    let deep = json!({"body": {"type": "page", "ancestors": [{"ancestors": [{"id": "x"}]}]}});
    assert!(!schema_accepts(t, &deep));
    assert!((t.build)(deep).is_err());
}

#[test]
fn typed_maps_keep_typed_members_beside_them() {
    let t = tool(
        fixtures::additional_properties::fx::TOOLS,
        "fx.setProperties",
    );
    let body = json!({
        "name": "n",
        "value": {"free": ["form", 1]},
        "attributes": {"a": {"key": "k", "values": ["v"]}},
        "flags": {"on": true},
        "open": {"id": "1", "whatever": [1, 2]},
        "scores": [1, null, 3],
        "notes": {"a": "x", "b": null},
        "colour": "blue"
    });
    assert_eq!(
        sent_body(t, json!({"id": "e1", "body": body.clone()})),
        body
    );
    // Other members must be strings (additionalProperties: {type: string}).
    let bad = json!({"id": "e1", "body": {"name": "n", "colour": 3}});
    assert!(!schema_accepts(t, &bad));
    assert!((t.build)(bad).is_err());
}

#[test]
fn loose_body_keeps_the_typed_rest() {
    let t = tool(
        fixtures::one_of_any_of::fx::TOOLS,
        "fx.submitDeploymentsLoose",
    );
    let body = json!({"deployments": [{"displayName": "d", "target": 42, "associations": [{"associationType": "serviceIdOrKeys", "values": ["s"]}]}]});
    assert_eq!(sent_body(t, json!({"body": body.clone()})), body);
    let missing = json!({"body": {}});
    assert!(!schema_accepts(t, &missing));
}
