//! The indexed [`Catalog`] the server serves, and (re-exported from
//! `gojira-catalog-types`, so that the generated catalog does not depend on
//! the runtime) the types generated code fills in: dependency inversion,
//! `gojira-generated` instantiates them and the runtime serves them.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::sync::{Arc, OnceLock};

use serde_json::Value;

pub use gojira_catalog_types::{
    Access, Annotations, ArgsError, AuthKind, Group, Method, PageStyle, Pagination, Product,
    ToolArgs, ToolSpec, UpstreamRequest, build, leaves_its_segment,
};

/// The OAuth scope a token needs for a tool of a group with this access
/// (`gojira_auth::scopes`); `None` for gojira's own tools, which name theirs.
/// (A function rather than a method: `Access` lives in `gojira-catalog-types`,
/// which knows nothing of OAuth.)
pub fn access_scope(access: Access) -> Option<&'static str> {
    use gojira_auth::scopes;
    match access {
        Access::Read => Some(scopes::READ),
        Access::Write => Some(scopes::WRITE),
        Access::Delete => Some(scopes::DELETE),
        Access::Admin => Some(scopes::ORG_ADMIN),
        Access::Utility => None,
    }
}

/// A tool ready to serve: its spec, and its schemas and validator, parsed
/// and compiled on first use (a server that never lists or calls a tool
/// never holds its parsed schemas: memory at ready does not grow with the
/// catalog).
pub struct Tool {
    /// The generated definition.
    pub spec: &'static ToolSpec,
    input: OnceLock<Arc<serde_json::Map<String, Value>>>,
    output: OnceLock<Option<Arc<serde_json::Map<String, Value>>>>,
    validator: OnceLock<Result<jsonschema::Validator, String>>,
}

impl fmt::Debug for Tool {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Tool")
            .field("name", &self.spec.name)
            .finish()
    }
}

impl Tool {
    fn new(spec: &'static ToolSpec) -> Self {
        Self {
            spec,
            input: OnceLock::new(),
            output: OnceLock::new(),
            validator: OnceLock::new(),
        }
    }

    /// The input schema, shared with the listed MCP tool (one copy in
    /// memory). A generated schema that does not parse (a generator bug the
    /// tests catch) becomes one that accepts nothing, so the tool refuses
    /// every call rather than accepting any.
    pub fn input_schema(&self) -> &Arc<serde_json::Map<String, Value>> {
        self.input.get_or_init(|| {
            Arc::new(
                parse_object(self.spec.name, "input", self.spec.input_schema).unwrap_or_else(|e| {
                    tracing::error!(error = %e, "tool refused: its input schema is unreadable");
                    let mut refuse = serde_json::Map::new();
                    refuse.insert("not".into(), Value::Object(serde_json::Map::new()));
                    refuse
                }),
            )
        })
    }

    /// The output schema (none when the generated one does not parse).
    pub fn output_schema(&self) -> Option<&Arc<serde_json::Map<String, Value>>> {
        self.output
            .get_or_init(|| {
                let text = self.spec.output_schema?;
                parse_object(self.spec.name, "output", text)
                    .map_err(|e| tracing::error!(error = %e, "output schema left out"))
                    .ok()
                    .map(Arc::new)
            })
            .as_ref()
    }

    /// Validates arguments against the input schema; the error lists every
    /// violation with its JSON pointer.
    pub fn validate(&self, args: &Value) -> Result<(), String> {
        validate_lazily(&self.validator, self.input_schema(), args)
    }
}

/// Validates `args` against `schema`, compiling the validator on first use
/// (compiling every tool's at start-up would cost memory for tools never
/// called). The error lists every violation with its path.
pub fn validate_lazily(
    cell: &OnceLock<Result<jsonschema::Validator, String>>,
    schema: &serde_json::Map<String, Value>,
    args: &Value,
) -> Result<(), String> {
    let validator = cell.get_or_init(|| {
        jsonschema::draft7::new(&Value::Object(schema.clone())).map_err(|e| e.to_string())
    });
    let validator = match validator {
        Ok(v) => v,
        Err(e) => {
            return Err(format!(
                "the tool's input schema is invalid ({e}); report this to the operator"
            ));
        }
    };
    let problems: Vec<String> = validator
        .iter_errors(args)
        .map(|e| {
            let at = e.instance_path().to_string();
            if at.is_empty() {
                e.to_string()
            } else {
                format!("{}: {e}", at.trim_start_matches('/').replace('/', "."))
            }
        })
        .collect();
    if problems.is_empty() {
        Ok(())
    } else {
        Err(problems.join("; "))
    }
}

/// Errors building the catalog.
#[derive(Debug, thiserror::Error)]
pub enum CatalogError {
    /// A generated schema is not valid JSON (a generator bug).
    #[error("tool {tool}: {kind} schema is not a JSON object: {message}")]
    BadSchema {
        /// Tool.
        tool: &'static str,
        /// input/output.
        kind: &'static str,
        /// Parser message.
        message: String,
    },
    /// Unknown group names in the allowlist.
    #[error("unknown permission group(s) {unknown:?}; valid groups: {valid}")]
    UnknownGroups {
        /// The bad names.
        unknown: Vec<String>,
        /// All valid names, comma-separated.
        valid: String,
    },
}

/// The served catalog: products, groups and tools by name.
#[derive(Debug)]
pub struct Catalog {
    /// Products by key.
    pub products: BTreeMap<&'static str, &'static Product>,
    /// Groups by name.
    pub groups: BTreeMap<&'static str, &'static Group>,
    /// Tools by name, in name order.
    pub tools: BTreeMap<&'static str, Tool>,
}

impl Catalog {
    /// Indexes generated statics.
    pub fn new(
        products: &'static [Product],
        groups: &'static [Group],
        toolsets: &[&'static [ToolSpec]],
    ) -> Result<Self, CatalogError> {
        let mut tools = BTreeMap::new();
        for spec in toolsets.iter().flat_map(|set| set.iter()) {
            tools.insert(spec.name, Tool::new(spec));
        }
        Ok(Self {
            products: products.iter().map(|p| (p.key, p)).collect(),
            groups: groups.iter().map(|g| (g.name, g)).collect(),
            tools,
        })
    }

    /// Checks an allowlist against the declared groups.
    pub fn check_groups(&self, names: &BTreeSet<String>) -> Result<(), CatalogError> {
        let unknown: Vec<String> = names
            .iter()
            .filter(|n| !self.groups.contains_key(n.as_str()))
            .cloned()
            .collect();
        if unknown.is_empty() {
            Ok(())
        } else {
            Err(CatalogError::UnknownGroups {
                unknown,
                valid: self.groups.keys().copied().collect::<Vec<_>>().join(", "),
            })
        }
    }
}

fn parse_object(
    tool: &'static str,
    kind: &'static str,
    text: &str,
) -> Result<serde_json::Map<String, Value>, CatalogError> {
    match serde_json::from_str::<Value>(text) {
        Ok(Value::Object(map)) => Ok(map),
        Ok(_) => Err(CatalogError::BadSchema {
            tool,
            kind,
            message: "not an object".into(),
        }),
        Err(e) => Err(CatalogError::BadSchema {
            tool,
            kind,
            message: e.to_string(),
        }),
    }
}
