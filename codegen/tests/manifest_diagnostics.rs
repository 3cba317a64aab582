//! Diagnostics for mistakes in tools.yaml, asserted exactly (file:line:column,
//! tool name, message). Every manifest here is [`HEADER`] (which declares the
//! product, three groups and one valid tool, `fx.searchProjects`) followed by
//! the case's tools, which therefore start on line [`FIRST`]. Each case also
//! checks that generation went on for the other tools (`tool_counts`).
//!
//! The spec is `fixtures/manifest_base.json`.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::collections::BTreeMap;

use common::*;
use gojira_codegen::Output;

const HEADER: &str = "\
products:
  fx: {title: Fixture, spec: manifest_base.json, base_url: \"{api}\", auth: oauth}
groups:
  read_fx: {access: read, product: Fixture, description: Reads}
  write_fx: {access: write, product: Fixture, description: Writes}
  delete_fx: {access: delete, product: Fixture, description: Deletes}
tools:
  - name: fx.searchProjects
    operation: fx#searchProjects
    group: read_fx
    title: Search projects
    description: Search projects.
";

/// Line of the first tool a case appends (its `name:`).
const FIRST: usize = 13;
/// Column of a value after `  - name: `.
const NAME_COL: usize = 11;
/// Column of a value after `    operation: `.
const OPERATION_COL: usize = 16;
/// Column of a value after `    group: `.
const GROUP_COL: usize = 12;

fn spec() -> Vec<u8> {
    std::fs::read(fixtures_dir().join("manifest_base.json")).unwrap()
}

/// Generates `HEADER` + `tools`.
fn run(tools: &str) -> Output {
    let manifest = format!("{HEADER}{tools}");
    run_inline(&manifest, "manifest_base.json", &spec())
}

/// The error lines, in diagnostic order.
fn errors(out: &Output) -> Vec<String> {
    out.diagnostics
        .iter()
        .filter(|d| d.is_error())
        .map(ToString::to_string)
        .collect()
}

fn fx_tools(n: usize) -> BTreeMap<String, usize> {
    BTreeMap::from([("fx".to_owned(), n)])
}

/// Asserts the generated product module lists exactly these tools.
fn assert_tools(out: &Output, names: &[&str]) {
    assert_eq!(out.tool_counts, fx_tools(names.len()));
    let rs = file(out, "src/products/fx.rs");
    for name in names {
        assert!(
            rs.contains(&format!("name: \"{name}\",")),
            "{name} not generated"
        );
    }
    check_rust(out);
}

#[test]
fn header_is_valid_and_has_the_documented_length() {
    assert_eq!(HEADER.lines().count(), FIRST - 1);
    let out = run("");
    assert!(out.diagnostics.is_empty(), "{}", diagnostics_text(&out));
    assert_tools(&out, &["fx.searchProjects"]);
}

// ───────────────────────── Products ─────────────────────────
// A product's spec, base URL and auth kind are checked before any tool; the
// error points at the value (line 2 holds the product) and the product's
// tools still generate, except when its spec is missing.

/// Generates [`HEADER`] with its product line (line 2) replaced by `product`.
fn run_product(product: &str) -> Output {
    let manifest = HEADER.replacen(HEADER.lines().nth(1).unwrap(), product, 1);
    assert_eq!(manifest.lines().nth(1), Some(product));
    run_inline(&manifest, "manifest_base.json", &spec())
}

/// `tools.yaml:2:<column of value in line>: error: ` (1-based column).
fn at(line: &str, value: &str) -> String {
    format!("tools.yaml:2:{}: error: ", line.find(value).unwrap() + 1)
}

#[test]
fn product_base_url_placeholder_no_variable_fills() {
    let line = r#"  fx: {title: Fixture, spec: manifest_base.json, base_url: "{api}/jsm/assets/workspace/{workspace}/v1", auth: api_token}"#;
    let out = run_product(line);
    assert_eq!(
        errors(&out),
        [format!(
            "{}product fx: base_url \"{{api}}/jsm/assets/workspace/{{workspace}}/v1\" uses {{workspace}}, which no configuration variable fills; nearest: {{workspaceId}} (known: {{jira}}, {{confluence}}, {{api}}, {{cloudId}}, {{workspaceId}}, {{orgId}})",
            at(line, "\"{api}/jsm")
        )]
    );
    assert_tools(&out, &["fx.searchProjects"]);
}

#[test]
fn product_spec_must_be_recorded_in_sources() {
    let line = r#"  fx: {title: Fixture, spec: manifest_bse.json, base_url: "{api}", auth: oauth}"#;
    let out = run_product(line);
    assert_eq!(
        errors(&out),
        [format!(
            "{}product fx: spec file manifest_bse.json is not one of the specs specs/sources.yaml records; nearest: manifest_base.json. A new spec is recorded there first (file, product, url; then `cargo xtask fetch-specs --accept-drift` downloads it and records its sha256); recorded: manifest_base.json",
            at(line, "manifest_bse.json")
        )],
        "one error: the product's tools are skipped without noise"
    );
    assert!(out.tool_counts.is_empty(), "{:?}", out.tool_counts);
}

#[test]
fn product_base_url_with_a_literal_host() {
    let line = r#"  fx: {title: Fixture, spec: manifest_base.json, base_url: "https://api.atlassian.com/admin", auth: org_admin}"#;
    let out = run_product(line);
    assert_eq!(
        errors(&out),
        [format!(
            "{}product fx: base_url \"https://api.atlassian.com/admin\" starts with the literal \"https://api.atlassian.com/admin\"; start it with {{jira}}, {{confluence}}, {{api}} so that configuration decides the scheme and host (a literal host would take the credential where the operator configured nothing, and the sandbox could not redirect it)",
            at(line, "\"https:")
        )],
        "the auth kind is not judged against a base URL that is wrong already"
    );
    assert_tools(&out, &["fx.searchProjects"]);
}

#[test]
fn product_base_url_must_keep_the_configured_host() {
    for (base, problem) in [
        (
            "{cloudId}/rest",
            "starts with {cloudId}, which is not a scheme and host; start it with {jira}, {confluence}, {api}",
        ),
        (
            "{api}.example.com",
            "continues its root with \".example.com\", which would change the host; follow it with a path (`/…`) or nothing",
        ),
        (
            "{jira}/ex/{confluence}",
            "uses {confluence} after its start; it expands to a scheme and host, so it can only start a base URL",
        ),
        (
            "{jira}/wiki/",
            "ends with `/`; operation paths start with one, so the request would have `//`",
        ),
        (
            "{jira}/rest?x=1",
            "contains '?'; the operation's path is appended to the base URL, so it holds only a path",
        ),
        ("{jira/rest", "has a `{` that is never closed"),
    ] {
        let line = format!(
            r#"  fx: {{title: Fixture, spec: manifest_base.json, base_url: "{base}", auth: oauth}}"#
        );
        let out = run_product(&line);
        assert_eq!(
            errors(&out),
            [format!(
                "{}product fx: base_url {base:?} {problem}",
                at(&line, "\"{")
            )]
        );
        assert_tools(&out, &["fx.searchProjects"]);
    }
}

#[test]
fn org_admin_reaches_only_the_admin_api() {
    let line =
        r#"  fx: {title: Fixture, spec: manifest_base.json, base_url: "{api}", auth: org_admin}"#;
    let out = run_product(line);
    assert_eq!(
        errors(&out),
        [format!(
            "{}product fx: auth: org_admin sends the organization API key, and the runtime checks the caller's org-admin role below the base URL of an org_admin product (`/v2/orgs/{{orgId}}/…/role-assignments`), so an org_admin product's base_url is {{api}}/admin, not \"{{api}}\"",
            at(line, "org_admin")
        )]
    );
    assert_tools(&out, &["fx.searchProjects"]);
}

#[test]
fn only_org_admin_reaches_the_admin_api() {
    for auth in ["oauth", "api_token"] {
        let line = format!(
            r#"  fx: {{title: Fixture, spec: manifest_base.json, base_url: "{{api}}/admin/v1", auth: {auth}}}"#
        );
        let out = run_product(&line);
        assert_eq!(
            errors(&out),
            [format!(
                "{}product fx: base_url \"{{api}}/admin/v1\" is the organization admin API, which only the organization API key reaches, and the runtime sends it, checks the caller's org-admin role and writes the org-admin audit log only for products with auth: org_admin; use auth: org_admin (base_url {{api}}/admin)",
                at(&line, auth)
            )]
        );
        assert_tools(&out, &["fx.searchProjects"]);
    }
}

// ───────────────────────── YAML shape errors ─────────────────────────
// Unknown keys are rejected while deserializing, so the whole manifest fails:
// there is no "rest of the manifest" to generate.

#[test]
fn unknown_top_level_key() {
    let out = run("extra: 1\n");
    let errs = errors(&out);
    assert_eq!(errs.len(), 1, "{errs:?}");
    assert!(
        errs[0].starts_with(&format!("tools.yaml:{FIRST}:1: error: ")),
        "{errs:?}"
    );
    assert!(
        errs[0].contains("unknown field `extra`, expected one of products, groups, tools"),
        "{errs:?}"
    );
    assert!(out.files.is_empty());
    assert!(out.tool_counts.is_empty());
}

#[test]
fn unknown_tool_key() {
    let out = run("  - name: fx.getProject
    operation: fx#getProject
    group: read_fx
    title: Get project
    descripton: typo
");
    let errs = errors(&out);
    assert_eq!(errs.len(), 1, "{errs:?}");
    assert!(
        errs[0].starts_with(&format!("tools.yaml:{}:5: error: ", FIRST + 4)),
        "{errs:?}"
    );
    assert!(
        errs[0].contains("unknown field `descripton`, expected one of name, operation, group, title, description, read_only, destructive, hidden, params, cache, consent, snapshot, revert, impact, loose_body"),
        "{errs:?}"
    );
    assert!(out.files.is_empty());
    assert!(out.tool_counts.is_empty());
}

#[test]

fn yaml_error_message_is_not_doubled() {
    let out = run("extra: 1\n");
    assert_eq!(
        errors(&out),
        [format!(
            "tools.yaml:{FIRST}:1: error: unknown field `extra`, expected one of products, groups, tools"
        )]
    );
}

// ───────────────────────── operations ─────────────────────────

#[test]
fn unknown_operation_lists_nearest_matches() {
    let out = run("  - name: fx.getProjct
    operation: fx#getProjct
    group: read_fx
    title: Get project
    description: d
");
    assert_eq!(
        errors(&out),
        [format!(
            "tools.yaml:{}:{OPERATION_COL}: error [fx.getProjct]: unknown operation getProjct in manifest_base.json; nearest: getProject, createProject, deleteProject, searchProjects, archiveProject",
            FIRST + 1
        )]
    );
    assert_tools(&out, &["fx.searchProjects"]);
}

#[test]
fn unknown_method_path_lists_nearest_matches() {
    let out = run("  - name: fx.getProject
    operation: \"fx#GET /rest/api/3/projects/{projectIdOrKey}\"
    group: read_fx
    title: Get project
    description: d
");
    let errs = errors(&out);
    assert_eq!(errs.len(), 1, "{errs:?}");
    assert!(
        errs[0].starts_with(&format!(
            "tools.yaml:{}:{OPERATION_COL}: error [fx.getProject]: unknown operation GET /rest/api/3/projects/{{projectIdOrKey}} in manifest_base.json; nearest: GET /rest/api/3/project/{{projectIdOrKey}}, ",
            FIRST + 1
        )),
        "{errs:?}"
    );
    assert_tools(&out, &["fx.searchProjects"]);
}

#[test]
fn unknown_product() {
    let out = run("  - name: fx.getProject
    operation: jira#getProject
    group: read_fx
    title: Get project
    description: d
");
    assert_eq!(
        errors(&out),
        [format!(
            "tools.yaml:{}:{OPERATION_COL}: error [fx.getProject]: unknown product \"jira\"; declared products: fx",
            FIRST + 1
        )]
    );
    assert_tools(&out, &["fx.searchProjects"]);
}

#[test]
fn operation_without_product() {
    let out = run("  - name: fx.getProject
    operation: getProject
    group: read_fx
    title: Get project
    description: d
");
    assert_eq!(
        errors(&out),
        [format!(
            "tools.yaml:{}:{OPERATION_COL}: error [fx.getProject]: operation must be `product#operationId` or `product#METHOD /path`",
            FIRST + 1
        )]
    );
    assert_tools(&out, &["fx.searchProjects"]);
}

// ───────────────────────── tool names ─────────────────────────

#[test]
fn duplicate_tool_name_points_at_the_second_occurrence() {
    let out = run("  - name: fx.searchProjects
    operation: fx#getProject
    group: read_fx
    title: Get project
    description: d
  - name: fx.getProject
    operation: fx#getProject
    group: read_fx
    title: Get project
    description: d
");
    assert_eq!(
        errors(&out),
        [format!(
            "tools.yaml:{FIRST}:{NAME_COL}: error [fx.searchProjects]: duplicate tool name fx.searchProjects (first declared on line 8)"
        )]
    );
    // The first fx.searchProjects (line 8) is kept, and the tool after the duplicate is generated.
    assert_tools(&out, &["fx.searchProjects", "fx.getProject"]);
    let rs = file(&out, "src/products/fx.rs");
    assert_eq!(rs.matches("name: \"fx.searchProjects\",").count(), 1);
    assert!(rs.contains("operation: \"fx#searchProjects\","));
}

#[test]
fn tool_name_longer_than_60_characters() {
    let long = format!("fx.{}", "a".repeat(58)); // 61 characters
    let out = run(&format!(
        "  - name: {long}
    operation: fx#getProject
    group: read_fx
    title: Get project
    description: d
  - name: fx.{}
    operation: fx#getProject
    group: read_fx
    title: Get project
    description: d
",
        "b".repeat(57) // exactly 60: accepted
    ));
    assert_eq!(
        errors(&out),
        [format!(
            "tools.yaml:{FIRST}:{NAME_COL}: error [{long}]: tool name \"{long}\" is 61 characters; MCP hosts accept at most 60"
        )]
    );
    let sixty = format!("fx.{}", "b".repeat(57));
    assert_tools(&out, &["fx.searchProjects", &sixty]);
}

#[test]
fn tool_name_with_space_or_slash() {
    let out = run("  - name: fx.get project
    operation: fx#getProject
    group: read_fx
    title: Get project
    description: d
  - name: fx/getProject
    operation: fx#getProject
    group: read_fx
    title: Get project
    description: d
  - name: fx.get-project_2
    operation: fx#getProject
    group: read_fx
    title: Get project
    description: d
");
    assert_eq!(
        errors(&out),
        [
            format!(
                "tools.yaml:{FIRST}:{NAME_COL}: error [fx.get project]: tool name \"fx.get project\" contains ' '; use only [A-Za-z0-9_.-]"
            ),
            format!(
                "tools.yaml:{}:{NAME_COL}: error [fx/getProject]: tool name \"fx/getProject\" contains '/'; use only [A-Za-z0-9_.-]",
                FIRST + 5
            ),
        ]
    );
    assert_tools(&out, &["fx.searchProjects", "fx.get-project_2"]);
}

// ───────────────────────── groups and access ─────────────────────────

#[test]
fn unknown_group_lists_declared_groups() {
    let out = run("  - name: fx.getProject
    operation: fx#getProject
    group: read_projects
    title: Get project
    description: d
");
    assert_eq!(
        errors(&out),
        [format!(
            "tools.yaml:{}:{GROUP_COL}: error [fx.getProject]: unknown group \"read_projects\"; declared groups: delete_fx, read_fx, write_fx",
            FIRST + 2
        )]
    );
    assert_tools(&out, &["fx.searchProjects"]);
}

#[test]
fn delete_in_a_read_group() {
    let out = run("  - name: fx.deleteProject
    operation: fx#deleteProject
    group: read_fx
    title: Delete project
    description: d
");
    assert_eq!(
        errors(&out),
        [format!(
            "tools.yaml:{}:{GROUP_COL}: error [fx.deleteProject]: a DELETE (DELETE /rest/api/3/project/{{projectIdOrKey}} (x-atlassian-connect-scope DELETE)) cannot be in read group read_fx",
            FIRST + 2
        )]
    );
    assert_tools(&out, &["fx.searchProjects"]);
}

#[test]
fn get_in_a_write_group() {
    let out = run("  - name: fx.getProject
    operation: fx#getProject
    group: write_fx
    title: Get project
    description: d
");
    assert_eq!(
        errors(&out),
        [format!(
            "tools.yaml:{}:{GROUP_COL}: error [fx.getProject]: GET /rest/api/3/project/{{projectIdOrKey}} (x-atlassian-connect-scope READ) only reads; put it in a read group",
            FIRST + 2
        )]
    );
    assert_tools(&out, &["fx.searchProjects"]);
}

#[test]
fn post_without_read_only_in_a_read_group() {
    let out = run("  - name: fx.searchPost
    operation: fx#searchProjectsUsingPost
    group: read_fx
    title: Search projects (POST)
    description: d
");
    assert_eq!(
        errors(&out),
        [format!(
            "tools.yaml:{}:{GROUP_COL}: error [fx.searchPost]: POST /rest/api/3/project/search (x-atlassian-connect-scope READ) writes, but group read_fx is read-only; move it to a write group, or set read_only: true if it only reads",
            FIRST + 2
        )]
    );
    assert_tools(&out, &["fx.searchProjects"]);
}

/// `manifest_base.json` plus two POSTs that only read, labelled as Atlassian
/// labels such operations (`readWorkflowSchemes` is ADMIN, `getChangeLogsByIds`
/// WRITE): the label names a permission, not what the operation does.
fn spec_with_reading_posts() -> Vec<u8> {
    let mut spec: serde_json::Value = serde_json::from_slice(&spec()).unwrap();
    let paths = spec["paths"].as_object_mut().unwrap();
    for (path, id, scope) in [
        ("/rest/api/3/project/read", "readProjects", "ADMIN"),
        ("/rest/api/3/project/list", "getProjectsByIds", "WRITE"),
    ] {
        paths.insert(
            path.to_owned(),
            serde_json::json!({"post": {
                "operationId": id,
                "requestBody": {"required": true, "content": {"application/json": {"schema": {
                    "type": "object",
                    "properties": {"ids": {"type": "array", "items": {"type": "string"}}}
                }}}},
                "responses": {"200": {"description": "OK", "content": {"application/json": {"schema": {
                    "type": "object", "properties": {"values": {"type": "array", "items": {"type": "object"}}}
                }}}}},
                "x-atlassian-connect-scope": scope
            }}),
        );
    }
    serde_json::to_vec(&spec).unwrap()
}

fn run_with_reading_posts(tools: &str) -> Output {
    let manifest = format!("{HEADER}{tools}");
    run_inline(&manifest, "manifest_base.json", &spec_with_reading_posts())
}

#[test]
fn read_only_post_is_a_read_whatever_its_scope_label() {
    let out = run_with_reading_posts(
        "  - name: fx.readProjects
    operation: fx#readProjects
    group: read_fx
    read_only: true
    title: Read projects
    description: d
  - name: fx.getProjectsByIds
    operation: fx#getProjectsByIds
    group: read_fx
    read_only: true
    title: Get projects by id
    description: d
  - name: fx.searchPost
    operation: fx#searchProjectsUsingPost
    group: read_fx
    read_only: true
    title: Search projects (POST)
    description: d
",
    );
    assert_eq!(errors(&out), Vec::<String>::new());
    assert_tools(
        &out,
        &[
            "fx.searchProjects",
            "fx.readProjects",
            "fx.getProjectsByIds",
            "fx.searchPost",
        ],
    );
    // Read-only (readOnlyHint true), no safety declarations, for all four.
    let rs = file(&out, "src/products/fx.rs");
    assert_eq!(rs.matches("read_only: true").count(), 4, "{rs}");
    assert_eq!(rs.matches("safety: None").count(), 4, "{rs}");
}

#[test]
fn read_only_is_checked_against_what_the_operation_does() {
    let out = run_with_reading_posts(
        "  - name: fx.deleteProject
    operation: fx#deleteProject
    group: delete_fx
    read_only: true
    title: Delete project
    description: d
    consent: commit
    revert: {irreversible: gone}
  - name: fx.readProjects
    operation: fx#readProjects
    group: write_fx
    read_only: true
    title: Read projects
    description: d
  - name: fx.readAgain
    operation: fx#readProjects
    group: read_fx
    read_only: true
    title: Read projects
    description: d
    consent: none
    revert: {irreversible: reads}
  - name: fx.searchWrite
    operation: fx#searchProjectsUsingPost
    group: write_fx
    title: Search projects (POST)
    description: d
    consent: none
    revert: {irreversible: a POST without read_only is a write}
",
    );
    assert_eq!(
        errors(&out),
        [
            format!(
                "tools.yaml:{}:{GROUP_COL}: error [fx.deleteProject]: read_only: true cannot mark a DELETE (DELETE /rest/api/3/project/{{projectIdOrKey}} (x-atlassian-connect-scope DELETE)); it is for a POST that only reads",
                FIRST + 2
            ),
            format!(
                "tools.yaml:{}:{GROUP_COL}: error [fx.readProjects]: POST /rest/api/3/project/read (x-atlassian-connect-scope ADMIN) is marked read_only: true, so it only reads; put it in a read group",
                FIRST + 10
            ),
            format!(
                "tools.yaml:{}:{NAME_COL}: error [fx.readAgain]: consent, snapshot, revert and impact are for writing tools; this tool only reads",
                FIRST + 14
            ),
        ]
    );
    // A POST without read_only is a write, even one the spec labels READ.
    assert_tools(&out, &["fx.searchProjects", "fx.searchWrite"]);
}

// ───────────────────────── params overrides ─────────────────────────

#[test]
fn params_override_naming_no_parameter_lists_the_real_ones() {
    let out = run("  - name: fx.getProject
    operation: fx#getProject
    group: read_fx
    title: Get project
    description: d
    params:
      projectKey: {description: x}
  - name: fx.createProject
    operation: fx#createProject
    group: write_fx
    title: Create project
    description: d
    params:
      body.title: {hide: true}
    consent: none
    revert: {irreversible: fixture}
");
    assert_eq!(
        errors(&out),
        [
            format!(
                "tools.yaml:{FIRST}:{NAME_COL}: error [fx.getProject]: params.projectKey names no parameter of fx#getProject; parameters: projectIdOrKey, view, expand"
            ),
            format!(
                "tools.yaml:{}:{NAME_COL}: error [fx.createProject]: params.body.title names no parameter of fx#createProject; parameters: body.key, body.name",
                FIRST + 7
            ),
        ]
    );
    assert_tools(&out, &["fx.searchProjects"]);
}

#[test]
fn hide_on_a_required_parameter_without_default() {
    let out = run("  - name: fx.getProject
    operation: fx#getProject
    group: read_fx
    title: Get project
    description: d
    params:
      view: {hide: true}
  - name: fx.getProjectDefaultView
    operation: fx#getProject
    group: read_fx
    title: Get project
    description: d
    params:
      view: {hide: true, default: summary}
");
    assert_eq!(
        errors(&out),
        [format!(
            "tools.yaml:{FIRST}:{NAME_COL}: error [fx.getProject]: params.view: a required parameter can be hidden only with a default"
        )]
    );
    // With a default the hidden parameter becomes a fixed query value.
    assert_tools(&out, &["fx.searchProjects", "fx.getProjectDefaultView"]);
    let rs = file(&out, "src/products/fx.rs");
    assert!(rs.contains(r#"request.query("view", &"summary", true)?;"#));
}

#[test]
fn rename_colliding_with_another_argument() {
    let out = run("  - name: fx.getProject
    operation: fx#getProject
    group: read_fx
    title: Get project
    description: d
    params:
      expand: {rename: projectIdOrKey}
  - name: fx.getProjectRenamed
    operation: fx#getProject
    group: read_fx
    title: Get project
    description: d
    params:
      projectIdOrKey: {rename: project}
");
    assert_eq!(
        errors(&out),
        [format!(
            "tools.yaml:{FIRST}:{NAME_COL}: error [fx.getProject]: argument name \"projectIdOrKey\" is used twice; rename one in params"
        )]
    );
    assert_tools(&out, &["fx.searchProjects", "fx.getProjectRenamed"]);
    let input = json_file(&out, "schemas/fx/fx.getProjectRenamed.input.json");
    assert!(input.pointer("/properties/project").is_some(), "{input}");
}

#[test]
fn body_property_rename_is_rejected() {
    let out = run("  - name: fx.createProject
    operation: fx#createProject
    group: write_fx
    title: Create project
    description: d
    params:
      body.key: {rename: projectKey}
    consent: none
    revert: {irreversible: fixture}
");
    assert_eq!(
        errors(&out),
        [format!(
            "tools.yaml:{FIRST}:{NAME_COL}: error [fx.createProject]: params.body.key: body properties support only hide and description"
        )]
    );
    assert_tools(&out, &["fx.searchProjects"]);
}

#[test]
fn non_scalar_default() {
    let out = run("  - name: fx.searchList
    operation: fx#searchProjects
    group: read_fx
    title: Search
    description: d
    params:
      maxResults: {default: [1, 2]}
  - name: fx.searchMap
    operation: fx#searchProjects
    group: read_fx
    title: Search
    description: d
    params:
      query: {default: {a: 1}}
  - name: fx.searchScalar
    operation: fx#searchProjects
    group: read_fx
    title: Search
    description: d
    params:
      maxResults: {default: 25}
");
    assert_eq!(
        errors(&out),
        [
            format!(
                "tools.yaml:{FIRST}:{NAME_COL}: error [fx.searchList]: params.maxResults.default must be a string, number or boolean"
            ),
            format!(
                "tools.yaml:{}:{NAME_COL}: error [fx.searchMap]: params.query.default must be a string, number or boolean",
                FIRST + 7
            ),
        ]
    );
    assert_tools(&out, &["fx.searchProjects", "fx.searchScalar"]);
    let rs = file(&out, "src/products/fx.rs");
    assert!(rs.contains(r#"request.query_or("maxResults", &self.max_results, &25i64, true)?;"#));
}

#[test]
fn several_errors_in_one_manifest_are_all_reported() {
    let out = run("  - name: fx.deleteProject
    operation: fx#deleteProject
    group: read_fx
    title: Delete project
    description: d
    consent: commit
    revert: {irreversible: fixture}
  - name: fx.getProject
    operation: fx#getProject
    group: read_fx
    title: Get project
    description: d
  - name: fx.bad name
    operation: fx#nope
    group: nope
    title: t
    description: d
  - name: fx.deleteProjectOk
    operation: fx#deleteProject
    group: delete_fx
    title: Delete project
    description: d
    consent: commit
    revert: {irreversible: fixture}
");
    let errs = errors(&out);
    assert_eq!(errs.len(), 3, "{errs:?}");
    assert_diagnostic_containing(&out, &["tools.yaml:15:12: error [fx.deleteProject]"]);
    assert_diagnostic_containing(&out, &["tools.yaml:25:11: error [fx.bad name]", "' '"]);
    assert_diagnostic_containing(
        &out,
        &["tools.yaml:27:12: error [fx.bad name]", "unknown group"],
    );
    assert_tools(
        &out,
        &["fx.searchProjects", "fx.getProject", "fx.deleteProjectOk"],
    );
}

// ───────────────────────── spec files ─────────────────────────

#[test]
fn spec_that_is_not_openapi_is_reported() {
    let out = run_inline(HEADER, "manifest_base.json", br#"{"openapi": "3.0.1"}"#);
    assert_diagnostic_containing(
        &out,
        &[
            "manifest_base.json#: error: manifest_base.json is not an OpenAPI 3.0 document: missing field",
        ],
    );
    assert!(out.tool_counts.is_empty());
}

#[test]

fn spec_that_fails_to_load_is_reported_once() {
    let out = run_inline(HEADER, "manifest_base.json", br#"{"openapi": "3.0.1"}"#);
    let lines = diagnostic_lines(&out);
    assert!(
        lines.iter().all(|l| !l.contains("was not found")),
        "the spec was found; it failed to parse: {lines:?}"
    );
    assert!(
        lines.iter().all(|l| !l.contains("unknown product")),
        "fx is a declared product: {lines:?}"
    );
}

#[test]
fn cache_only_on_read_only_tools_and_within_bounds() {
    let out = run("  - name: fx.createProject
    operation: fx#createProject
    group: write_fx
    cache: 60
    title: t
    description: d
    consent: none
    revert: {irreversible: fixture}
  - name: fx.getProject
    operation: fx#getProject
    group: read_fx
    cache: 0
    title: t
    description: d
  - name: fx.getProjectCached
    operation: fx#getProject
    group: read_fx
    cache: 60
    title: t
    description: d
");
    assert_eq!(
        errors(&out),
        [
            format!(
                "tools.yaml:{FIRST}:{NAME_COL}: error [fx.createProject]: cache is allowed on read-only tools only (a cached write would not happen)"
            ),
            format!(
                "tools.yaml:{}:{NAME_COL}: error [fx.getProject]: cache: 0 must be between 1 and 3600 seconds",
                FIRST + 8
            ),
        ]
    );
    assert_tools(&out, &["fx.searchProjects", "fx.getProjectCached"]);
    let rs = out
        .files
        .iter()
        .find(|f| f.path == "src/products/fx.rs")
        .unwrap();
    assert!(
        rs.contents.contains("cache_ttl_s: Some(60u32)"),
        "the TTL reaches the catalog"
    );
}

// ───────────────────────── safe writes ─────────────────────────

#[test]
fn writes_must_declare_consent_and_revert_and_deletes_need_commit() {
    let out = run("  - name: fx.createProject
    operation: fx#createProject
    group: write_fx
    title: t
    description: d
  - name: fx.deleteProject
    operation: fx#deleteProject
    group: delete_fx
    title: t
    description: d
    consent: none
    revert: {irreversible: gone}
  - name: fx.getProject
    operation: fx#getProject
    group: read_fx
    title: t
    description: d
    consent: commit
");
    assert_eq!(
        errors(&out),
        [
            format!(
                "tools.yaml:{FIRST}:{NAME_COL}: error [fx.createProject]: a writing tool must declare consent (none or commit) and revert (tool + args, or irreversible: reason)"
            ),
            format!(
                "tools.yaml:{}:14: error [fx.deleteProject]: a destructive tool needs consent: commit",
                FIRST + 10
            ),
            format!(
                "tools.yaml:{}:{NAME_COL}: error [fx.getProject]: consent, snapshot, revert and impact are for writing tools; this tool only reads",
                FIRST + 12
            ),
        ]
    );
}

#[test]
fn revert_takes_a_tool_or_a_reason_not_both() {
    let out = run("  - name: fx.deleteProject
    operation: fx#deleteProject
    group: delete_fx
    title: t
    description: d
    consent: commit
    revert: {tool: fx.createProject, irreversible: because}
");
    assert_eq!(
        errors(&out),
        [format!(
            "tools.yaml:{FIRST}:{NAME_COL}: error [fx.deleteProject]: revert takes exactly one of: tool (with args), steps (a list of {{tool, args}}, run in order), or irreversible: <reason>"
        )]
    );
}

#[test]
fn mappings_naming_missing_tools_arguments_or_fields_are_diagnostics() {
    let out = run("  - name: fx.getProject
    operation: fx#getProject
    group: read_fx
    title: t
    description: d
  - name: fx.createProject
    operation: fx#createProject
    group: write_fx
    title: t
    description: d
    consent: none
    revert: {tool: fx.deleteProject, args: {projectIdOrKey: \"result.nope\", extra: \"1\"}}
  - name: fx.deleteProject
    operation: fx#deleteProject
    group: delete_fx
    title: t
    description: d
    consent: commit
    snapshot: {tool: fx.getProject, args: {projectIdOrKey: \"args.project\"}}
    revert: {tool: fx.createProject, args: {body: {name: \"snapshot.name\", key: \"snapshot.key +\", color: \"1\"}}}
  - name: fx.deleteAgain
    operation: fx#deleteProject
    group: delete_fx
    title: t
    description: d
    consent: commit
    snapshot: {tool: fx.createProject}
    revert: {tool: fx.nope}
");
    let errs = errors(&out);
    let expect = [
        "error [fx.createProject]: revert.args.extra: fx.deleteProject takes no argument \"extra\"",
        "error [fx.deleteProject]: snapshot.args.projectIdOrKey: \"args.project\" reads args.project, which does not exist; args has: projectIdOrKey",
        "error [fx.deleteProject]: revert.args.body.key: \"snapshot.key +\" is not a valid expression",
        "error [fx.deleteProject]: revert.args.body.color: no such property",
        "error [fx.deleteProject]: snapshot.args: fx.getProject needs argument \"view\"",
        "error [fx.deleteAgain]: snapshot.tool fx.createProject must be a read-only tool",
        "error [fx.deleteAgain]: revert.tool fx.nope is not a tool in tools.yaml",
    ];
    for e in expect {
        assert!(
            errs.iter().any(|l| l.contains(e)),
            "missing {e:?} in {errs:#?}"
        );
    }
    assert_eq!(errs.len(), expect.len(), "{errs:#?}");
}

/// An impact (blast radius) declaration is checked like a snapshot: its
/// reads exist and only read, its mappings name real arguments and fields and
/// use registered names, a refusal names a writing tool to resolve it, and
/// only writes declare one.
#[test]
fn bad_impact_declarations_are_diagnostics() {
    let out = run("  - name: fx.getProject
    operation: fx#getProject
    group: read_fx
    title: t
    description: d
  - name: fx.readAgain
    operation: fx#getProject
    group: read_fx
    title: t
    description: d
    impact: {tool: fx.searchProjects}
  - name: fx.createProject
    operation: fx#createProject
    group: write_fx
    title: t
    description: d
    consent: none
    revert: {tool: fx.deleteProject, args: {projectIdOrKey: \"result.id\"}}
  - name: fx.deleteProject
    operation: fx#deleteProject
    group: delete_fx
    title: t
    description: d
    consent: commit
    revert: {irreversible: gone}
    impact:
      tool: fx.createProject
      refuse_when_used: true
      resolve_with: fx.searchProjects
  - name: fx.deleteAgain
    operation: fx#deleteProject
    group: delete_fx
    title: t
    description: d
    consent: commit
    revert: {irreversible: gone}
    impact:
      tool: fx.searchProjects
      args: {query: \"args.project\", nope: \"1\"}
      pick: \"response.valuez\"
      each:
        tool: fx.getProject
        args: {projectIdOrKey: \"item.key\", view: \"snapshot.view\"}
        keep: \"response.id == args.projectIdOrKey | uper\"
      refuse_when_used: true
      resolve_with: fx.nope
  - name: fx.deleteThird
    operation: fx#deleteProject
    group: delete_fx
    title: t
    description: d
    consent: commit
    revert: {irreversible: gone}
    impact: {tool: fx.searchProjects, refuse_when_used: true}
");
    let errs = errors(&out);
    let expect = [
        "error [fx.readAgain]: consent, snapshot, revert and impact are for writing tools; this tool only reads",
        "error [fx.deleteThird]: impact.refuse_when_used: true needs impact.resolve_with",
        "error [fx.deleteProject]: impact.tool fx.createProject must be a read-only tool",
        "error [fx.deleteProject]: impact.resolve_with fx.searchProjects must be a writing tool",
        "error [fx.deleteAgain]: impact.args.nope: fx.searchProjects takes no argument \"nope\"",
        "error [fx.deleteAgain]: impact.args.query: \"args.project\" reads args.project, which does not exist; args has: projectIdOrKey",
        "error [fx.deleteAgain]: impact.pick: \"response.valuez\" reads response.valuez, which does not exist",
        "error [fx.deleteAgain]: impact.each.args.view: \"snapshot.view\" reads \"snapshot\"; it may read only item, args",
        "error [fx.deleteAgain]: impact.each.keep: \"response.id == args.projectIdOrKey | uper\" uses filter \"uper\", which the runtime does not register",
        "error [fx.deleteAgain]: impact.resolve_with fx.nope is not a tool in tools.yaml",
    ];
    for e in expect {
        assert!(
            errs.iter().any(|l| l.contains(e)),
            "missing {e:?} in {errs:#?}"
        );
    }
    assert_eq!(errs.len(), expect.len(), "{errs:#?}");
}

/// A well-formed impact declaration generates, and is carried in the tool's
/// safety JSON for the runtime.
#[test]
fn impact_declarations_reach_the_catalog() {
    let out = run("  - name: fx.getProject
    operation: fx#getProject
    group: read_fx
    title: t
    description: d
  - name: fx.createProject
    operation: fx#createProject
    group: write_fx
    title: t
    description: d
    consent: none
    revert: {tool: fx.deleteProject, args: {projectIdOrKey: \"result.id\"}}
  - name: fx.deleteProject
    operation: fx#deleteProject
    group: delete_fx
    title: t
    description: d
    consent: commit
    revert: {irreversible: gone}
    impact:
      tool: fx.searchProjects
      args: {query: \"args.projectIdOrKey\"}
      pick: \"response['values']\"
      each:
        tool: fx.getProject
        args: {projectIdOrKey: \"item.key\", view: \"'full'\"}
        keep: \"response.id == args.projectIdOrKey\"
      refuse_when_used: true
      resolve_with: fx.createProject
");
    assert!(errors(&out).is_empty(), "{:#?}", errors(&out));
    let rs = file(&out, "src/products/fx.rs");
    assert!(
        rs.contains(r#"\"impact\":{\"tool\":\"fx.searchProjects\""#)
            && rs.contains(r#"\"refuse_when_used\":true,\"resolve_with\":\"fx.createProject\""#),
        "{rs}"
    );
}

/// A filter, test or function the runtime does not register would make the
/// write fail on every call; regen names it and the nearest known names.
#[test]
fn mappings_using_unknown_filters_tests_or_functions_are_diagnostics() {
    let out = run("  - name: fx.getProject
    operation: fx#getProject
    group: read_fx
    title: t
    description: d
  - name: fx.createProject
    operation: fx#createProject
    group: write_fx
    title: t
    description: d
    consent: none
    revert: {tool: fx.deleteProject, args: {projectIdOrKey: \"result.id | integer\"}}
  - name: fx.deleteProject
    operation: fx#deleteProject
    group: delete_fx
    title: t
    description: d
    consent: commit
    snapshot:
      tool: fx.getProject
      args: {projectIdOrKey: \"args.projectIdOrKey\", view: \"'full' if args.projectIdOrKey is strng else none\"}
      pick: \"response.items | selectattr('id', 'equalsto', 1) | map('uper') | first\"
    revert: {tool: fx.createProject, args: {body: {key: \"lenght(snapshot.key)\", name: \"range(3) | join(',') if snapshot.key is not none else snapshot.name.lower()\"}}}
");
    let consent = |line: usize| format!("tools.yaml:{}:14: error", FIRST + line);
    let pick = "\"response.items | selectattr('id', 'equalsto', 1) | map('uper') | first\"";
    assert_eq!(
        errors(&out),
        [
            format!(
                "{} [fx.createProject]: revert.args.projectIdOrKey: \"result.id | integer\" uses filter \"integer\", which the runtime does not register (integer is a test: `x is integer`); nearest filters: int",
                consent(10)
            ),
            format!(
                "{} [fx.deleteProject]: revert.args.body.key: \"lenght(snapshot.key)\" uses function \"lenght\", which the runtime does not register (did you mean the filter length: `x | length`?); the functions are debug, dict, namespace, range",
                consent(17)
            ),
            format!(
                "{} [fx.deleteProject]: snapshot.args.view: \"'full' if args.projectIdOrKey is strng else none\" uses test \"strng\", which the runtime does not register; nearest tests: string, startingwith",
                consent(17)
            ),
            format!(
                "{} [fx.deleteProject]: snapshot.pick: {pick} uses filter \"uper\", which the runtime does not register; nearest filters: upper",
                consent(17)
            ),
            format!(
                "{} [fx.deleteProject]: snapshot.pick: {pick} uses test \"equalsto\", which the runtime does not register; nearest tests: equalto, eq",
                consent(17)
            ),
        ]
    );
}

#[test]
fn mappings_may_use_what_the_runtime_registers() {
    let out = run("  - name: fx.getProject
    operation: fx#getProject
    group: read_fx
    title: t
    description: d
  - name: fx.createProject
    operation: fx#createProject
    group: write_fx
    title: t
    description: d
    consent: none
    revert: {tool: fx.deleteProject, args: {projectIdOrKey: \"result.id | int | string\"}}
  - name: fx.deleteProject
    operation: fx#deleteProject
    group: delete_fx
    title: t
    description: d
    consent: commit
    snapshot:
      tool: fx.getProject
      args: {projectIdOrKey: \"args.projectIdOrKey\", view: \"'full' if args.projectIdOrKey is not none and args.projectIdOrKey is string else 'x'\"}
      pick: \"response['items'] | selectattr('id', 'equalto', 1) | rejectattr('x', '==', 2) | select('defined') | map('upper') | map(attribute='k') | first\"
    revert: {tool: fx.createProject, args: {body: {key: \"snapshot.key.lower() if (snapshot.key) else dict(a=1).a\", name: \"range(3) | join(',') if not (snapshot.key in ('A', 'B')) else snapshot.name | default('n')\"}}}
");
    assert!(errors(&out).is_empty(), "{:#?}", errors(&out));
    assert_tools(
        &out,
        &[
            "fx.searchProjects",
            "fx.getProject",
            "fx.createProject",
            "fx.deleteProject",
        ],
    );
}

#[test]
fn loose_body_must_be_needed() {
    // A loose_body that excuses nothing (a fully typed body, or no body at
    // all) is an error, so the declaration cannot outlive the shape it was for.
    let out = run("  - name: fx.createProject
    operation: fx#createProject
    group: write_fx
    title: Create project
    description: d
    loose_body: \"not needed\"
    consent: none
    revert: {irreversible: fixture}
  - name: fx.getProject
    operation: fx#getProject
    group: read_fx
    title: Get project
    description: d
    loose_body: \"no body here\"
");
    assert_eq!(
        errors(&out),
        [
            format!(
                "tools.yaml:{FIRST}:{NAME_COL}: error [fx.createProject]: loose_body is declared but the request body of fx#createProject is fully typed; remove loose_body"
            ),
            format!(
                "tools.yaml:{}:{NAME_COL}: error [fx.getProject]: loose_body is declared but fx#getProject has no JSON request body; remove loose_body",
                FIRST + 8
            ),
        ]
    );
    assert_tools(&out, &["fx.searchProjects"]);
}

#[test]
fn nested_body_override_must_name_a_field() {
    let out = run("  - name: fx.createProject
    operation: fx#createProject
    group: write_fx
    title: Create project
    description: d
    params:
      body.key.length: {description: x}
    consent: none
    revert: {irreversible: fixture}
");
    assert_eq!(
        errors(&out),
        [format!(
            "tools.yaml:{FIRST}:{NAME_COL}: error [fx.createProject]: params.body.key.length names no field of the request body of fx#createProject"
        )]
    );
    assert_tools(&out, &["fx.searchProjects"]);
}

/// The tools of the `hidden` and `steps` cases: a create whose inverse is a
/// two-call sequence (archive, then delete), the delete being catalog-only.
const SEQUENCE_TOOLS: &str = "  - name: fx.createProject
    operation: fx#createProject
    group: write_fx
    title: t
    description: d
    consent: none
    revert:
      steps:
        - {tool: fx.archiveProject, args: {projectIdOrKey: \"result.id | string\"}}
        - {tool: fx.deleteProject, args: {projectIdOrKey: \"result.id | string\"}}
  - name: fx.archiveProject
    operation: fx#archiveProject
    group: write_fx
    title: t
    description: d
    consent: commit
    revert: {irreversible: fixture}
  - name: fx.deleteProject
    operation: fx#deleteProject
    group: delete_fx
    hidden: true
    title: t
    description: x
    consent: commit
    revert: {irreversible: fixture}
";

#[test]
fn a_hidden_tool_is_generated_marked_and_a_sequence_is_one_revert() {
    let out = run(SEQUENCE_TOOLS);
    assert_eq!(errors(&out), Vec::<String>::new());
    assert_tools(
        &out,
        &[
            "fx.searchProjects",
            "fx.createProject",
            "fx.archiveProject",
            "fx.deleteProject",
        ],
    );
    let rs = file(&out, "src/products/fx.rs");
    assert_eq!(rs.matches("hidden: true").count(), 1, "{rs}");
    assert_eq!(rs.matches("hidden: false").count(), 3, "{rs}");
    let hidden_at = rs.find("hidden: true").unwrap();
    let delete_at = rs.find("name: \"fx.deleteProject\"").unwrap();
    assert!(delete_at < hidden_at, "hidden: true is not deleteProject's");
    // The sequence goes into the catalog in the shape the runtime reads.
    assert!(
        rs.contains(r#"\"revert\":{\"steps\":{\"steps\":[{\"tool\":\"fx.archiveProject\""#),
        "{rs}"
    );
    let catalog = file(&out, "CATALOG.md");
    assert!(
        catalog.contains("3 tools over 1 products, plus 1 hidden"),
        "{catalog}"
    );
    assert!(
        catalog
            .lines()
            .any(|l| l.starts_with("| `fx.deleteProject`") && l.contains("**hidden**")),
        "{catalog}"
    );
}

#[test]
fn a_hidden_tool_nothing_names_is_an_error() {
    let out = run("  - name: fx.deleteProject
    operation: fx#deleteProject
    group: delete_fx
    hidden: true
    title: t
    description: d
    consent: commit
    revert: {irreversible: fixture}
");
    assert_eq!(
        errors(&out),
        [format!(
            "tools.yaml:{FIRST}:{NAME_COL}: error [fx.deleteProject]: fx.deleteProject is hidden but no snapshot or revert names it, so nothing could ever call it; remove hidden: true, or name it in another tool's revert"
        )]
    );
}

#[test]
fn revert_steps_are_checked_like_a_single_revert() {
    let out = run(&SEQUENCE_TOOLS
        .replace(
            "{tool: fx.deleteProject, args: {projectIdOrKey: \"result.id | string\"}}",
            "{tool: fx.deleteProject, args: {projectIdOrKey: \"result.nope\", extra: \"1\"}}",
        )
        .replace(
            "{tool: fx.archiveProject, args:",
            "{tool: fx.getProject, args:",
        ));
    let errs = errors(&out);
    let expect = [
        "error [fx.createProject]: revert.steps[0].tool fx.getProject is not a tool in tools.yaml",
        "error [fx.createProject]: revert.steps[1].args.extra: fx.deleteProject takes no argument \"extra\"",
    ];
    for e in expect {
        assert!(
            errs.iter().any(|l| l.contains(e)),
            "missing {e:?} in {errs:#?}"
        );
    }
    let one_step = run("  - name: fx.createProject
    operation: fx#createProject
    group: write_fx
    title: t
    description: d
    consent: none
    revert:
      steps: [{tool: fx.archiveProject, args: {projectIdOrKey: \"result.id | string\"}}]
");
    assert_eq!(
        errors(&one_step),
        [format!(
            "tools.yaml:{FIRST}:{NAME_COL}: error [fx.createProject]: revert.steps has one step; write it as revert: {{tool, args}}"
        )]
    );
    let both = run("  - name: fx.archiveProject
    operation: fx#archiveProject
    group: write_fx
    title: t
    description: d
    consent: commit
    revert:
      tool: fx.createProject
      steps: [{tool: fx.createProject}, {tool: fx.createProject}]
");
    assert_eq!(
        errors(&both),
        [format!(
            "tools.yaml:{FIRST}:{NAME_COL}: error [fx.archiveProject]: revert takes exactly one of: tool (with args), steps (a list of {{tool, args}}, run in order), or irreversible: <reason>"
        )]
    );
}

/// A required list parameter sent empty is no parameter at all (Atlassian
/// answers 400 "missing"), so its schema needs at least one item; a list
/// that says its own minimum keeps it.
#[test]
fn required_list_parameters_need_an_item() {
    let mut spec: serde_json::Value = serde_json::from_slice(&spec()).unwrap();
    spec["paths"]["/rest/api/3/project/search"]["get"]["parameters"] = serde_json::json!([
        {"name": "projectId", "in": "query", "required": true, "schema": {"type": "array", "items": {"type": "integer"}}},
        {"name": "keys", "in": "query", "required": true, "schema": {"type": "array", "minItems": 2, "items": {"type": "string"}}},
        {"name": "ids", "in": "query", "schema": {"type": "array", "items": {"type": "integer"}}}
    ]);
    let out = run_inline(
        HEADER,
        "manifest_base.json",
        &serde_json::to_vec(&spec).unwrap(),
    );
    assert!(errors(&out).is_empty(), "{:#?}", errors(&out));
    let input: serde_json::Value =
        serde_json::from_str(file(&out, "schemas/fx/fx.searchProjects.input.json")).unwrap();
    let props = &input["properties"];
    assert_eq!(props["projectId"]["minItems"], 1, "{input}");
    assert_eq!(props["keys"]["minItems"], 2, "{input}");
    assert!(props["ids"].get("minItems").is_none(), "{input}");
}
