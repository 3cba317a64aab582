//! Whole-catalog checks: every spec loads, every request schema compiles,
//! every synthesized response is valid against its own schema.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::time::Instant;

use fake_atlassian::{FakeAtlassian, KNOWN_SPECS, find_specs_dir};

#[test]
fn loads_all_nine_specs_quickly() {
    let dir = find_specs_dir().unwrap_or_else(|| {
        panic!("no Atlassian spec directory: run `cargo xtask fetch-specs` or set GOJIRA_SPECS_DIR")
    });
    let before = common::rss_mib().unwrap_or(0.0);
    let started = Instant::now();
    let fake = FakeAtlassian::load(&dir).unwrap();
    let elapsed = started.elapsed();
    let after = common::rss_mib().unwrap_or(0.0);
    eprintln!(
        "load: {} specs, {} operations in {elapsed:?}; RSS {before:.1} MiB -> {after:.1} MiB",
        fake.spec_count(),
        fake.operation_count()
    );
    assert_eq!(
        fake.spec_count(),
        9,
        "specs loaded: {:?}",
        fake.spec_names()
    );
    let expected: Vec<String> = KNOWN_SPECS.iter().map(|s| s.stem.to_string()).collect();
    assert_eq!(fake.spec_names(), expected);
    // SOURCES.md: 616 + 105 + 71 + 61 + 130 + 218 + 47 + 10 + 14 (+ 10 automation aliases).
    assert!(fake.operation_count() >= 1272, "{}", fake.operation_count());
    let labels: Vec<String> = fake.operations().into_iter().map(|o| o.label).collect();
    assert!(labels.contains(&"jira-platform#getProject".to_string()));
    assert!(
        labels.contains(&"user-management#GET /users/{account_id}/manage".to_string())
            || labels.iter().any(|l| l.starts_with("user-management#GET "))
    );
}

#[test]
fn missing_dir_is_a_clear_error() {
    let err = FakeAtlassian::load(std::path::Path::new("/nonexistent-specs")).unwrap_err();
    let text = err.to_string();
    assert!(text.contains("/nonexistent-specs"), "{text}");
    assert!(text.contains("jira-platform.json"), "{text}");
}

#[test]
fn every_schema_compiles_and_every_synthesized_response_is_valid() {
    let fake = common::fake();
    let started = Instant::now();
    let check = fake.self_check();
    eprintln!(
        "self check of {} operations ({} responses) in {:?}",
        check.operations,
        check.responses_checked,
        started.elapsed()
    );
    for p in &check.compile_problems {
        eprintln!("COMPILE {p}");
    }
    for p in &check.invalid_responses {
        eprintln!("INVALID {p}");
    }
    for p in &check.rejected_requests {
        eprintln!("REJECTED {p}");
    }
    assert!(
        check.rejected_requests.is_empty(),
        "{} minimal request bodies rejected",
        check.rejected_requests.len()
    );
    assert!(
        check.compile_problems.is_empty(),
        "{} schemas do not compile",
        check.compile_problems.len()
    );
    assert!(
        check.invalid_responses.is_empty(),
        "{} invalid synthesized responses",
        check.invalid_responses.len()
    );
}
