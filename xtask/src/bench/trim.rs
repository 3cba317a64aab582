//! Trimming: what dropping `self` links, avatar URL maps and `expand` echoes
//! saves. Every read-only tool whose input schema offers `raw` is called with
//! minimal arguments, once with `raw: true` and once without, and the bytes
//! of `structuredContent` are compared. The fake synthesizes minimal answers
//! from the spec schemas (required properties only), and specs seldom require
//! `self`, `avatarUrls` or `expand`: the figure is a floor, not what a real
//! site's answers would save.

use std::fmt::Write as _;

use serde_json::{Map, Value, json};

use super::client::Mcp;
use super::{Report, ServerCmd};

/// Runs the trim part; returns the printed summary.
pub fn run(servers: &ServerCmd, fake_url: &str, report: &mut Report) -> anyhow::Result<String> {
    let server = servers.start(fake_url, &[])?;
    let mut mcp = Mcp::connect(&server.url)?;
    let (list, _, _) = mcp.call("tools/list", json!({}))?;
    let tools = list["result"]["tools"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    let trimming: Vec<&Value> = tools
        .iter()
        .filter(|t| t["annotations"]["readOnlyHint"] == json!(true))
        .filter(|t| t["inputSchema"]["properties"].get("raw").is_some())
        .collect();
    let mut raw_total = 0usize;
    let mut trimmed_total = 0usize;
    let mut measured = 0usize;
    let mut failed = Vec::new();
    let mut per_tool = Vec::new();
    for tool in &trimming {
        let name = tool["name"].as_str().unwrap_or_default();
        let args = minimal(&tool["inputSchema"]);
        let mut raw_args = args.clone();
        raw_args["raw"] = json!(true);
        let raw = structured_bytes(&mut mcp, name, raw_args)?;
        let trimmed = structured_bytes(&mut mcp, name, args)?;
        match (raw, trimmed) {
            (Some(r), Some(t)) => {
                raw_total += r;
                trimmed_total += t;
                measured += 1;
                per_tool.push((r.saturating_sub(t), r, t, name.to_owned()));
            }
            _ => failed.push(name.to_owned()),
        }
    }
    per_tool.sort_by(|a, b| b.cmp(a));
    let saved_pct = if raw_total == 0 {
        0.0
    } else {
        100.0 * (raw_total.saturating_sub(trimmed_total)) as f64 / raw_total as f64
    };
    let mean = |total: usize| total as f64 / measured.max(1) as f64;
    per_tool.retain(|(saved, ..)| *saved > 0);
    let top: Vec<Value> = per_tool
        .iter()
        .take(5)
        .map(|(saved, r, t, name)| json!({"tool": name, "raw": r, "trimmed": t, "saved": saved}))
        .collect();
    report.insert(
        "trim",
        json!({
            "tools_offering_raw": trimming.len(),
            "tools_measured": measured,
            "tools_failed": failed,
            "structured_bytes_raw_total": raw_total,
            "structured_bytes_trimmed_total": trimmed_total,
            "structured_bytes_raw_mean": (mean(raw_total) * 10.0).round() / 10.0,
            "structured_bytes_trimmed_mean": (mean(trimmed_total) * 10.0).round() / 10.0,
            "saved_pct": (saved_pct * 10.0).round() / 10.0,
            "top_savers": top,
            "tools_saving_any": per_tool.len(),
            "note": "the fake synthesizes required properties only, which seldom include the trimmed keys: a floor",
        }),
    );
    let mut text = format!(
        "trim: {measured} of {} read-only tools offering `raw` (minimal arguments)\n  \
         structuredContent bytes: raw {raw_total} (mean {:.1}), trimmed {trimmed_total} (mean {:.1}), saved {saved_pct:.1} %\n  \
         {} tools saved any bytes; the fake synthesizes required properties only, which seldom \
         include self/avatarUrls/expand, so this is a floor\n",
        trimming.len(),
        mean(raw_total),
        mean(trimmed_total),
        per_tool.len(),
    );
    for (saved, r, t, name) in per_tool.iter().take(5) {
        let _ = writeln!(text, "  {name}: {r} -> {t} bytes (-{saved})");
    }
    if !failed.is_empty() {
        let _ = writeln!(text, "  failed (not counted): {}", failed.join(", "));
    }
    text.push('\n');
    Ok(text)
}

/// Bytes of the answer's `structuredContent` (compact JSON), `None` when the
/// call is a tool error or has none.
fn structured_bytes(mcp: &mut Mcp, name: &str, args: Value) -> anyhow::Result<Option<usize>> {
    let (value, _, _) = mcp.call("tools/call", json!({"name": name, "arguments": args}))?;
    let result = &value["result"];
    if result["isError"] != json!(false) {
        return Ok(None);
    }
    Ok(result.get("structuredContent").map(|s| s.to_string().len()))
}

/// The smallest arguments an input schema accepts: required properties only,
/// the first enum value, strings `"10000"` (a numeric id, which is also a valid
/// key or name), integers at their minimum (else 10000), empty arrays unless
/// `minItems` says otherwise. The same rule as `server/tests/common`'s
/// `minimal`, which the end-to-end tests prove the fake accepts for every tool.
fn minimal(schema: &Value) -> Value {
    if let Some(first) = schema
        .get("enum")
        .and_then(Value::as_array)
        .and_then(|e| e.first())
    {
        return first.clone();
    }
    let ty = match schema.get("type") {
        Some(Value::String(t)) => t.as_str(),
        Some(Value::Array(types)) => types
            .iter()
            .filter_map(Value::as_str)
            .find(|t| *t != "null")
            .unwrap_or("null"),
        _ => "object",
    };
    match ty {
        "string" => json!("10000"),
        "integer" => json!(
            schema
                .get("minimum")
                .and_then(Value::as_i64)
                .unwrap_or(10000)
                .max(1)
        ),
        "number" => json!(1.0),
        "boolean" => json!(false),
        "array" => {
            let n = schema.get("minItems").and_then(Value::as_u64).unwrap_or(0);
            let item = minimal(schema.get("items").unwrap_or(&json!({})));
            Value::Array((0..n).map(|_| item.clone()).collect())
        }
        "null" => Value::Null,
        _ => {
            let mut out = Map::new();
            let props = schema.get("properties").and_then(Value::as_object);
            for name in schema
                .get("required")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
            {
                let Some(name) = name.as_str() else { continue };
                let prop = props
                    .and_then(|p| p.get(name))
                    .cloned()
                    .unwrap_or(json!({"type": "string"}));
                out.insert(name.to_owned(), minimal(&prop));
            }
            Value::Object(out)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn minimal_takes_required_properties_only() {
        let schema = json!({
            "type": "object",
            "required": ["project", "limit", "kind", "ids"],
            "properties": {
                "project": {"type": "string"},
                "limit": {"type": "integer", "minimum": 1},
                "kind": {"type": "string", "enum": ["a", "b"]},
                "ids": {"type": "array", "minItems": 1, "items": {"type": "integer"}},
                "raw": {"type": "boolean"}
            }
        });
        assert_eq!(
            minimal(&schema),
            json!({"project": "10000", "limit": 1, "kind": "a", "ids": [10000]})
        );
    }
}
