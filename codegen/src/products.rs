//! Checks of tools.yaml's `products:` block, each problem a diagnostic at the
//! value's line and column:
//!
//! - `spec` names one of the spec files regen was given (those
//!   `specs/sources.yaml` records);
//! - `base_url` starts with a root placeholder (`{jira}`, `{confluence}` or
//!   `{api}`: configuration decides the scheme and host, never the manifest),
//!   followed by nothing or a `/` path, and every placeholder is one the
//!   runtime fills ([`crate::placeholders::PLACEHOLDERS`]);
//! - `auth` can reach that base URL: the runtime sends the organization API
//!   key, checks the caller's org-admin role and writes the org-admin audit
//!   log for `org_admin` products only, and checks the role below their base
//!   URL, so `org_admin` goes with [`crate::placeholders::ORG_ADMIN_BASE_URL`]
//!   and nothing else goes there.

use std::collections::BTreeMap;

use crate::diagnostics::Diagnostic;
use crate::manifest::{self, AuthKind, Manifest};
use crate::placeholders::{ORG_ADMIN_BASE_URL, PLACEHOLDERS};

/// One piece of a base-URL template.
#[derive(Debug, PartialEq, Eq)]
enum Part<'a> {
    Literal(&'a str),
    Placeholder(&'a str),
}

/// Checks every product; `specs` holds the spec files regen was given.
pub fn check<V>(file: &str, manifest: &Manifest, specs: &BTreeMap<String, V>) -> Vec<Diagnostic> {
    let mut out = Vec::new();
    for (key, product) in &manifest.products {
        let spec = &product.spec;
        if !specs.contains_key(&spec.value) {
            let given: Vec<&str> = specs.keys().map(String::as_str).collect();
            let near = nearest(&spec.value, &given);
            let hint = if near.is_empty() {
                String::new()
            } else {
                format!("; nearest: {}", near.join(", "))
            };
            out.push(Diagnostic::error(
                manifest::location_of(file, spec, None),
                format!(
                    "product {key}: spec file {} is not one of the specs specs/sources.yaml records{hint}. \
                     A new spec is recorded there first (file, product, url; then `cargo xtask fetch-specs --accept-drift` downloads it and records its sha256); recorded: {}",
                    spec.value,
                    given.join(", ")
                ),
            ));
        }
        let base_loc = manifest::location_of(file, &product.base_url, None);
        let base = product.base_url.value.as_str();
        let problems = base_url_problems(base);
        let base_ok = problems.is_empty();
        out.extend(problems.into_iter().map(|message| {
            Diagnostic::error(
                base_loc.clone(),
                format!("product {key}: base_url {base:?} {message}"),
            )
        }));
        if base_ok && let Some(message) = auth_problem(product.auth.value, base) {
            out.push(Diagnostic::error(
                manifest::location_of(file, &product.auth, None),
                format!("product {key}: {message}"),
            ));
        }
    }
    out
}

/// Why `base` is not a base URL the runtime can expand into a URL the
/// operator configured; empty when it is.
fn base_url_problems(base: &str) -> Vec<String> {
    let parts = match split(base) {
        Ok(parts) => parts,
        Err(message) => return vec![message],
    };
    let mut problems = Vec::new();
    for name in parts.iter().filter_map(|p| match p {
        Part::Placeholder(name) => Some(*name),
        Part::Literal(_) => None,
    }) {
        if !PLACEHOLDERS.iter().any(|p| p.name == name) {
            let known: Vec<&str> = PLACEHOLDERS.iter().map(|p| p.name).collect();
            let near = nearest(name, &known);
            let hint = match near.as_slice() {
                [] => String::new(),
                near => format!(
                    "; nearest: {}",
                    near.iter()
                        .map(|n| format!("{{{n}}}"))
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
            };
            problems.push(format!(
                "uses {{{name}}}, which no configuration variable fills{hint} (known: {})",
                braced(PLACEHOLDERS.iter().map(|p| p.name))
            ));
        }
    }
    let roots = || braced(PLACEHOLDERS.iter().filter(|p| p.root).map(|p| p.name));
    match parts.first() {
        Some(Part::Placeholder(name)) if is_root(name) => {}
        Some(Part::Literal(literal)) => problems.push(format!(
            "starts with the literal {literal:?}; start it with {} so that configuration decides the scheme and host (a literal host would take the credential where the operator configured nothing, and the sandbox could not redirect it)",
            roots()
        )),
        Some(Part::Placeholder(name)) => problems.push(format!(
            "starts with {{{name}}}, which is not a scheme and host; start it with {}",
            roots()
        )),
        None => problems.push(format!("is empty; start it with {}", roots())),
    }
    for part in parts.iter().skip(1) {
        if let Part::Placeholder(name) = part
            && is_root(name)
        {
            problems.push(format!(
                "uses {{{name}}} after its start; it expands to a scheme and host, so it can only start a base URL"
            ));
        }
    }
    // What follows the root stays on the configured host: a path or nothing.
    if parts
        .first()
        .is_some_and(|p| matches!(p, Part::Placeholder(n) if is_root(n)))
    {
        let next = match parts.get(1) {
            Some(Part::Literal(next)) if !next.starts_with('/') => Some(format!("{next:?}")),
            Some(Part::Placeholder(name)) => Some(format!("{{{name}}}")),
            _ => None,
        };
        if let Some(next) = next {
            problems.push(format!(
                "continues its root with {next}, which would change the host; follow it with a path (`/…`) or nothing"
            ));
        }
    }
    if let Some(bad) = base
        .chars()
        .find(|c| matches!(c, '?' | '#' | '\\') || c.is_whitespace() || c.is_control())
    {
        problems.push(format!(
            "contains {bad:?}; the operation's path is appended to the base URL, so it holds only a path"
        ));
    }
    if base.ends_with('/') {
        problems.push(
            "ends with `/`; operation paths start with one, so the request would have `//`"
                .to_owned(),
        );
    }
    problems
}

/// Why `auth` cannot reach `base`, if it cannot.
fn auth_problem(auth: AuthKind, base: &str) -> Option<String> {
    let admin_api =
        base == ORG_ADMIN_BASE_URL || base.starts_with(&format!("{ORG_ADMIN_BASE_URL}/"));
    match auth {
        AuthKind::OrgAdmin if base != ORG_ADMIN_BASE_URL => Some(format!(
            "auth: org_admin sends the organization API key, and the runtime checks the caller's org-admin role below the base URL of an org_admin product (`/v2/orgs/{{orgId}}/…/role-assignments`), so an org_admin product's base_url is {ORG_ADMIN_BASE_URL}, not {base:?}"
        )),
        AuthKind::Oauth | AuthKind::ApiToken if admin_api => Some(format!(
            "base_url {base:?} is the organization admin API, which only the organization API key reaches, and the runtime sends it, checks the caller's org-admin role and writes the org-admin audit log only for products with auth: org_admin; use auth: org_admin (base_url {ORG_ADMIN_BASE_URL})"
        )),
        _ => None,
    }
}

fn is_root(name: &str) -> bool {
    PLACEHOLDERS.iter().any(|p| p.root && p.name == name)
}

fn braced<'a>(names: impl Iterator<Item = &'a str>) -> String {
    names
        .map(|n| format!("{{{n}}}"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// Splits a template into literals and placeholders, refusing an unclosed
/// `{`, a stray `}` and an empty `{}` (the runtime would copy them into the
/// URL as they are).
fn split(template: &str) -> Result<Vec<Part<'_>>, String> {
    let mut parts = Vec::new();
    let mut rest = template;
    while !rest.is_empty() {
        let open = rest.find('{');
        let close = rest.find('}');
        match (open, close) {
            (_, Some(c)) if open.is_none_or(|o| c < o) => {
                return Err("has a `}` that closes no placeholder".to_owned());
            }
            (Some(o), _) => {
                if o > 0 {
                    parts.push(Part::Literal(&rest[..o]));
                }
                let after = &rest[o + 1..];
                let Some(end) = after.find('}') else {
                    return Err("has a `{` that is never closed".to_owned());
                };
                let name = &after[..end];
                if name.is_empty() || name.contains('{') {
                    return Err(format!("has `{{{name}}}`, which is not a placeholder name"));
                }
                parts.push(Part::Placeholder(name));
                rest = &after[end + 1..];
            }
            (None, _) => {
                parts.push(Part::Literal(rest));
                rest = "";
            }
        }
    }
    Ok(parts)
}

/// Up to two known names near `name` (case-insensitive Jaro-Winkler, which
/// favours a shared prefix: `workspace` → `workspaceId`).
fn nearest<'a>(name: &str, known: &[&'a str]) -> Vec<&'a str> {
    let lower = name.to_ascii_lowercase();
    let mut scored: Vec<(f64, &'a str)> = known
        .iter()
        .map(|k| (strsim::jaro_winkler(&lower, &k.to_ascii_lowercase()), *k))
        .filter(|(score, _)| *score >= 0.75)
        .collect();
    scored.sort_by(|a, b| b.0.total_cmp(&a.0).then_with(|| a.1.cmp(b.1)));
    scored.into_iter().take(2).map(|(_, k)| k).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_shipped_base_urls_pass() {
        for (base, auth) in [
            ("{jira}", AuthKind::Oauth),
            ("{jira}", AuthKind::ApiToken),
            ("{confluence}/wiki/api/v2", AuthKind::Oauth),
            (
                "{api}/jsm/assets/workspace/{workspaceId}/v1",
                AuthKind::ApiToken,
            ),
            ("{api}/admin", AuthKind::OrgAdmin),
            ("{api}/automation/public/jira/{cloudId}", AuthKind::ApiToken),
        ] {
            assert_eq!(base_url_problems(base), Vec::<String>::new(), "{base}");
            assert_eq!(auth_problem(auth, base), None, "{base}");
        }
    }

    #[test]
    fn templates_split_into_literals_and_placeholders() {
        assert_eq!(
            split("{api}/w/{workspaceId}/v1"),
            Ok(vec![
                Part::Placeholder("api"),
                Part::Literal("/w/"),
                Part::Placeholder("workspaceId"),
                Part::Literal("/v1"),
            ])
        );
        assert!(split("{api").is_err());
        assert!(split("api}/x").is_err());
        assert!(split("{api}/{}").is_err());
        assert!(split("{a{pi}").is_err());
    }

    #[test]
    fn a_root_cannot_be_followed_by_anything_but_a_path() {
        assert_eq!(base_url_problems("{api}.evil.example").len(), 1);
        assert_eq!(base_url_problems("{jira}:8443/x").len(), 1);
        assert_eq!(base_url_problems("{jira}{orgId}").len(), 1);
        assert_eq!(base_url_problems("{jira}/{orgId}").len(), 0);
    }
}
