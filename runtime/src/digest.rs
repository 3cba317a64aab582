//! One digest of JSON values, independent of key order: plan digests (the
//! write path) and read-cache keys use it.

use serde_json::Value;
use sha2::{Digest, Sha256};

/// SHA-256 of the canonical (key-sorted) JSON of `value`, hex, 32 characters.
pub fn digest(value: &Value) -> String {
    fn canonical(v: &Value) -> Value {
        match v {
            Value::Object(m) => {
                let mut keys: Vec<&String> = m.keys().collect();
                keys.sort();
                Value::Object(
                    keys.into_iter()
                        .map(|k| (k.clone(), canonical(&m[k])))
                        .collect(),
                )
            }
            Value::Array(a) => Value::Array(a.iter().map(canonical).collect()),
            other => other.clone(),
        }
    }
    let bytes = serde_json::to_vec(&canonical(value)).unwrap_or_default();
    hex::encode(&Sha256::digest(&bytes)[..16])
}
