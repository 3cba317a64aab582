//! Response shaping: one pagination shape for every paged read, and trimming
//! of answer noise that costs a model context without informing it.
//!
//! Paging: the model passes `cursor` (from the previous answer's
//! `nextCursor`) and `limit`; [`Page::prepare`] turns them into the
//! upstream's own arguments (`startAt`/`maxResults`, `start`/`limit`,
//! `nextPageToken`, `cursor`), and [`Page::finish`] reads the upstream's
//! "is there more" signals and adds `nextCursor` when there is.
//!
//! Cursors are opaque to the model: `o<offset>` or `t<token>`, base64url.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::{Map, Value};

use crate::catalog::{PageStyle, Pagination};
use crate::error::ToolError;

/// Page size asked for when the caller gives no `limit` (the server instructions say so).
pub const DEFAULT_PAGE_SIZE: u32 = 25;

/// Keys removed from answers unless the caller asks for `raw`.
const NOISE_KEYS: [&str; 4] = ["self", "avatarUrls", "expand", "_expandable"];

/// The page a call asked for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Page {
    style: PageStyle,
    offset: u64,
    limit: u32,
}

/// Where the requested page starts.
enum Position {
    Offset(u64),
    Token(String),
}

fn encode(position: &Position) -> String {
    let text = match position {
        Position::Offset(n) => format!("o{n}"),
        Position::Token(t) => format!("t{t}"),
    };
    URL_SAFE_NO_PAD.encode(text)
}

fn decode(cursor: &str) -> Option<Position> {
    let bytes = URL_SAFE_NO_PAD.decode(cursor.trim()).ok()?;
    let text = String::from_utf8(bytes).ok()?;
    match text.split_at_checked(1)? {
        ("o", n) => n.parse().ok().map(Position::Offset),
        ("t", t) if !t.is_empty() => Some(Position::Token(t.to_owned())),
        _ => None,
    }
}

impl Page {
    /// Replaces `cursor`/`limit` in `args` with the upstream's arguments.
    ///
    /// # Errors
    /// A cursor this server did not issue, or one of another paging style.
    pub fn prepare(p: &Pagination, args: &mut Map<String, Value>) -> Result<Self, ToolError> {
        let cursor = args.shift_remove("cursor");
        let limit = args
            .shift_remove("limit")
            .and_then(|v| v.as_u64())
            .map_or(DEFAULT_PAGE_SIZE.min(p.max_limit), |l| {
                l.clamp(1, u64::from(p.max_limit)) as u32
            });
        let position = match cursor {
            None | Some(Value::Null) => None,
            Some(Value::String(c)) if c.is_empty() => None,
            Some(Value::String(c)) => Some(decode(&c).ok_or_else(bad_cursor)?),
            Some(_) => return Err(bad_cursor()),
        };
        let offset = match (p.style, position) {
            (PageStyle::Offset, Some(Position::Offset(n))) => {
                args.insert(p.cursor_arg.to_owned(), Value::from(n));
                n
            }
            (PageStyle::Token, Some(Position::Token(t))) => {
                args.insert(p.cursor_arg.to_owned(), Value::String(t));
                0
            }
            (_, None) => 0,
            (_, Some(_)) => return Err(bad_cursor()),
        };
        if let Some(limit_arg) = p.limit_arg {
            args.insert(limit_arg.to_owned(), Value::from(limit));
        }
        Ok(Self {
            style: p.style,
            offset,
            limit,
        })
    }

    /// Adds `nextCursor` when the upstream says there is more, and (unless
    /// `raw`) drops the upstream's own paging fields.
    pub fn finish(&self, answer: &mut Map<String, Value>, raw: bool) {
        let next = match self.style {
            PageStyle::Offset => self.next_offset(answer).map(Position::Offset),
            PageStyle::Token => next_token(answer).map(Position::Token),
        };
        if !raw {
            let paging_keys: &[&str] = match self.style {
                PageStyle::Offset => &[
                    "startAt",
                    "maxResults",
                    "isLast",
                    "isLastPage",
                    "start",
                    "limit",
                    "size",
                    "nextPage",
                ],
                PageStyle::Token => &["nextPageToken"],
            };
            for key in paging_keys {
                answer.shift_remove(*key);
            }
            for links in ["_links", "links"] {
                if let Some(Value::Object(map)) = answer.get_mut(links) {
                    map.shift_remove("next");
                    if map.is_empty() {
                        answer.shift_remove(links);
                    }
                }
            }
        }
        if let Some(next) = next {
            answer.insert("nextCursor".into(), Value::String(encode(&next)));
        }
    }

