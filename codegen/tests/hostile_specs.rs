//! Fixture tests for hostile spec shapes. Each `fixtures/<name>.json` (a small
//! hand-written OpenAPI 3.0 spec; `info.x-fixture-note` says what it exercises
//! and where the real shape is) + `fixtures/<name>.tools.yaml` is run through
//! the generator and compared with `expected/<name>/`: every emitted file plus
//! `diagnostics.txt`. `UPDATE_EXPECT=1 cargo test -p gojira-codegen` rewrites
//! the snapshots. Each test also asserts the key facts directly, so a wrongly
//! regenerated snapshot does not pass unnoticed, and parses every emitted Rust
//! file with `syn` (plus a check for name clashes that would not compile).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::collections::{BTreeMap, BTreeSet};

use common::*;
use gojira_codegen::Output;
use serde_json::{Value, json};

const FX_RS: &str = "src/products/fx.rs";

/// Runs a fixture, parses and clash-checks its Rust, compares the snapshot.
fn fixture(name: &str) -> (Output, BTreeMap<String, syn::File>) {
    let output = run_fixture(name);
    let rust = check_rust(&output);
    assert_snapshot(name, &output);
    (output, rust)
}

fn counts(pairs: &[(&str, usize)]) -> BTreeMap<String, usize> {
    pairs.iter().map(|(k, v)| ((*k).to_owned(), *v)).collect()
}

fn pairs(list: &[(&str, &str)]) -> Vec<(String, String)> {
    list.iter()
        .map(|(a, b)| ((*a).to_owned(), (*b).to_owned()))
        .collect()
}

fn body_props(output: &Output, tool: &str) -> Value {
    json_file(output, &format!("schemas/fx/{tool}.input.json"))
        .pointer("/properties/body/properties")
        .cloned()
        .unwrap_or_else(|| panic!("{tool} input schema has no body properties"))
}

#[test]
fn symbol_enums() {
    let (out, rust) = fixture("symbol_enums");
    assert!(out.diagnostics.is_empty(), "{}", diagnostics_text(&out));
    assert_eq!(out.tool_counts, counts(&[("fx", 2)]));
    let types = types_module(&rust[FX_RS]);
    assert_eq!(
        enum_variants(types, "FindComponentsOrderBy"),
        pairs(&[
            ("Description", "description"),
            ("MinusDescription", "-description"),
            ("PlusDescription", "+description"),
            ("Name", "name"),
            ("MinusName", "-name"),
            ("PlusName", "+name"),
        ])
    );
    assert_eq!(
        enum_variants(types, "FindComponentsOperator"),
        pairs(&[
            ("Eq", "="),
            ("NotEq", "!="),
            ("Lt", "<"),
            ("GtEq", ">="),
            ("Tilde", "~"),
            ("Star", "*"),
            ("Symbol", "."),
            ("Empty", ""),
        ])
    );
    assert_eq!(
        enum_variants(types, "FieldValueClauseOperator"),
        pairs(&[
            ("Eq", "="),
            ("NotEq", "!="),
            ("Gt", ">"),
            ("Lt", "<"),
            ("GtEq", ">="),
            ("LtEq", "<="),
            ("In", "in"),
            ("NotIn", "not in"),
            ("Tilde", "~"),
            ("TildeEq", "~="),
        ])
    );
    // The model sees the wire values, unchanged and in spec order.
    let input = json_file(&out, "schemas/fx/fx.findComponents.input.json");
    assert_eq!(
        input.pointer("/properties/operator/enum"),
        Some(&json!(["=", "!=", "<", ">=", "~", "*", ".", ""]))
    );
    assert_eq!(
        input.pointer("/properties/orderBy/enum"),
        Some(&json!([
            "description",
            "-description",
            "+description",
            "name",
            "-name",
            "+name"
        ]))
    );
    // Markdown links are stripped from the model-facing description.
    assert_eq!(
        input.pointer("/properties/orderBy/description"),
        Some(&json!("Order the results by a field."))
    );
    let args = &rust[FX_RS].items;
    assert_eq!(
        field(args, "FindComponentsArgs", "order_by").ty,
        "Option<types::FindComponentsOrderBy>"
    );
    // A POST marked read_only in a read group is annotated read-only.
    let rs = file(&out, FX_RS);
    assert_eq!(rs.matches("read_only: true").count(), 2);
}

