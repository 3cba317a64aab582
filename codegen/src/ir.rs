//! The lowered, validated intermediate representation the emitters print.
//! Every name in here is final: emitters make no decisions.

use serde_json::Value;

use crate::manifest::{Access, AuthKind};
use crate::schema::{RustType, TypeDef};
use crate::spec::Method;
use std::collections::BTreeMap;

/// Everything to emit.
#[derive(Debug)]
pub struct Catalog {
    /// Products in key order.
    pub products: Vec<ProductDef>,
    /// Groups in name order.
    pub groups: Vec<GroupDef>,
}

/// A product and its tools.
#[derive(Debug)]
pub struct ProductDef {
    /// Key from tools.yaml.
    pub key: String,
    /// Rust module name.
    pub module: String,
    /// Title.
    pub title: String,
    /// Spec file.
    pub spec_file: String,
    /// Spec `info.title`.
    pub spec_title: String,
    /// Spec `info.version`.
    pub spec_version: String,
    /// Base URL template.
    pub base_url: String,
    /// Upstream auth kind.
    pub auth: AuthKind,
    /// Tools in manifest order.
    pub tools: Vec<ToolDef>,
    /// Body types reachable from the tools.
    pub types: BTreeMap<String, TypeDef>,
}

/// A permission group.
#[derive(Debug)]
pub struct GroupDef {
    /// Name.
    pub name: String,
    /// Access kind.
    pub access: Access,
    /// Product label.
    pub product: String,
    /// Description.
    pub description: String,
}

/// One tool.
#[derive(Debug)]
pub struct ToolDef {
    /// MCP name.
    pub name: String,
    /// Title.
    pub title: String,
    /// Description for the model.
    pub description: String,
    /// Group name.
    pub group: String,
    /// `product#operationId` label.
    pub operation: String,
    /// HTTP method.
    pub method: Method,
    /// Path template as in the spec (for logs and docs).
    pub path_template: String,
    /// Path pieces in order.
    pub path: Vec<PathPart>,
    /// Arguments struct name.
    pub args_struct: String,
    /// Arguments (path and query), in input-schema order.
    pub params: Vec<ParamDef>,
    /// Constant query parameters (hidden with a default).
    pub fixed_query: Vec<(String, Value)>,
    /// JSON body.
    pub body: Option<BodyDef>,
    /// Self-contained input schema.
    pub input_schema: Value,
    /// Loose output schema (object responses only).
    pub output_schema: Option<Value>,
    /// Annotations.
    pub read_only: bool,
    /// Destructive hint.
    pub destructive: bool,
    /// Catalog-only: reachable by revert/snapshot, never listed or called directly.
    pub hidden: bool,
    /// Idempotent hint.
    pub idempotent: bool,
    /// Consent, snapshot and revert of a write (every write has one).
    pub safety: Option<SafetyDef>,
    /// Atlassian marks the operation experimental (needs an opt-in header).
    pub experimental: bool,
    /// Read cache lifetime in seconds.
    pub cache_ttl_s: Option<u32>,
    /// How the upstream pages, when it does (the model sees `cursor`/`limit`).
    pub pagination: Option<PaginationDef>,
    /// The response may carry noise (`self` links, avatar maps, `expand`
    /// echoes) that the runtime trims unless the caller passes `raw: true`.
    pub trims: bool,
}

/// How a write is made safe: consent, the prior-state read, the inverse.
/// Serialized into the catalog as JSON; the runtime reads the same shape.
#[derive(Debug, Clone, serde::Serialize)]
pub struct SafetyDef {
    /// `none` or `commit`.
    pub consent: crate::manifest::Consent,
    /// The read of the prior state.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub snapshot: Option<SnapshotDef>,
    /// The inverse.
    pub revert: RevertDef,
    /// What else uses what the write changes.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub impact: Option<ImpactDef>,
    /// Where it was declared (for diagnostics of the cross-tool checks).
    #[serde(skip)]
    pub location: crate::diagnostics::Location,
}

