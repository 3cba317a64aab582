//! Trimming: what dropping `self` links, avatar URL maps and `expand` echoes
//! saves. Every read-only tool whose input schema offers `raw` is called with
//! minimal arguments, once with `raw: true` and once without, and the bytes
//! of `structuredContent` are compared, against two fakes:
//!
//! - synthesized: the default fake answers minimal instances of the spec
//!   schemas (required properties only), which seldom include `self`,
//!   `avatarUrls` or `expand`: a floor;
//! - documented examples: a fake started with `--examples` answers each
//!   operation's documented example where the spec has one (synthesis
//!   otherwise), which is closer to what a real site sends.

use std::fmt::Write as _;

use serde_json::{Map, Value, json};

use super::client::Mcp;
use super::{Report, ServerCmd};

/// What one fake's answers gave.
#[derive(Debug, Default)]
struct Measured {
    /// Read-only tools offering `raw`.
    offering: usize,
    /// Tools whose both calls succeeded.
    measured: usize,
    /// Tools with a failed call (not counted).
    failed: Vec<String>,
    raw_total: usize,
    trimmed_total: usize,
    /// (saved, raw, trimmed, tool) of the tools that saved any bytes, most saved first.
    savers: Vec<(usize, usize, usize, String)>,
}

impl Measured {
    fn saved_pct(&self) -> f64 {
        if self.raw_total == 0 {
            0.0
        } else {
            100.0 * self.raw_total.saturating_sub(self.trimmed_total) as f64 / self.raw_total as f64
        }
    }

    fn mean(&self, total: usize) -> f64 {
        total as f64 / self.measured.max(1) as f64
    }

    fn json(&self, note: &str) -> Value {
        let round = |x: f64| (x * 10.0).round() / 10.0;
        let top: Vec<Value> = self
            .savers
            .iter()
            .take(5)
            .map(
                |(saved, r, t, name)| json!({"tool": name, "raw": r, "trimmed": t, "saved": saved}),
            )
            .collect();
        json!({
            "tools_offering_raw": self.offering,
            "tools_measured": self.measured,
            "tools_failed": self.failed,
            "structured_bytes_raw_total": self.raw_total,
            "structured_bytes_trimmed_total": self.trimmed_total,
            "structured_bytes_raw_mean": round(self.mean(self.raw_total)),
            "structured_bytes_trimmed_mean": round(self.mean(self.trimmed_total)),
            "saved_pct": round(self.saved_pct()),
            "top_savers": top,
            "tools_saving_any": self.savers.len(),
            "note": note,
        })
    }

    fn text(&self, mode: &str, note: &str) -> String {
        let mut text = format!(
            "  {mode}: {} of {} tools measured; {note}\n    \
             structuredContent bytes: raw {} (mean {:.1}), trimmed {} (mean {:.1}), saved {:.1} %; \
             {} tools saved any bytes\n",
            self.measured,
            self.offering,
            self.raw_total,
            self.mean(self.raw_total),
            self.trimmed_total,
            self.mean(self.trimmed_total),
            self.saved_pct(),
            self.savers.len(),
        );
        for (saved, r, t, name) in self.savers.iter().take(5) {
            let _ = writeln!(text, "    {name}: {r} -> {t} bytes (-{saved})");
        }
        if !self.failed.is_empty() {
            let _ = writeln!(text, "    failed (not counted): {}", self.failed.join(", "));
        }
        text
    }
}

const SYNTHESIZED_NOTE: &str =
    "required properties only, which seldom include self/avatarUrls/expand: a floor";
const EXAMPLES_NOTE: &str =
    "the specs' documented examples where they have one (else synthesized): closer to a real site";

/// Runs the trim part against the default fake (`synth_url`) and one
/// answering documented examples (`examples_url`); returns the printed summary.
pub fn run(
    servers: &ServerCmd,
    synth_url: &str,
    examples_url: &str,
    report: &mut Report,
) -> anyhow::Result<String> {
    let synthesized = measure(servers, synth_url)?;
    let examples = measure(servers, examples_url)?;
    report.insert(
        "trim",
        json!({
            "synthesized": synthesized.json(SYNTHESIZED_NOTE),
            "documented_examples": examples.json(EXAMPLES_NOTE),
        }),
    );
    let mut text = String::from(
        "trim: read-only tools offering `raw`, minimal arguments, with and without `raw: true`\n",
    );
    text.push_str(&synthesized.text("synthesized", SYNTHESIZED_NOTE));
    text.push_str(&examples.text("documented examples", EXAMPLES_NOTE));
    text.push('\n');
    Ok(text)
}

/// Calls every trimming tool through a server in front of `fake_url`.
fn measure(servers: &ServerCmd, fake_url: &str) -> anyhow::Result<Measured> {
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
    let mut out = Measured {
        offering: trimming.len(),
        ..Measured::default()
    };
    for tool in &trimming {
        let name = tool["name"].as_str().unwrap_or_default();
        let args = minimal(&tool["inputSchema"]);
        let mut raw_args = args.clone();
        raw_args["raw"] = json!(true);
        let raw = structured_bytes(&mut mcp, name, raw_args)?;
        let trimmed = structured_bytes(&mut mcp, name, args)?;
        match (raw, trimmed) {
            (Some(r), Some(t)) => {
                out.raw_total += r;
                out.trimmed_total += t;
                out.measured += 1;
                if r > t {
                    out.savers.push((r - t, r, t, name.to_owned()));
                }
            }
            _ => out.failed.push(name.to_owned()),
        }
    }
    out.savers.sort_by(|a, b| b.cmp(a));
    Ok(out)
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
    fn a_mode_reports_totals_means_percent_and_top_savers() {
        let m = Measured {
            offering: 3,
            measured: 2,
            failed: vec!["c".to_owned()],
            raw_total: 400,
            trimmed_total: 100,
            savers: vec![(300, 350, 50, "a".to_owned())],
        };
        assert_eq!(m.saved_pct(), 75.0);
        let report = m.json("n");
        assert_eq!(report["structured_bytes_raw_mean"], json!(200.0));
        assert_eq!(report["top_savers"][0]["tool"], json!("a"));
        let text = m.text("documented examples", "n");
        assert!(
            text.contains("documented examples: 2 of 3 tools measured"),
            "{text}"
        );
        assert!(text.contains("saved 75.0 %"), "{text}");
        assert!(text.contains("a: 350 -> 50 bytes (-300)"), "{text}");
        assert!(text.contains("failed (not counted): c"), "{text}");
    }

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
