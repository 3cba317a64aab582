//! `tools_yaml`: see `gojira_fuzz_targets::tools_yaml` (tests/fuzz-targets).
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| gojira_fuzz_targets::tools_yaml(data));
