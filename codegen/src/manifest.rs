//! Serde types for `tools.yaml`, the manifest that says which Atlassian
//! operations become MCP tools.
//!
//! Every struct denies unknown keys, so a typo is a diagnostic with a line
//! and column rather than a silently ignored setting.

use std::collections::BTreeMap;

use serde::Deserialize;
use serde_saphyr::Spanned;

use crate::diagnostics::{Diagnostic, Location};

/// The whole manifest.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Manifest {
    /// Products keyed by a short name used in `operation` references.
    pub products: BTreeMap<String, Product>,
    /// Permission groups keyed by the name operators list in `GOJIRA_ENABLED_GROUPS`.
    pub groups: BTreeMap<String, Group>,
    /// The tools, in the order maintainers keep them.
    #[serde(default)]
    pub tools: Vec<Tool>,
}

/// One Atlassian product surface backed by one spec file (spanned fields so
/// that regen's checks in [`crate::products`] can point at them).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Product {
    /// Human title.
    pub title: String,
    /// Spec file name: one of those `specs/sources.yaml` records.
    pub spec: Spanned<String>,
    /// Upstream base URL template: a root placeholder (`{jira}`,
    /// `{confluence}` or `{api}`) and a path that may use the others
    /// (`{cloudId}`, `{workspaceId}`, `{orgId}`); see `placeholders.rs`.
    pub base_url: Spanned<String>,
    /// How the server authenticates upstream for this product.
    pub auth: Spanned<AuthKind>,
}

/// How a product is reached upstream.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AuthKind {
    /// Per-user OAuth 2.0 (3LO) bearer.
    Oauth,
    /// Per-user API token (Basic `email:token`).
    ApiToken,
    /// The organization admin API key.
    OrgAdmin,
}

/// A permission group.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Group {
    /// What members of the group may do.
    pub access: Access,
    /// Product label for documentation.
    pub product: String,
    /// One line for operators.
    pub description: String,
}

/// The kind of access a group grants.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Access {
    /// Reads only: GET, or a POST marked `read_only`.
    Read,
    /// Creates and updates (and deletes of sub-resources).
    Write,
    /// Deletes of top-level resources, split out so they can be granted alone.
    Delete,
    /// Anything; for the org-admin surface.
    Admin,
    /// gojira's own tools.
    Utility,
}

/// One MCP tool.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Tool {
    /// MCP tool name (spanned so diagnostics can point at it).
    pub name: Spanned<String>,
    /// `product#operationId` or `product#METHOD /path`.
    pub operation: Spanned<String>,
    /// Permission group.
    pub group: Spanned<String>,
    /// Human title.
    pub title: String,
    /// Description written for a model choosing among many tools.
    pub description: String,
    /// A POST that changes nothing (a search or bulk read with a POST body):
    /// the tool is read-only (readOnlyHint, no consent/snapshot/revert), belongs
    /// in a read group, and the spec's connect-scope label does not overrule
    /// it. Refused on a DELETE, PUT or PATCH.
    #[serde(default)]
    pub read_only: bool,
    /// A non-DELETE write that destroys data.
    #[serde(default)]
    pub destructive: bool,
    /// Catalog-only: generated so that another tool's `revert` (or
    /// `snapshot`) can call it, but never listed in `tools/list` nor callable
    /// by a client. A hidden write still declares its own safety.
    #[serde(default)]
    pub hidden: bool,
    /// Per-parameter overrides keyed by the spec's parameter name, or
    /// `body.<prop>` (nested: `body.permissions.holder.type`, through arrays,
    /// maps and oneOf/anyOf branches).
    #[serde(default)]
    pub params: BTreeMap<String, ParamOverride>,
    /// Cache successful answers for this many seconds (read-only tools only),
    /// per principal and exact request; writes through gojira invalidate.
    #[serde(default)]
    pub cache: Option<u32>,
    /// Writes only: whether the write needs `commit: true` after a preview.
    #[serde(default)]
    pub consent: Option<Spanned<Consent>>,
    /// Writes only: how to read the state the write will change.
    #[serde(default)]
    pub snapshot: Option<Snapshot>,
    /// Writes only: the inverse, or why there is none.
    #[serde(default)]
    pub revert: Option<Revert>,
    /// Writes only: what else uses the thing this write changes (its blast
    /// radius), shown in the preview and covered by the plan digest.
    #[serde(default)]
    pub impact: Option<Impact>,
    /// Accept a request body that cannot be fully typed: the shapes named
    /// in the diagnostic stay free-form (`serde_json::Value`). The value says
    /// why that is acceptable; without it such a tool fails regen.
    #[serde(default)]
    pub loose_body: Option<String>,
}

/// Whether a write needs explicit consent.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Consent {
    /// Harmless writes: performed at once (still journaled).
    None,
    /// Performed only with `commit: true` and the digest of a preview.
    Commit,
}

