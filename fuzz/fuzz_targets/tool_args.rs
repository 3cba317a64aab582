//! `tool_args`: see `gojira_fuzz_targets::tool_args` (tests/fuzz-targets).
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| gojira_fuzz_targets::tool_args(data));
