//! Path templates and request routing.
//!
//! A template such as `/rest/api/3/project/{projectIdOrKey}` is a list of
//! segments, each literal or variable. A request path matches a template with
//! the same number of segments whose literals are equal; variables match any
//! single segment. When several templates match, the one with more literal
//! segments wins, then the one whose first literal comes earlier
//! (`/project/search` beats `/project/{projectIdOrKey}`). A variable may match
//! an empty segment only as a last resort, so that `/project/` is reported as a
//! missing path parameter instead of an unknown path.

use std::collections::HashMap;

/// One segment of a path template.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Segment {
    /// Must equal the request segment (after percent-decoding).
    Literal(String),
    /// Captures the request segment under this name.
    Var(String),
}

/// A parsed path template.
#[derive(Debug, Clone)]
pub(crate) struct Template {
    /// The template as written (`/rest/api/3/project/{projectIdOrKey}`).
    pub(crate) text: String,
    /// Its segments (the leading empty segment before the first `/` excluded).
    pub(crate) segments: Vec<Segment>,
}

impl Template {
    /// Parse a template; `{name}` segments are variables.
    pub(crate) fn parse(text: &str) -> Self {
        let segments = split_path(text)
            .into_iter()
            .map(|seg| {
                match seg
                    .strip_prefix('{')
                    .and_then(|s| s.strip_suffix('}'))
                    .filter(|name| !name.contains(['{', '}']))
                {
                    Some(name) => Segment::Var(name.to_string()),
                    None => Segment::Literal(seg.to_string()),
                }
            })
            .collect();
        Self {
            text: text.to_string(),
            segments,
        }
    }

    /// Names of the template's variables, in order.
    pub(crate) fn var_names(&self) -> impl Iterator<Item = &str> {
        self.segments.iter().filter_map(|s| match s {
            Segment::Var(name) => Some(name.as_str()),
            Segment::Literal(_) => None,
        })
    }

    /// Whether the last segment is a variable (an "item" template).
    pub(crate) fn ends_with_var(&self) -> bool {
        matches!(self.segments.last(), Some(Segment::Var(_)))
    }

    /// The template without its last segment, as text.
    pub(crate) fn parent_text(&self) -> Option<&str> {
        self.text.rfind('/').map(|i| &self.text[..i])
    }

    /// The collection template a POST on this template creates in: the
    /// template itself, or its parent for `.../create`.
    pub(crate) fn create_collection(&self) -> Option<&str> {
        match self.segments.last() {
            Some(Segment::Literal(last)) if last == "create" => self.parent_text(),
            Some(_) => Some(&self.text),
            None => None,
        }
    }

    /// Match decoded request segments; returns captured variables and a score.
    fn matches(&self, request: &[String]) -> Option<(Vec<(String, String)>, Score)> {
        if request.len() != self.segments.len() {
            return None;
        }
        let mut captures = Vec::new();
        let mut literal_mask = Vec::with_capacity(request.len());
        let mut empty_vars = 0usize;
        for (seg, value) in self.segments.iter().zip(request) {
            match seg {
                Segment::Literal(lit) => {
                    if lit != value {
                        return None;
                    }
                    literal_mask.push(true);
                }
                Segment::Var(name) => {
                    if value.is_empty() {
                        empty_vars += 1;
                    }
                    captures.push((name.clone(), value.clone()));
                    literal_mask.push(false);
                }
            }
        }
        let literals = literal_mask.iter().filter(|b| **b).count();
        Some((
            captures,
            Score {
                no_empty: empty_vars == 0,
                literals,
                literal_mask,
            },
        ))
    }
}

/// The best match so far: score, route index, captures.
type Best = (Score, usize, Vec<(String, String)>);

/// Ranking of a match: higher is better (field order matters for `Ord`).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
struct Score {
    no_empty: bool,
    literals: usize,
    literal_mask: Vec<bool>,
}

/// Split a path into segments: `/a/b/` → `["a", "b", ""]`, `/` → `[""]`.
pub(crate) fn split_path(path: &str) -> Vec<&str> {
    let trimmed = path.strip_prefix('/').unwrap_or(path);
    trimmed.split('/').collect()
}

