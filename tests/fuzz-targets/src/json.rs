//! JSON values from fuzzer bytes: arbitrary ones, and ones shaped by a JSON
//! Schema (so that most tool arguments pass validation and reach the
//! builders, with hostile strings where the schema says "string").

use arbitrary::{Result, Unstructured};
use serde_json::{Map, Number, Value};

/// Strings that have broken URL builders, parsers and templates elsewhere.
pub const HOSTILE: &[&str] = &[
    "",
    ".",
    "..",
    "...",
    "%2e",
    "%2E%2e",
    ".%2e",
    "/",
    "//",
    "../x",
    "a/../b",
    "a/b",
    "\\",
    "..\\x",
    "?",
    "#",
    "&",
    "=",
    "%",
    "%00",
    "\0",
    "\r\nX-Injected: 1",
    " ",
    "{",
    "}",
    "{projectIdOrKey}",
    "{{ args.x }}",
    "ABC",
    "10000",
    "-1",
    "0",
    "1e309",
    "true",
    "null",
    "é",
    "\u{202e}",
    "😀",
    "\u{feff}",
    "http://127.0.0.1:1/",
    "@evil.example",
    "commit",
    "planDigest",
];

/// True about once in `n` draws, and false when the bytes run out (so a
/// short input decodes to the usual, well-formed choice).
pub fn rarely(u: &mut Unstructured<'_>, n: u32) -> Result<bool> {
    Ok(u.int_in_range(0..=n - 1)? == n - 1)
}

/// An arbitrary JSON value at most `depth` levels deep; object keys come
/// from `keys` about half the time.
pub fn value(u: &mut Unstructured<'_>, depth: u32, keys: &[&str]) -> Result<Value> {
    let kind = if depth == 0 {
        u.int_in_range(0..=4)?
    } else {
        u.int_in_range(0..=6)?
    };
    Ok(match kind {
        0 => Value::Null,
        1 => Value::Bool(u.arbitrary()?),
        2 => number(u)?,
        3 | 4 => Value::String(string(u)?),
        5 => {
            let n = u.int_in_range(0..=4)?;
            let mut items = Vec::with_capacity(n);
            for _ in 0..n {
                items.push(value(u, depth - 1, keys)?);
            }
            Value::Array(items)
        }
        _ => {
            let n = u.int_in_range(0..=4)?;
            let mut map = Map::new();
            for _ in 0..n {
                let key = if !keys.is_empty() && u.arbitrary()? {
                    (*u.choose(keys)?).to_owned()
                } else {
                    string(u)?
                };
                map.insert(key, value(u, depth - 1, keys)?);
            }
            Value::Object(map)
        }
    })
}

/// A string: a hostile one from [`HOSTILE`], or arbitrary text.
pub fn string(u: &mut Unstructured<'_>) -> Result<String> {
    if u.arbitrary()? {
        Ok((*u.choose(HOSTILE)?).to_owned())
    } else {
        u.arbitrary()
    }
}

/// A number: small, at the edges of the integer types, or a finite float.
pub fn number(u: &mut Unstructured<'_>) -> Result<Value> {
    Ok(match u.int_in_range(0..=5)? {
        0 => Value::from(u.int_in_range(-2i64..=100)?),
        1 => Value::from(*u.choose(&[i64::MIN, i64::MAX, i64::from(i32::MAX) + 1, -1])?),
        2 => Value::from(u64::MAX),
        3 => Value::from(u.arbitrary::<i64>()?),
        _ => {
            let f: f64 = u.arbitrary()?;
            Number::from_f64(f).map_or(Value::Null, Value::Number)
        }
    })
}

/// A value shaped by `schema` (properties, required, enum, type, items,
/// anyOf/oneOf), straying from it now and then (a wrong type, an unknown
/// key, a missing required member) so validation is fuzzed too.
pub fn guided(u: &mut Unstructured<'_>, schema: &Value, depth: u32) -> Result<Value> {
    if depth == 0 || rarely(u, 16)? {
        return value(u, depth.min(2), &[]);
    }
    let Some(schema) = schema.as_object() else {
        return value(u, depth.min(2), &[]);
    };
    if let Some(Value::Array(options)) = schema.get("enum")
        && !options.is_empty()
        && !rarely(u, 8)?
    {
        return Ok(u.choose(options)?.clone());
    }
    if let Some(Value::Array(branches)) = schema.get("anyOf").or_else(|| schema.get("oneOf"))
        && !branches.is_empty()
    {
        let branch = u.choose(branches)?;
        return guided(u, branch, depth - 1);
    }
    let ty = match schema.get("type") {
        Some(Value::String(t)) => t.as_str(),
        Some(Value::Array(types)) if !types.is_empty() => u.choose(types)?.as_str().unwrap_or(""),
        _ if schema.contains_key("properties") => "object",
        _ => "",
    };
    Ok(match ty {
        "object" => object(u, schema, depth)?,
        "array" => {
            let items = schema.get("items").cloned().unwrap_or(Value::Bool(true));
            let n = u.int_in_range(0..=3)?;
            let mut out = Vec::with_capacity(n);
            for _ in 0..n {
                out.push(guided(u, &items, depth - 1)?);
            }
            Value::Array(out)
        }
        "string" => Value::String(string(u)?),
        "integer" => match u.int_in_range(0..=3)? {
            0 => Value::from(u.int_in_range(0i64..=60)?),
            _ => number(u)?,
        },
        "number" => number(u)?,
        "boolean" => Value::Bool(u.arbitrary()?),
        "null" => Value::Null,
        _ => value(u, depth.min(2), &[])?,
    })
}

fn object(u: &mut Unstructured<'_>, schema: &Map<String, Value>, depth: u32) -> Result<Value> {
    let required: Vec<&str> = schema
        .get("required")
        .and_then(Value::as_array)
        .map(|r| r.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default();
    let mut map = Map::new();
    if let Some(Value::Object(properties)) = schema.get("properties") {
        for (name, property) in properties {
            let wanted = if required.contains(&name.as_str()) {
                !rarely(u, 16)?
            } else {
                u.arbitrary()?
            };
            if wanted {
                map.insert(name.clone(), guided(u, property, depth - 1)?);
            }
        }
    }
    if rarely(u, 16)? {
        map.insert(string(u)?, value(u, 1, &[])?);
    }
    Ok(Value::Object(map))
}