    fn next_offset(&self, answer: &Map<String, Value>) -> Option<u64> {
        let count = items(answer)? as u64;
        let last = answer
            .get("isLast")
            .or_else(|| answer.get("isLastPage"))
            .and_then(Value::as_bool);
        let total = answer.get("total").and_then(Value::as_u64);
        let more = match (last, total) {
            (Some(last), _) => !last,
            (None, Some(total)) => self.offset + count < total,
            (None, None) => count >= u64::from(self.limit),
        };
        (more && count > 0).then_some(self.offset + count)
    }
}

/// The number of items on this page: the `values` array, else the first
/// array-valued field, else the whole answer when it is a list.
fn items(answer: &Map<String, Value>) -> Option<usize> {
    if let Some(Value::Array(v)) = answer.get("values") {
        return Some(v.len());
    }
    answer.values().find_map(|v| v.as_array().map(Vec::len))
}

/// The next token: `nextPageToken`, or the `cursor` of a `next` link
/// (`_links.next` in Confluence, `links.next` in the admin API, which may
/// be a URL or the bare cursor).
fn next_token(answer: &Map<String, Value>) -> Option<String> {
    if let Some(Value::String(t)) = answer.get("nextPageToken")
        && !t.is_empty()
    {
        return Some(t.clone());
    }
    let next = ["_links", "links"]
        .iter()
        .find_map(|k| answer.get(*k)?.get("next")?.as_str())?;
    if next.is_empty() {
        return None;
    }
    if !next.contains('?') && !next.contains('/') {
        return Some(next.to_owned());
    }
    let query = next.split_once('?')?.1;
    url::form_urlencoded::parse(query.as_bytes())
        .find(|(k, _)| k == "cursor")
        .map(|(_, v)| v.into_owned())
        .filter(|v| !v.is_empty())
}

fn bad_cursor() -> ToolError {
    ToolError::invalid_arguments(
        "cursor is not one this tool issued. Next: pass nextCursor from this tool's previous answer, or omit cursor for the first page",
    )
}

/// Removes noise keys (`self` links, avatar URL maps, `expand` echoes,
/// `_expandable`) at any depth, keeping the other keys in their order
/// (`shift_remove`: with `preserve_order`, `Map::remove` swaps the last key
/// into the hole); returns how many bytes of JSON it saved
/// (approximately: the serialized size of what it removed).
pub fn trim(value: &mut Value) -> usize {
    match value {
        Value::Object(map) => {
            let mut saved = 0;
            for key in NOISE_KEYS {
                let noise = match map.get(key) {
                    Some(Value::String(_)) => key != "avatarUrls",
                    Some(Value::Object(_)) => key == "avatarUrls" || key == "_expandable",
                    _ => false,
                };
                if noise && let Some(removed) = map.shift_remove(key) {
                    saved += key.len() + 4 + json_len(&removed);
                }
            }
            saved + map.values_mut().map(trim).sum::<usize>()
        }
        Value::Array(items) => items.iter_mut().map(trim).sum(),
        _ => 0,
    }
}

