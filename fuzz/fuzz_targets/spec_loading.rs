//! `spec_loading`: see `gojira_fuzz_targets::spec_loading` (tests/fuzz-targets).
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| gojira_fuzz_targets::spec_loading(data));