/// A read of the prior state: a read-only tool and its arguments.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Snapshot {
    /// The read-only tool to call.
    pub tool: Spanned<String>,
    /// Its arguments: each value a minijinja expression over `args` (this
    /// tool's arguments), or a map of such.
    #[serde(default)]
    pub args: BTreeMap<String, serde_json::Value>,
    /// Expression over `response` selecting the resource (default: all of it).
    #[serde(default)]
    pub pick: Option<String>,
}

/// The blast radius of a write: a read listing what uses the resource it
/// changes (e.g. the projects using a scheme).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Impact {
    /// The read-only tool that lists the users (followed over its pages).
    pub tool: Spanned<String>,
    /// Its arguments: expressions over `args`, or maps of such.
    #[serde(default)]
    pub args: BTreeMap<String, serde_json::Value>,
    /// Expression over `response` and `args` selecting the list (default: all of it).
    #[serde(default)]
    pub pick: Option<String>,
    /// When no read lists the users directly: one read per listed item,
    /// keeping the items whose answer `keep` accepts.
    #[serde(default)]
    pub each: Option<ImpactEach>,
    /// Refuse the write, before anything is sent, while the list is not empty.
    #[serde(default)]
    pub refuse_when_used: bool,
    /// With `refuse_when_used`: the writing tool that moves a user off the
    /// resource (named in the refusal).
    #[serde(default)]
    pub resolve_with: Option<Spanned<String>>,
}

/// The per-item read of an [`Impact`].
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ImpactEach {
    /// The read-only tool called once per item.
    pub tool: Spanned<String>,
    /// Its arguments: expressions over `item` and `args`.
    #[serde(default)]
    pub args: BTreeMap<String, serde_json::Value>,
    /// Expression over `response`, `item` and `args`: whether the item uses the resource.
    pub keep: String,
}

/// The inverse of a write: one tool call (`tool` + `args`), a sequence of
/// calls (`steps`), or `irreversible` with a reason.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Revert {
    /// The writing tool that undoes this one.
    #[serde(default)]
    pub tool: Option<Spanned<String>>,
    /// Its arguments: expressions over `args`, `snapshot` (the prior state)
    /// and `result` (this write's answer), or maps of such.
    #[serde(default)]
    pub args: BTreeMap<String, serde_json::Value>,
    /// Instead of one tool: writing tools called in this order (e.g. disable
    /// then delete), previewed and journaled as one revert.
    #[serde(default)]
    pub steps: Option<Vec<RevertStep>>,
    /// Instead of a tool: why this write cannot be undone.
    #[serde(default)]
    pub irreversible: Option<String>,
}

/// One call of a revert sequence.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RevertStep {
    /// The writing tool.
    pub tool: Spanned<String>,
    /// Its arguments (expressions as in [`Revert::args`]).
    #[serde(default)]
    pub args: BTreeMap<String, serde_json::Value>,
}

/// An override of one parameter.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ParamOverride {
    /// Hide from the tool; the default (if any) is always sent.
    #[serde(default)]
    pub hide: bool,
    /// Default value (scalar).
    #[serde(default)]
    pub default: Option<serde_json::Value>,
    /// Argument name exposed to the model.
    #[serde(default)]
    pub rename: Option<String>,
    /// Description exposed to the model, replacing the spec's.
    #[serde(default)]
    pub description: Option<String>,
}

/// Parses `tools.yaml`, turning YAML and shape errors into a diagnostic with
/// line and column.
pub fn parse(file: &str, text: &str) -> Result<Manifest, Diagnostic> {
    serde_saphyr::from_str::<Manifest>(text).map_err(|err| {
        let (line, column) = err
            .location()
            .map(|l| (l.line() as usize, l.column() as usize))
            .unwrap_or((0, 0));
        let message = first_line(&err.to_string());
        Diagnostic::error(
            Location::Manifest {
                file: file.to_owned(),
                line,
                column,
                tool: None,
            },
            message,
        )
    })
}

/// The first line of a YAML error, without the `error:` and `line N column M:`
/// prefixes our own location already carries.
fn first_line(message: &str) -> String {
    let mut line = message
        .lines()
        .find(|l| !l.trim().is_empty())
        .unwrap_or(message)
        .trim();
    line = line.strip_prefix("error:").map_or(line, str::trim_start);
    if let Some(rest) = line.strip_prefix("line ")
        && let Some((_, after)) = rest.split_once(": ")
        && rest
            .split(':')
            .next()
            .is_some_and(|pos| pos.contains("column"))
    {
        line = after;
    }
    line.to_owned()
}

/// The manifest location of a spanned value.
pub fn location_of<T>(file: &str, spanned: &Spanned<T>, tool: Option<&str>) -> Location {
    Location::Manifest {
        file: file.to_owned(),
        line: spanned.referenced.line() as usize,
        column: spanned.referenced.column() as usize,
        tool: tool.map(str::to_owned),
    }
}
