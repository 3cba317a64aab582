//! `mcp_jsonrpc`: see `gojira_fuzz_targets::mcp_jsonrpc` (tests/fuzz-targets).
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| gojira_fuzz_targets::mcp_jsonrpc(data));
