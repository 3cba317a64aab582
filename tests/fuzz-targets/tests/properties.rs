//! The fuzz targets, run by proptest for a bounded number of cases: the
//! short run CI does on every change (`cargo test`). `scripts/fuzz.sh` runs
//! the same functions under libFuzzer for millions of cases.
//!
//! Each target gets random bytes (which its decoder turns into structured
//! input) and inputs shaped for it: JSON-RPC messages, JSON arguments,
//! mutated seeds. `PROPTEST_CASES=N` overrides the number of cases.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use gojira_fuzz_targets::{
    TINY_SPEC, TOOLS_YAML_EXCERPT, mcp_jsonrpc, spec_loading, tool_args, tools_yaml,
};
use proptest::prelude::*;
use proptest::test_runner::{Config, FileFailurePersistence};
use serde_json::{Value, json};

fn config(cases: u32) -> Config {
    Config {
        cases: std::env::var("PROPTEST_CASES")
            .ok()
            .and_then(|n| n.parse().ok())
            .unwrap_or(cases),
        // Failures are reported with the input; nothing is written to the tree.
        failure_persistence: Some(Box::new(FileFailurePersistence::Off)),
        ..Config::default()
    }
}

/// Arbitrary JSON, a few levels deep.
fn any_json() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        any::<f64>()
            .prop_map(|f| serde_json::Number::from_f64(f).map_or(Value::Null, Value::Number)),
        prop_oneof![
            Just(".".to_owned()),
            Just("..".to_owned()),
            Just(String::new()),
            Just("%2e%2e".to_owned()),
            Just("a/b".to_owned()),
            any::<String>(),
        ]
        .prop_map(Value::from),
    ];
    leaf.prop_recursive(3, 24, 4, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
            prop::collection::btree_map(
                prop_oneof![
                    Just("name".to_owned()),
                    Just("arguments".to_owned()),
                    Just("project".to_owned()),
                    Just("body".to_owned()),
                    Just("cursor".to_owned()),
                    Just("limit".to_owned()),
                    any::<String>(),
                ],
                inner,
                0..4
            )
            .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

/// JSON-RPC messages as an MCP client (or a confused one) sends them.
fn jsonrpc_body() -> impl Strategy<Value = Vec<u8>> {
    let method = prop_oneof![
        Just("initialize"),
        Just("tools/list"),
        Just("tools/call"),
        Just("ping"),
        Just("notifications/initialized"),
        Just("logging/setLevel"),
        Just("resources/list"),
        Just("nonsense"),
    ];
    let one = (method, any_json(), any_json(), any::<u8>())
        .prop_map(|(m, p, args, id)| {
            let params = if m == "tools/call" {
                json!({"name": "jira.getProject", "arguments": args})
            } else {
                p
            };
            json!({"jsonrpc": "2.0", "id": id, "method": m, "params": params})
        })
        .boxed();
    prop_oneof![
        one.clone().prop_map(|v| v.to_string().into_bytes()),
        prop::collection::vec(one, 0..3).prop_map(|v| Value::Array(v).to_string().into_bytes()),
        any_json().prop_map(|v| format!("{{\"x\":{v}}}").into_bytes()),
    ]
}

proptest! {
    #![proptest_config(config(300))]

    #[test]
    fn mcp_jsonrpc_never_panics_on_structured_exchanges(data in prop::collection::vec(any::<u8>(), 0..768)) {
        // A leading `{`/`[` would make it a raw body; keep these structured.
        let mut data = data;
        data.insert(0, b'!');
        mcp_jsonrpc(&data);
    }

    #[test]
    fn mcp_jsonrpc_never_panics_on_raw_bodies(body in jsonrpc_body()) {
        mcp_jsonrpc(&body);
    }
}

proptest! {
    #![proptest_config(config(2000))]

    #[test]
    fn tool_args_never_panic_and_paths_keep_their_template(
        tool in any::<u16>(),
        guided in any::<bool>(),
        rest in prop::collection::vec(any::<u8>(), 0..512),
    ) {
        let mut data = tool.to_be_bytes().to_vec();
        data.push(u8::from(guided));
        data.extend(rest);
        tool_args(&data);
    }

    #[test]
    fn tool_args_never_panic_on_json(tool in any::<u16>(), args in any_json()) {
        let mut data = tool.to_be_bytes().to_vec();
        data.push(0);
        data.extend(args.to_string().into_bytes());
        tool_args(&data);
    }
}

/// A seed with a few bytes overwritten, inserted or removed.
fn mutated(seed: &'static str) -> impl Strategy<Value = Vec<u8>> {
    prop::collection::vec((any::<prop::sample::Index>(), any::<u8>(), 0..3u8), 1..6).prop_map(
        move |edits| {
            let mut bytes = seed.as_bytes().to_vec();
            for (at, byte, kind) in edits {
                let i = at.index(bytes.len() + 1);
                match kind {
                    0 => bytes.insert(i, byte),
                    1 if i < bytes.len() => {
                        bytes.remove(i);
                    }
                    _ if i < bytes.len() => bytes[i] = byte,
                    _ => {}
                }
            }
            bytes
        },
    )
}

proptest! {
    #![proptest_config(config(200))]

    #[test]
    fn tools_yaml_never_panics(text in prop_oneof![
        mutated(TOOLS_YAML_EXCERPT),
        any::<String>().prop_map(String::into_bytes),
        prop::collection::vec(any::<u8>(), 0..256),
    ]) {
        tools_yaml(&text);
    }

    #[test]
    fn spec_loading_never_panics(bytes in prop_oneof![
        mutated(TINY_SPEC),
        any_json().prop_map(|v| json!({"openapi": "3.0.1", "info": {"title": "t", "version": "1"}, "paths": {"/a/{b}": {"get": v}}}).to_string().into_bytes()),
        prop::collection::vec(any::<u8>(), 0..256),
    ]) {
        spec_loading(&bytes);
    }
}

/// The seeds are what they claim: the tools.yaml excerpt generates cleanly
/// against the tiny spec, and the tiny spec loads in both readers.
#[test]
fn the_seeds_are_meaningful() {
    let mut specs = std::collections::BTreeMap::new();
    specs.insert(
        "jira-platform.json".to_owned(),
        TINY_SPEC.as_bytes().to_vec(),
    );
    specs.insert("org-admin.json".to_owned(), TINY_SPEC.as_bytes().to_vec());
    let output = gojira_codegen::generate("tools.yaml", TOOLS_YAML_EXCERPT, &specs);
    assert!(
        !output.has_errors(),
        "{:#?}",
        output
            .diagnostics
            .iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>()
    );
    assert_eq!(output.tool_counts.get("jira"), Some(&6));
    let spec = gojira_codegen::spec::Spec::parse("fx.json", TINY_SPEC.as_bytes()).unwrap();
    assert_eq!(spec.operations.len(), 6);
    let fake = fake_atlassian::FakeAtlassian::from_spec_bytes(
        fake_atlassian::KNOWN_SPECS[0],
        TINY_SPEC.as_bytes(),
    )
    .unwrap();
    assert_eq!(fake.operations().len(), 6);
    tools_yaml(TOOLS_YAML_EXCERPT.as_bytes());
    spec_loading(TINY_SPEC.as_bytes());
}