#[test]
fn example_only_response() {
    let (out, rust) = fixture("example_only_response");
    assert_eq!(
        diagnostic_lines(&out),
        [
            "example_only_response.json#/paths/~1rest~1agile~11.0~1board~1{boardId}~1sprint/get: warning: JSON response has an example but no schema; no outputSchema",
            "example_only_response.json#/paths/~1rest~1agile~11.0~1sprint~1{sprintId}/get: warning: JSON response has an example but no schema; no outputSchema",
        ]
    );
    assert_eq!(out.tool_counts, counts(&[("fx", 2)]));
    assert!(!has_file(&out, "schemas/fx/fx.getAllSprints.output.json"));
    assert!(!has_file(&out, "schemas/fx/fx.getSprint.output.json"));
    let rs = file(&out, FX_RS);
    assert_eq!(rs.matches("output_schema: None").count(), 2);
    // `explode: false` is carried to the request builder.
    assert!(rs.contains(r#"request.query("state", &self.state, false)?;"#));
    assert_eq!(
        field(&rust[FX_RS].items, "GetAllSprintsArgs", "board_id"),
        FieldInfo {
            ident: "board_id".into(),
            wire: "boardId".into(),
            ty: "i64".into()
        }
    );
}

#[test]
fn non_json_bodies() {
    let (out, rust) = fixture("non_json_bodies");
    assert_eq!(
        diagnostic_lines(&out),
        [
            "non_json_bodies.json#/paths/~1rest~1api~13~1issue~1{issueIdOrKey}~1attachments/post/requestBody/content: error: request body content type multipart/form-data is not supported (only application/json)",
            "non_json_bodies.json#/paths/~1rest~1api~13~1settings~1columns/put/requestBody/content: warning: optional request body of type */*, multipart/form-data is not offered to the model",
        ]
    );
    assert!(out.has_errors());
    // The multipart tool is left out; the other two are generated.
    assert_eq!(out.tool_counts, counts(&[("fx", 2)]));
    let rs = file(&out, FX_RS);
    assert!(!rs.contains("fx.addAttachment"));
    assert!(!has_file(&out, "schemas/fx/fx.addAttachment.input.json"));
    // The optional */* body is simply not offered: no `body` argument.
    assert!(struct_fields(&rust[FX_RS].items, "SetDefaultColumnsArgs").is_empty());
    assert_eq!(
        json_file(&out, "schemas/fx/fx.setDefaultColumns.input.json"),
        json!({"type": "object", "properties": {}, "additionalProperties": false})
    );
    // A */* response is read as JSON: it gets an output schema; nullable → {}.
    assert_eq!(
        json_file(&out, "schemas/fx/fx.getModules.output.json"),
        json!({"type": "object", "properties": {"modules": {"type": "array"}, "count": {}}})
    );
}

#[test]
fn ref_siblings() {
    let (out, rust) = fixture("ref_siblings");
    assert!(out.diagnostics.is_empty(), "{}", diagnostics_text(&out));
    assert_eq!(out.tool_counts, counts(&[("fx", 1)]));
    let types = types_module(&rust[FX_RS]);
    assert_eq!(
        struct_fields(types, "Fields")
            .iter()
            .map(|f| (f.ident.as_str(), f.ty.as_str()))
            .collect::<Vec<_>>(),
        [
            ("summary", "Option<String>"),
            ("issuetype", "IssueTypeDetails"),
            ("user_directory_status", "Option<DirectoryStatus>"),
            ("counts", "Option<GroupCounts>"),
        ]
    );
    // The description written beside `$ref` is kept (openapiv3 drops it).
    let rs = file(&out, FX_RS);
    assert!(rs.contains("/// The issue type of the linked issue.\n"));
    let props = body_props(&out, "fx.linkIssues");
    assert_eq!(
        props.pointer("/issuetype/description"),
        Some(&json!("The issue type of the linked issue."))
    );
    // ... and the `$ref` itself is still followed.
    assert_eq!(
        props.pointer("/issuetype/properties/id"),
        Some(&json!({"type": "string"}))
    );
    // `nullable: true` beside the `$ref` is kept too.
    assert_eq!(
        props.pointer("/userDirectoryStatus/enum"),
        Some(&json!(["ACTIVE", "SUSPENDED", null]))
    );
    // `type: GroupCounts` beside the `$ref` is ignored: the ref wins.
    assert_eq!(props.pointer("/counts/type"), Some(&json!("object")));
}

#[test]

fn ref_sibling_nullable_allows_null() {
    let out = run_fixture("ref_siblings");
    let props = body_props(&out, "fx.linkIssues");
    // Spec: {"$ref": DirectoryStatus, "nullable": true}, listed in `required`.
    // The Rust field is Option<DirectoryStatus> (null accepted), but the
    // schema the model sees demands a non-null string.
    let status = props.get("userDirectoryStatus").unwrap();
    assert!(
        status.get("type") == Some(&json!(["string", "null"]))
            || status
                .pointer("/enum")
                .is_some_and(|e| e.as_array().unwrap().contains(&Value::Null)),
        "userDirectoryStatus must accept null: {status}"
    );
}

#[test]
fn any_schemas() {
    let (out, rust) = fixture("any_schemas");
    // Any-typed shapes degrade silently to serde_json::Value / String.
    assert!(out.diagnostics.is_empty(), "{}", diagnostics_text(&out));
    assert_eq!(out.tool_counts, counts(&[("fx", 2)]));
    let types = types_module(&rust[FX_RS]);
    assert_eq!(
        struct_fields(types, "AnyBody")
            .iter()
            .map(|f| (f.wire.as_str(), f.ty.as_str()))
            .collect::<Vec<_>>(),
        [
            ("queries", "Vec<String>"),
            ("anything", "Option<serde_json::Value>"),
            ("describedOnly", "Option<serde_json::Value>"),
            ("level", "Option<DefaultLevelValue>"),
        ]
    );
    // `type: object` with a string keyword (maxLength) is still an object.
    assert_eq!(
        field(types, "DefaultLevelValue", "level_id").ty,
        "Option<String>"
    );
    let args = &rust[FX_RS].items;
    // `type: string` + `items` is taken as the string it says it is.
    assert_eq!(
        field(args, "GetAttachmentLabelsArgs", "sort").ty,
        "Option<String>"
    );
    assert_eq!(
        field(args, "GetAttachmentLabelsArgs", "cursor").ty,
        "Option<serde_json::Value>"
    );
    let props = body_props(&out, "fx.parseJql");
    assert_eq!(props.get("anything"), Some(&json!({})));
    assert_eq!(
        props.get("describedOnly"),
        Some(&json!({"description": "Whatever the caller sends."}))
    );
    assert_eq!(
        props.pointer("/queries/minItems"),
        Some(&json!(1)),
        "array keywords are kept"
    );
    // The output schema of an object with maxLength still lists its properties.
    let output = json_file(&out, "schemas/fx/fx.parseJql.output.json");
    assert_eq!(
        output,
        json!({"type": "object", "properties": {"query": {"type": "string"}, "structure": {}, "errors": {"type": "array"}}})
    );
}

#[test]
fn type_arrays() {
    let (out, rust) = fixture("type_arrays");
    // `[T, "null"]` (OpenAPI 3.1 style) is a nullable T.
    assert!(out.diagnostics.is_empty(), "{}", diagnostics_text(&out));
    assert_eq!(out.tool_counts, counts(&[("fx", 2)]));
    assert_eq!(
        field(types_module(&rust[FX_RS]), "Label", "color").ty,
        "Option<String>"
    );
    let props = body_props(&out, "fx.createLabel");
    assert_eq!(
        props.pointer("/color/type"),
        Some(&json!(["string", "null"]))
    );
}

#[test]
fn operation_ids() {
    let (out, rust) = fixture("operation_ids");
    assert_eq!(
        diagnostic_lines(&out),
        [
            "operation_ids.tools.yaml:8:16: error [fx.articlesAmbiguous]: operationId getArticles is used by 2 operations in operation_ids.json; name one as fx#GET /rest/servicedeskapi/knowledgebase/article or fx#GET /rest/servicedeskapi/servicedesk/{serviceDeskId}/knowledgebase/article"
        ]
    );
    assert_eq!(out.tool_counts, counts(&[("fx", 2)]));
    let rs = file(&out, FX_RS);
    assert!(!rs.contains("fx.articlesAmbiguous"));
    // `METHOD /path` picks one of the duplicates ...
    assert!(rs.contains(r#"path: "/rest/servicedeskapi/knowledgebase/article","#));
    assert_eq!(
        field(&rust[FX_RS].items, "SearchArticlesArgs", "query").ty,
        "String"
    );
    // ... and names an operation without operationId (method case-insensitive);
    // its label falls back to `product#METHOD /path`.
    assert!(rs.contains(
        r#"operation: "fx#GET /v1/orgs/{orgId}/directory/users/{accountId}/last-active-dates","#
    ));
    assert!(rs.contains(r#"request.push_path_param("accountId", &self.account_id)?;"#));
}

#[test]

fn duplicated_operation_id_label_is_unambiguous() {
    let out = run_fixture("operation_ids");
    let rs = file(&out, FX_RS);
    assert!(
        rs.contains(r#"operation: "fx#GET /rest/servicedeskapi/knowledgebase/article","#),
        "the label should name the operation the manifest picked"
    );
}

#[test]
fn path_param_mismatch() {
    let (out, rust) = fixture("path_param_mismatch");
    assert_eq!(
        diagnostic_lines(&out),
        [
            r#"path_param_mismatch.json#/paths/~1importsource~1{importSourceId}~1token/post: error: path template /importsource/{importSourceId}/token and its path parameters disagree (template-only: ["importSourceId"], parameter-only: [])"#,
            "path_param_mismatch.json#/paths/~1v2~1orgs~1{orgId}~1directories~1{directoryId}~1users~1{userId}/get: warning: path parameter accountId does not match template variable {userId}; using the template's name",
        ]
    );
    assert_eq!(out.tool_counts, counts(&[("fx", 1)]));
    let rs = file(&out, FX_RS);
    assert!(!rs.contains("fx.createToken"));
    assert!(!rs.contains("accountId"));
    assert!(rs.contains(r#"request.push_path_param("userId", &self.user_id)?;"#));
    assert_eq!(
        struct_fields(&rust[FX_RS].items, "GetUserArgs")
            .iter()
            .map(|f| f.wire.as_str())
            .collect::<Vec<_>>(),
        ["orgId", "directoryId", "userId"]
    );
    let input = json_file(&out, "schemas/fx/fx.getUser.input.json");
    assert_eq!(
        input.get("required"),
        Some(&json!(["orgId", "directoryId", "userId"]))
    );
    assert_eq!(
        input.pointer("/properties/userId/description"),
        Some(&json!("Unique ID of the user's account."))
    );
}

#[test]
fn one_of_any_of() {
    let (out, rust) = fixture("one_of_any_of");
    // oneOf beside anyOf cannot be typed: the tool that needs it fails regen,
    // naming the field, the schema path and both fixes.
    assert_eq!(
        diagnostic_lines(&out),
        [
            "one_of_any_of.tools.yaml:7:11: error [fx.submitDeployments]: request body field body.deployments.target cannot be typed (oneOf together with anyOf at one_of_any_of.json#/components/schemas/Deployment/properties/target); hide the field with `params: {body.deployments.target: {hide: true}}` (optional fields only) or declare `loose_body: \"<reason>\"` on the tool",
        ]
    );
    assert!(out.has_errors());
    // ... and each fix works: hiding the optional field, or loose_body.
    assert_eq!(out.tool_counts, counts(&[("fx", 3)]));
    let rs = file(&out, FX_RS);
    assert!(!rs.contains(r#"name: "fx.submitDeployments","#));
    assert!(rs.contains(r#"name: "fx.submitDeploymentsHidden","#));
    assert!(rs.contains(r#"name: "fx.submitDeploymentsLoose","#));
    let hidden = body_props(&out, "fx.submitDeploymentsHidden");
    assert!(
        hidden
            .pointer("/deployments/items/properties/target")
            .is_none()
    );
    let loose = body_props(&out, "fx.submitDeploymentsLoose");
    assert_eq!(
        loose.pointer("/deployments/items/properties/target"),
        Some(&json!({}))
    );
    let types = types_module(&rust[FX_RS]);
    assert_eq!(
        field(types, "Deployment", "target").ty,
        "Option<serde_json::Value>"
    );
    // anyOf items are an untagged enum of the branch types.
    assert_eq!(
        field(types, "Deployment", "associations").ty,
        "Option<Vec<DeploymentAssociationsItem>>"
    );
    assert_eq!(
        untagged_variants(types, "DeploymentAssociationsItem"),
        pairs(&[("Issue", "Issue"), ("ServiceId", "ServiceId")])
    );
    assert_eq!(
        field(&rust[FX_RS].items, "SubmitEntityArgs", "body").ty,
        "types::SubmitEntityBody"
    );
    // The model sees the combinator, with each branch typed.
    let entity = json_file(&out, "schemas/fx/fx.submitEntity.input.json");
    let branches = entity
        .pointer("/properties/body/anyOf")
        .and_then(Value::as_array)
        .unwrap();
    assert_eq!(branches.len(), 2);
    assert_eq!(
        branches[0].pointer("/properties/associationType/enum"),
        Some(&json!(["issueKeys", "issueIdOrKeys"]))
    );
    assert_eq!(
        branches[0].get("required"),
        Some(&json!(["associationType"]))
    );
}

#[test]
fn type_name_clash() {
    let (out, rust) = fixture("type_name_clash");
    assert!(out.diagnostics.is_empty(), "{}", diagnostics_text(&out));
    assert_eq!(out.tool_counts, counts(&[("fx", 2)]));
    let types = types_module(&rust[FX_RS]);
    let names: BTreeSet<String> = item_names(types).into_iter().collect();
    assert_eq!(
        names,
        [
            "CreateProjectBody",
            "CreateProjectBody2",
            "ListProjectsStatus",
            "ListProjectsStatus2",
            "ProjectDetails",
            "ProjectDetails2",
        ]
        .into_iter()
        .map(str::to_owned)
        .collect()
    );
    // Each name is bound to the right schema.
    let body = struct_fields(types, "CreateProjectBody");
    assert_eq!(
        body.iter()
            .map(|f| (f.wire.as_str(), f.ty.as_str()))
            .collect::<Vec<_>>(),
        [
            ("details", "ProjectDetails"),
            ("other", "Option<ProjectDetails2>"),
            ("template", "Option<CreateProjectBody2>"),
        ]
    );
    assert_eq!(
        struct_fields(types, "ProjectDetails")
            .iter()
            .map(|f| f.wire.as_str())
            .collect::<Vec<_>>(),
        ["key"],
        "project_details"
    );
    assert_eq!(
        struct_fields(types, "ProjectDetails2")
            .iter()
            .map(|f| f.wire.as_str())
            .collect::<Vec<_>>(),
        ["id", "name"],
        "ProjectDetails"
    );
    assert_eq!(
        field(types, "CreateProjectBody2", "template_key").wire,
        "templateKey"
    );
    assert_eq!(enum_variants(types, "ListProjectsStatus").len(), 2);
    assert_eq!(
        enum_variants(types, "ListProjectsStatus2"),
        pairs(&[
            ("Live", "live"),
            ("Archived", "archived"),
            ("Deleted", "deleted")
        ])
    );
    let args = &rust[FX_RS].items;
    assert_eq!(
        field(args, "ListProjectsArgs", "status").ty,
        "Option<types::ListProjectsStatus>"
    );
    assert_eq!(
        field(args, "ListProjectsArgs", "status_ref").ty,
        "Option<types::ListProjectsStatus2>"
    );
}

#[test]
fn reference_cycle() {
    let (out, rust) = fixture("reference_cycle");
    // Object cycles are typed (boxed); an array that contains itself is not.
    assert_eq!(
        diagnostic_lines(&out),
        [
            "reference_cycle.tools.yaml:23:11: error [fx.createTree]: request body field body.tree cannot be typed (recursive schema #/components/schemas/Tree that is not an object or a oneOf/anyOf at reference_cycle.json#/components/schemas/Tree/items); hide the field with `params: {body.tree: {hide: true}}` (optional fields only) or declare `loose_body: \"<reason>\"` on the tool",
        ]
    );
    assert_eq!(out.tool_counts, counts(&[("fx", 3)]));
    let types = types_module(&rust[FX_RS]);
    assert_eq!(field(types, "Content", "space").ty, "Option<Space>");
    assert_eq!(
        field(types, "Content", "ancestors").ty,
        "Option<Vec<Box<Content>>>"
    );
    assert_eq!(field(types, "Space", "homepage").ty, "Option<Box<Content>>");
    assert_eq!(field(types, "Content", "type_").wire, "type");
    // The self-contained input schema is finite: back edges point into $defs.
    let input = json_file(&out, "schemas/fx/fx.createContent.input.json");
    let content = input.pointer("/properties/body/properties").unwrap();
    assert_eq!(
        content.pointer("/ancestors/items"),
        Some(&json!({"$ref": "#/$defs/Content"}))
    );
    assert_eq!(
        content.pointer("/space/properties/homepage"),
        Some(&json!({"$ref": "#/$defs/Content"}))
    );
    assert_eq!(
        input.pointer("/$defs/Content/required"),
        Some(&json!(["type"]))
    );
    // The second tool reuses the same Space type and carries the def it needs.
    let space = json_file(&out, "schemas/fx/fx.createSpace.input.json");
    assert_eq!(
        space.pointer("/properties/body/properties/homepage"),
        Some(&json!({"$ref": "#/$defs/Content"}))
    );
    // An override reaches a field behind a `$ref` into `$defs`.
    assert_eq!(
        space.pointer("/$defs/Content/properties/space/properties/name/description"),
        Some(&json!("Name of the homepage's space"))
    );
    assert_eq!(
        field(&rust[FX_RS].items, "CreateSpaceArgs", "body").ty,
        "types::Space"
    );
    // A hidden field's types cost no bytes: the schema carries only the
    // `$defs` it reaches.
    let bare = json_file(&out, "schemas/fx/fx.createBareSpace.input.json");
    assert_eq!(bare.pointer("/properties/body/properties/homepage"), None);
    assert_eq!(bare.get("$defs"), None, "{bare}");
}

#[test]
fn rust_keywords() {
    let (out, rust) = fixture("rust_keywords");
    assert!(out.diagnostics.is_empty(), "{}", diagnostics_text(&out));
    assert_eq!(out.tool_counts, counts(&[("fx", 1)]));
    let types = types_module(&rust[FX_RS]);
    assert_eq!(
        struct_fields(types, "Keywords")
            .iter()
            .map(|f| (f.ident.as_str(), f.wire.as_str()))
            .collect::<Vec<_>>(),
        [
            ("type_", "type"),
            ("self_", "self"),
            ("ref_", "ref"),
            ("async_", "async"),
            ("crate_", "crate"),
            ("self__2", "Self"),
            ("a_b", "a-b"),
            ("a_b_2", "a_b"),
            ("avatar_urls", "avatarUrls"),
        ]
    );
    assert_eq!(
        struct_fields(types, "AvatarUrlsBean")
            .iter()
            .map(|f| (f.ident.as_str(), f.wire.as_str()))
            .collect::<Vec<_>>(),
        [
            ("n_16x16", "16x16"),
            ("n_24x24", "24x24"),
            ("n_48x48", "48x48")
        ]
    );
    assert_eq!(
        enum_variants(types, "StoreAvatarType"),
        pairs(&[
            ("Project", "project"),
            ("Issuetype", "issuetype"),
            ("Priority", "priority"),
            ("Self_", "self"),
            ("Self_2", "Self"),
            ("Type", "type"),
        ])
    );
    assert_eq!(
        struct_fields(&rust[FX_RS].items, "StoreAvatarArgs")
            .iter()
            .map(|f| (f.ident.as_str(), f.wire.as_str()))
            .collect::<Vec<_>>(),
        [
            ("type_", "type"),
            ("entity_id", "entityId"),
            ("ref_", "ref"),
            ("n_16x16", "16x16"),
            ("body", "body"),
        ]
    );
    let rs = file(&out, FX_RS);
    assert!(rs.contains(r#"request.push_path_param("type", &self.type_)?;"#));
    assert!(rs.contains(r#"request.query("16x16", &self.n_16x16, true)?;"#));
    // The model sees the wire names.
    let input = json_file(&out, "schemas/fx/fx.storeAvatar.input.json");
    let keys: Vec<&str> = input["properties"]
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    assert_eq!(keys, ["16x16", "body", "entityId", "ref", "type"]);
}

#[test]
fn all_of() {
    let (out, rust) = fixture("all_of");
    assert_eq!(
        diagnostic_lines(&out),
        [
            "all_of.tools.yaml:24:11: error [fx.createBroken]: request body field body.label cannot be typed (allOf over a non-object branch (type string) at all_of.json#/paths/~1rest~1api~13~1broken/post/requestBody/content/application~1json/schema/properties/label); hide the field with `params: {body.label: {hide: true}}` (optional fields only) or declare `loose_body: \"<reason>\"` on the tool",
        ]
    );
    assert_eq!(out.tool_counts, counts(&[("fx", 2)]));
    let types = types_module(&rust[FX_RS]);
    // jira#updatePermissionScheme: required `name` survives, grants are typed,
    // the holder behind `allOf: [$ref]` is its own struct.
    let args = &rust[FX_RS].items;
    assert_eq!(
        field(args, "UpdatePermissionSchemeArgs", "body").ty,
        "types::PermissionScheme"
    );
    assert_eq!(field(types, "PermissionScheme", "name").ty, "String");
    assert_eq!(
        field(types, "PermissionScheme", "permissions").ty,
        "Option<Vec<PermissionGrant>>"
    );
    assert_eq!(
        field(types, "PermissionGrant", "holder").ty,
        "Option<PermissionHolder>"
    );
    assert_eq!(field(types, "PermissionHolder", "type_").ty, "String");
    // additionalProperties: true beside properties keeps the typed fields.
    assert_eq!(
        field(types, "PermissionScheme", "additional_properties").ty,
        "std::collections::BTreeMap<String,serde_json::Value>"
    );
    let body = json_file(&out, "schemas/fx/fx.updatePermissionScheme.input.json");
    assert_eq!(
        body.pointer("/properties/body/required"),
        Some(&json!(["name"]))
    );
    // Overrides reach nested fields through arrays and allOf.
    let holder = body
        .pointer("/properties/body/properties/permissions/items/properties/holder")
        .unwrap();
    assert_eq!(
        holder.pointer("/properties/type/description"),
        Some(&json!(
            "user, group, projectRole, applicationRole or anyone"
        ))
    );
    assert!(holder.pointer("/properties/parameter").is_none(), "hidden");
    assert_eq!(holder.get("required"), Some(&json!(["type"])));
    // Nested allOf through a $ref, an annotation-only branch: one struct with
    // every member and the union of `required`.
    assert_eq!(
        struct_fields(types, "CreateWidgetBody")
            .iter()
            .map(|f| (f.wire.as_str(), f.ty.as_str()))
            .collect::<Vec<_>>(),
        [
            ("id", "String"),
            ("tags", "Option<Vec<String>>"),
            ("name", "String"),
            ("size", "i32"),
        ]
    );
    let widget = json_file(&out, "schemas/fx/fx.createWidget.input.json");
    assert_eq!(
        widget.pointer("/properties/body/required"),
        Some(&json!(["id", "name", "size"]))
    );
}

#[test]
fn discriminator() {
    let (out, rust) = fixture("discriminator");
    assert!(out.diagnostics.is_empty(), "{}", diagnostics_text(&out));
    let types = types_module(&rust[FX_RS]);
    assert_eq!(
        untagged_variants(types, "RuleTrigger"),
        pairs(&[("IssueCreated", "IssueCreated"), ("Scheduled", "Scheduled")])
    );
    assert_eq!(
        untagged_variants(types, "RuleThreshold"),
        pairs(&[("String", "String"), ("Integer", "i64")])
    );
    assert_eq!(
        untagged_variants(types, "RuleLabels"),
        pairs(&[("String", "String"), ("Array", "Vec<String>")])
    );
    assert_eq!(
        untagged_variants(types, "RuleActor"),
        pairs(&[
            ("ByAccount", "RuleActorByAccount"),
            ("Object", "RuleActorObject")
        ])
    );
    // A {type: null} branch makes the union nullable; with one other branch
    // it is that branch.
    assert_eq!(field(types, "Rule", "owner").ty, "Option<String>");
    assert_eq!(
        untagged_variants(types, "RuleNote"),
        pairs(&[("String", "String"), ("Object", "RuleNoteObject")])
    );
    // Constraint-only branches leave one struct.
    assert_eq!(field(types, "Rule", "target").ty, "Option<RuleTarget>");
    let props = body_props(&out, "fx.createRule");
    assert_eq!(
        props.pointer("/trigger/discriminator"),
        Some(&json!({"propertyName": "kind"}))
    );
    assert_eq!(
        props.pointer("/trigger/oneOf/1/required"),
        Some(&json!(["kind", "cron"]))
    );
    // The override reached the discriminator property in every branch.
    for branch in 0..2 {
        assert_eq!(
            props.pointer(&format!(
                "/trigger/oneOf/{branch}/properties/kind/description"
            )),
            Some(&json!("issue_created or scheduled"))
        );
    }
    assert_eq!(
        props.pointer("/owner/type"),
        Some(&json!(["string", "null"]))
    );
    assert_eq!(
        props.pointer("/note/oneOf/2"),
        Some(&json!({"type": "null"}))
    );
    assert_eq!(
        props.pointer("/target/oneOf"),
        Some(&json!([{"required": ["projectId"]}, {"required": ["projectKey"]}]))
    );
}

#[test]
fn additional_properties() {
    let (out, rust) = fixture("additional_properties");
    assert!(out.diagnostics.is_empty(), "{}", diagnostics_text(&out));
    let types = types_module(&rust[FX_RS]);
    assert_eq!(
        struct_fields(types, "SetPropertiesBody")
            .iter()
            .map(|f| (f.wire.as_str(), f.ty.as_str()))
            .collect::<Vec<_>>(),
        [
            ("name", "String"),
            ("value", "Option<serde_json::Value>"),
            (
                "attributes",
                "Option<std::collections::BTreeMap<String,Attribute>>"
            ),
            ("flags", "Option<std::collections::BTreeMap<String,bool>>"),
            ("open", "Option<Open>"),
            ("scores", "Option<Vec<Option<i64>>>"),
            (
                "notes",
                "Option<std::collections::BTreeMap<String,Option<String>>>"
            ),
            (
                "additional_properties",
                "std::collections::BTreeMap<String,String>"
            ),
        ]
    );
    assert_eq!(
        field(types, "Open", "additional_properties").ty,
        "std::collections::BTreeMap<String,serde_json::Value>"
    );
    let input = json_file(&out, "schemas/fx/fx.setProperties.input.json");
    let body = input.pointer("/properties/body").unwrap();
    assert_eq!(
        body.get("additionalProperties"),
        Some(&json!({"type": "string"}))
    );
    assert_eq!(
        body.pointer("/properties/attributes/additionalProperties/required"),
        Some(&json!(["key"]))
    );
    // additionalProperties: true leaves other members open (no `false`).
    assert!(
        body.pointer("/properties/open/additionalProperties")
            .is_none()
    );
    assert_eq!(
        body.pointer("/properties/value"),
        Some(&json!({"description": "Any JSON value."}))
    );
}

// ─────────────── latent bugs found while writing the fixtures ───────────────

const MINI_SPEC: &str = r##"{
  "openapi": "3.0.1",
  "info": {"title": "mini", "version": "1"},
  "paths": {
    "/things": {
      "get": {"operationId": "listThings", "parameters": [{"name": "body", "in": "query", "schema": {"type": "string"}}], "responses": {"200": {"description": "OK"}}},
      "post": {"operationId": "createThing", "requestBody": {"required": true, "content": {"application/json": {"schema": {"$ref": "#/components/schemas/String"}}}}, "responses": {"201": {"description": "Created"}}}
    },
    "/tool": {"get": {"operationId": "getTool", "responses": {"200": {"description": "OK"}}}}
  },
  "components": {"schemas": {
    "String": {"type": "object", "properties": {"name": {"type": "string"}, "inner": {"$ref": "#/components/schemas/Option"}}},
    "Option": {"type": "object", "properties": {"x": {"type": "string"}}}
  }}
}"##;

fn mini(tool: &str) -> Output {
    let manifest = format!(
        "products:\n  fx: {{title: F, spec: mini.json, base_url: \"{{api}}\", auth: oauth}}\n\
         groups:\n  r: {{access: read, product: F, description: d}}\n  w: {{access: write, product: F, description: d}}\n\
         tools:\n{tool}"
    );
    run_inline(&manifest, "mini.json", MINI_SPEC.as_bytes())
}

#[test]

fn tool_named_tool_does_not_clash_with_trait() {
    let out =
        mini("  - {name: fx.tool, operation: 'fx#getTool', group: r, title: t, description: d}\n");
    assert!(out.diagnostics.is_empty(), "{}", diagnostics_text(&out));
    check_rust(&out);
}

#[test]

fn component_named_like_prelude_type() {
    let out = mini(
        "  - {name: fx.createThing, operation: 'fx#createThing', group: w, title: t, description: d, consent: none, revert: {irreversible: fixture}}\n",
    );
    assert_eq!(out.tool_counts, counts(&[("fx", 1)]));
    check_rust(&out);
}

#[test]

fn query_parameter_named_body_without_request_body() {
    let out = mini(
        "  - {name: fx.listThings, operation: 'fx#listThings', group: r, title: t, description: d}\n",
    );
    assert!(out.diagnostics.is_empty(), "{}", diagnostics_text(&out));
    assert_eq!(out.tool_counts, counts(&[("fx", 1)]));
}

#[test]
fn every_snapshot_is_compiled() {
    // tests/compiled (a workspace member) makes each expected output a
    // module, so `cargo test` compiles the snapshots; a fixture missing
    // there would only be compared as text.
    let lib = std::fs::read_to_string(tests_dir().join("compiled/src/lib.rs")).unwrap();
    let mut missing = Vec::new();
    for entry in std::fs::read_dir(tests_dir().join("expected")).unwrap() {
        let name = entry.unwrap().file_name().to_string_lossy().into_owned();
        let line = format!("#[path = \"../../expected/{name}/src/products/mod.rs\"]");
        if !lib.contains(&line) {
            missing.push(name);
        }
    }
    assert!(
        missing.is_empty(),
        "add these fixtures to codegen/tests/compiled/src/lib.rs: {missing:?}"
    );
}