/// A read-only tool call that returns the resource a write changes.
#[derive(Debug, Clone, serde::Serialize)]
pub struct SnapshotDef {
    /// The read-only tool.
    pub tool: String,
    /// Argument mapping (expressions over `args`).
    pub args: serde_json::Map<String, Value>,
    /// Expression over `response` selecting the resource.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pick: Option<String>,
}

/// The blast radius of a write: a read-only tool call (over `args`) whose
/// picked answer lists what uses the resource the write changes.
#[derive(Debug, Clone, serde::Serialize)]
pub struct ImpactDef {
    /// The read-only tool.
    pub tool: String,
    /// Argument mapping (expressions over `args`).
    pub args: serde_json::Map<String, Value>,
    /// Expression over `response` and `args` selecting the list.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pick: Option<String>,
    /// One read per listed item, keeping those `keep` accepts.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub each: Option<ImpactEachDef>,
    /// Refuse the write while the list is not empty.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub refuse_when_used: bool,
    /// The writing tool that moves a user off the resource.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub resolve_with: Option<String>,
}

/// The per-item read of an impact.
#[derive(Debug, Clone, serde::Serialize)]
pub struct ImpactEachDef {
    /// The read-only tool.
    pub tool: String,
    /// Argument mapping (expressions over `item` and `args`).
    pub args: serde_json::Map<String, Value>,
    /// Expression over `response`, `item` and `args`.
    pub keep: String,
}

/// The inverse of a write.
#[derive(Debug, Clone, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum RevertDef {
    /// Call this writing tool with these arguments (expressions over `args`,
    /// `snapshot`, `result`).
    Tool {
        /// The writing tool.
        tool: String,
        /// Argument mapping.
        args: serde_json::Map<String, Value>,
    },
    /// Call these writing tools in order, as one revert.
    Steps {
        /// The calls.
        steps: Vec<RevertStepDef>,
    },
    /// No inverse exists.
    Irreversible {
        /// Why, for the dry-run and the journal.
        reason: String,
    },
}

/// One call of a revert sequence.
#[derive(Debug, Clone, serde::Serialize)]
pub struct RevertStepDef {
    /// The writing tool.
    pub tool: String,
    /// Argument mapping (expressions over `args`, `snapshot`, `result`).
    pub args: serde_json::Map<String, Value>,
}

/// How an upstream operation pages.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PageStyle {
    /// A numeric offset (`startAt`/`start`) and a page size.
    Offset,
    /// An opaque token from the previous answer (`nextPageToken`, `cursor`).
    Token,
}

/// The upstream parameters the unified `cursor`/`limit` arguments fill.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PaginationDef {
    /// Offset or token.
    pub style: PageStyle,
    /// Argument name of the offset or token parameter.
    pub cursor_arg: String,
    /// Argument name of the page-size parameter, when there is one.
    pub limit_arg: Option<String>,
    /// Largest page size offered.
    pub max_limit: u32,
}

/// A piece of a path.
#[derive(Debug, Clone)]
pub enum PathPart {
    /// Literal text.
    Literal(String),
    /// The value of the argument with this Rust identifier.
    Param {
        /// Field identifier.
        ident: String,
        /// Wire name in the template.
        api_name: String,
    },
}

/// Where an argument goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ParamKind {
    /// Path.
    Path,
    /// Query (exploded arrays repeat the key).
    Query {
        /// Repeat the key for each array element.
        explode: bool,
    },
}

/// One path or query argument.
#[derive(Debug, Clone)]
pub struct ParamDef {
    /// Wire name.
    pub api_name: String,
    /// Name the model uses.
    pub arg_name: String,
    /// Rust field identifier.
    pub ident: String,
    /// Path or query.
    pub kind: ParamKind,
    /// Type (without Option).
    pub ty: RustType,
    /// Not `Option` when true.
    pub required: bool,
    /// Default sent when the argument is absent.
    pub default: Option<Value>,
    /// Doc comment.
    pub doc: Option<String>,
}

/// The JSON body argument.
#[derive(Debug, Clone)]
pub struct BodyDef {
    /// Type of the body.
    pub ty: RustType,
    /// Required?
    pub required: bool,
}