/// Percent-decode one path segment.
pub(crate) fn decode_segment(segment: &str) -> String {
    percent_encoding::percent_decode_str(segment)
        .decode_utf8_lossy()
        .into_owned()
}

/// The outcome of routing a request.
#[derive(Debug)]
pub(crate) enum RouteMatch {
    /// The operation at this index, with the captured (decoded) path variables.
    Found {
        /// Index into the route table.
        index: usize,
        /// Captured variables, in template order.
        params: Vec<(String, String)>,
    },
    /// The path matches a template, but not with this method.
    MethodNotAllowed {
        /// Methods that the matching templates accept.
        allowed: Vec<String>,
    },
    /// No template matches.
    NotFound,
}

/// Route table: templates with methods, indexed by segment count.
#[derive(Debug, Default)]
pub(crate) struct RouteTable {
    entries: Vec<(String, Template)>,
    by_len: HashMap<usize, Vec<usize>>,
}

impl RouteTable {
    /// Add a route; its index is the number of routes added before it.
    pub(crate) fn push(&mut self, method: &str, template: Template) {
        let index = self.entries.len();
        self.by_len
            .entry(template.segments.len())
            .or_default()
            .push(index);
        self.entries.push((method.to_ascii_uppercase(), template));
    }

    /// Find the operation for `method` and `path` (the raw, still encoded path).
    pub(crate) fn route(&self, method: &str, path: &str) -> RouteMatch {
        let request: Vec<String> = split_path(path).into_iter().map(decode_segment).collect();
        let Some(candidates) = self.by_len.get(&request.len()) else {
            return RouteMatch::NotFound;
        };
        let mut best: Option<Best> = None;
        let mut allowed: Vec<String> = Vec::new();
        let mut path_matched = false;
        for &index in candidates {
            let Some((m, template)) = self.entries.get(index) else {
                continue;
            };
            let Some((captures, score)) = template.matches(&request) else {
                continue;
            };
            path_matched = true;
            if !m.eq_ignore_ascii_case(method) {
                if !allowed.contains(m) {
                    allowed.push(m.clone());
                }
                continue;
            }
            let better = best.as_ref().is_none_or(|(s, _, _)| score > *s);
            if better {
                best = Some((score, index, captures));
            }
        }
        match best {
            Some((_, index, params)) => RouteMatch::Found { index, params },
            None if path_matched => {
                allowed.sort();
                RouteMatch::MethodNotAllowed { allowed }
            }
            None => RouteMatch::NotFound,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn table(routes: &[(&str, &str)]) -> RouteTable {
        let mut t = RouteTable::default();
        for (m, p) in routes {
            t.push(m, Template::parse(p));
        }
        t
    }

    #[test]
    fn literal_beats_variable() {
        let t = table(&[
            ("GET", "/rest/api/3/project/{projectIdOrKey}"),
            ("GET", "/rest/api/3/project/search"),
        ]);
        match t.route("GET", "/rest/api/3/project/search") {
            RouteMatch::Found { index, .. } => assert_eq!(index, 1),
            other => panic!("{other:?}"),
        }
        match t.route("GET", "/rest/api/3/project/ABC") {
            RouteMatch::Found { index, params } => {
                assert_eq!(index, 0);
                assert_eq!(params, vec![("projectIdOrKey".into(), "ABC".into())]);
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn method_not_allowed_and_not_found() {
        let t = table(&[("GET", "/a/{x}"), ("DELETE", "/a/{x}")]);
        match t.route("PATCH", "/a/1") {
            RouteMatch::MethodNotAllowed { allowed } => assert_eq!(allowed, vec!["DELETE", "GET"]),
            other => panic!("{other:?}"),
        }
        assert!(matches!(t.route("GET", "/b"), RouteMatch::NotFound));
    }

    #[test]
    fn empty_segment_matches_only_as_last_resort() {
        let t = table(&[("GET", "/a/{x}")]);
        match t.route("GET", "/a/") {
            RouteMatch::Found { params, .. } => assert_eq!(params[0].1, ""),
            other => panic!("{other:?}"),
        }
        match t.route("GET", "/a/x%20y") {
            RouteMatch::Found { params, .. } => assert_eq!(params[0].1, "x y"),
            other => panic!("{other:?}"),
        }
    }
}
