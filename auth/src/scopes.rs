//! gojira's own OAuth scopes: what a token lets its client do through
//! gojira, independent of the Atlassian scopes gojira asks of Atlassian.
//!
//! One scope per kind of access a permission group grants (tools.yaml's
//! `access`): `read` tools need `gojira:read`, `write` tools
//! `gojira:write`, `delete` tools `gojira:delete`, `admin` (organization)
//! tools `gojira:org-admin`; gojira's own tools name theirs. A server offers
//! only the scopes its enabled groups need. `offline_access` is accepted in a
//! request and grants nothing (refresh tokens are always issued); it is
//! never offered.

/// Read tools, and reading one's own journal.
pub const READ: &str = "gojira:read";
/// Creating and updating (non-destructive writes), and reverting one's own writes.
pub const WRITE: &str = "gojira:write";
/// Destructive writes (deletes).
pub const DELETE: &str = "gojira:delete";
/// Organization administration.
pub const ORG_ADMIN: &str = "gojira:org-admin";

/// Every scope, least to most powerful.
pub const ALL: [&str; 4] = [READ, WRITE, DELETE, ORG_ADMIN];

/// Asked for by some clients, granting nothing here.
pub(crate) const IGNORED: [&str; 1] = ["offline_access"];

/// What the consent page says a scope allows.
pub fn describe(scope: &str) -> &'static str {
    match scope {
        READ => {
            "read Jira, Jira Service Management, Assets, Confluence and configuration you can see, and your own gojira journal"
        }
        WRITE => {
            "create and change configuration and content (each change previewed, journaled and revertible)"
        }
        DELETE => "delete projects, schemes, fields and other objects",
        ORG_ADMIN => "administer your Atlassian organization (users, groups, domains, policies)",
        _ => "an unknown permission",
    }
}

/// Whether `granted` carries `scope`.
pub fn carries(granted: &[String], scope: &str) -> bool {
    granted.iter().any(|g| g == scope)
}

/// `scopes` in [`ALL`]'s order, without duplicates or unknown names.
pub fn canonical<'a>(scopes: impl IntoIterator<Item = &'a str>) -> Vec<String> {
    let set: std::collections::BTreeSet<&str> = scopes.into_iter().collect();
    ALL.iter()
        .filter(|s| set.contains(*s))
        .map(|s| (*s).to_owned())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn canonical_orders_and_drops_unknown() {
        assert_eq!(
            canonical(["gojira:delete", "x", READ, "gojira:delete"]),
            vec![READ.to_owned(), DELETE.to_owned()]
        );
        assert!(ALL.iter().all(|s| describe(s) != describe("nope")));
    }
}