fn json_len(value: &Value) -> usize {
    serde_json::to_vec(value).map_or(0, |v| v.len())
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use serde_json::json;

    const OFFSET: Pagination = Pagination {
        style: PageStyle::Offset,
        cursor_arg: "startAt",
        limit_arg: Some("maxResults"),
        max_limit: 100,
    };
    const TOKEN: Pagination = Pagination {
        style: PageStyle::Token,
        cursor_arg: "cursor",
        limit_arg: Some("limit"),
        max_limit: 250,
    };

    fn obj(v: Value) -> Map<String, Value> {
        v.as_object().unwrap().clone()
    }

    #[test]
    fn first_page_gets_the_default_size_and_no_offset() {
        let mut args = obj(json!({"query": "x"}));
        let page = Page::prepare(&OFFSET, &mut args).unwrap();
        assert_eq!(args, obj(json!({"query": "x", "maxResults": 25})));
        assert_eq!(page.offset, 0);
    }

    #[test]
    fn offset_pages_follow_is_last_then_total_then_a_full_page() {
        let mut args = obj(json!({"limit": 2}));
        let page = Page::prepare(&OFFSET, &mut args).unwrap();
        let mut answer = obj(
            json!({"startAt": 0, "maxResults": 2, "total": 5, "isLast": false, "values": [1, 2]}),
        );
        page.finish(&mut answer, false);
        let cursor = answer["nextCursor"].as_str().unwrap().to_owned();
        assert_eq!(answer.len(), 3, "paging fields dropped: {answer:?}");

        let mut args = obj(json!({"cursor": cursor, "limit": 2}));
        let page = Page::prepare(&OFFSET, &mut args).unwrap();
        assert_eq!(args, obj(json!({"startAt": 2, "maxResults": 2})));
        let mut answer = obj(json!({"total": 5, "values": [3, 4]}));
        page.finish(&mut answer, false);
        assert!(answer.contains_key("nextCursor"), "4 of 5 seen");
        let mut done = obj(json!({"total": 4, "values": [3, 4]}));
        page.finish(&mut done, false);
        assert!(!done.contains_key("nextCursor"), "total reached");
        let mut last = obj(json!({"isLastPage": true, "values": [3, 4]}));
        page.finish(&mut last, false);
        assert!(!last.contains_key("nextCursor"));
        let mut unsignalled = obj(json!({"issues": [3, 4]}));
        page.finish(&mut unsignalled, false);
        assert!(
            unsignalled.contains_key("nextCursor"),
            "a full page may have more"
        );
    }

    #[test]
    fn token_pages_take_the_cursor_from_next_links() {
        let mut args = obj(json!({}));
        let page = Page::prepare(&TOKEN, &mut args).unwrap();
        let mut answer = obj(
            json!({"results": [1], "_links": {"next": "/api/v2/spaces?cursor=abc%3D&limit=25", "base": "x"}}),
        );
        page.finish(&mut answer, false);
        assert_eq!(answer["_links"], json!({"base": "x"}));
        let mut args = obj(json!({"cursor": answer["nextCursor"].clone()}));
        Page::prepare(&TOKEN, &mut args).unwrap();
        assert_eq!(args["cursor"], "abc=");

        let mut org = obj(json!({"data": [], "links": {"next": "bare-cursor"}}));
        page.finish(&mut org, true);
        assert!(
            org["links"]["next"].is_string(),
            "raw keeps the upstream's fields"
        );
        let mut args = obj(json!({"cursor": org["nextCursor"].clone()}));
        Page::prepare(&TOKEN, &mut args).unwrap();
        assert_eq!(args["cursor"], "bare-cursor");
    }

    #[test]
    fn foreign_or_mismatched_cursors_are_refused_and_limits_clamped() {
        for bad in [
            json!("not base64!"),
            json!(7),
            json!(URL_SAFE_NO_PAD.encode("tabc")),
        ] {
            let mut args = obj(json!({"cursor": bad}));
            let err = Page::prepare(&OFFSET, &mut args).unwrap_err();
            assert!(err.message.contains("nextCursor"), "{err}");
        }
        let mut args = obj(json!({"limit": 10_000}));
        Page::prepare(&OFFSET, &mut args).unwrap();
        assert_eq!(args["maxResults"], 100);
    }

    #[test]
    fn trimming_and_paging_keep_the_answers_key_order() {
        let mut v = json!({"self": "s", "id": "1", "expand": "e", "name": "n",
                           "avatarUrls": {"x": "y"}, "lead": {"self": "s", "a": 1, "b": 2}, "last": true});
        trim(&mut v);
        assert_eq!(
            serde_json::to_string(&v).unwrap(),
            r#"{"id":"1","name":"n","lead":{"a":1,"b":2},"last":true}"#
        );
        let mut args = obj(json!({}));
        let page = Page::prepare(&OFFSET, &mut args).unwrap();
        let mut answer = obj(json!({"startAt": 0, "values": [1], "maxResults": 1,
                                    "_links": {"next": "n", "base": "b", "context": "c"}, "total": 1, "tail": 0}));
        page.finish(&mut answer, false);
        assert_eq!(
            serde_json::to_string(&answer).unwrap(),
            r#"{"values":[1],"_links":{"base":"b","context":"c"},"total":1,"tail":0}"#
        );
    }

    #[test]
    fn trim_removes_noise_at_depth_and_counts_bytes() {
        let mut v = json!({
            "self": "https://x/api/item/1",
            "expand": "description,lead",
            "key": "P",
            "lead": {"self": "https://x/user", "avatarUrls": {"48x48": "https://a/48"}, "name": "n"},
            "components": [{"self": "https://x/c/1", "id": "1"}],
            "selfish": "kept",
            "expandNotAString": {"self": 1}
        });
        let before = json_len(&v);
        let saved = trim(&mut v);
        assert_eq!(
            v,
            json!({"key": "P", "lead": {"name": "n"}, "components": [{"id": "1"}], "selfish": "kept", "expandNotAString": {"self": 1}})
        );
        let after = json_len(&v);
        assert!(
            saved > 0 && saved.abs_diff(before - after) <= 8,
            "saved {saved}, actual {}",
            before - after
        );
    }
}
