//! Every codegen fixture snapshot, compiled. `codegen/tests/hostile_specs.rs`
//! compares the generator's output with `codegen/tests/expected/<fixture>/`
//! as text; this crate makes those same files a Rust module each, so a
//! snapshot that would not compile (a missing `Box`, a clashing name, a serde
//! attribute serde rejects) fails `cargo test` too. `UPDATE_EXPECT=1` rewrites
//! the files this crate reads; a new fixture needs one line here.
//!
//! Test-only (`publish = false`): nothing depends on it.
// `nonstandard_style`: the rust_keywords fixture names `Self_2`/`self__2` (a keyword
// escape plus a clash suffix); legal Rust, left as the generator makes it.
#![allow(
    missing_docs,
    nonstandard_style,
    clippy::doc_markdown,
    clippy::large_enum_variant
)]

#[rustfmt::skip]
#[path = "../../expected/additional_properties/src/products/mod.rs"]
pub mod additional_properties;
#[rustfmt::skip]
#[path = "../../expected/all_of/src/products/mod.rs"]
pub mod all_of;
#[rustfmt::skip]
#[path = "../../expected/any_schemas/src/products/mod.rs"]
pub mod any_schemas;
#[rustfmt::skip]
#[path = "../../expected/discriminator/src/products/mod.rs"]
pub mod discriminator;
#[rustfmt::skip]
#[path = "../../expected/example_only_response/src/products/mod.rs"]
pub mod example_only_response;
#[rustfmt::skip]
#[path = "../../expected/non_json_bodies/src/products/mod.rs"]
pub mod non_json_bodies;
#[rustfmt::skip]
#[path = "../../expected/one_of_any_of/src/products/mod.rs"]
pub mod one_of_any_of;
#[rustfmt::skip]
#[path = "../../expected/operation_ids/src/products/mod.rs"]
pub mod operation_ids;
#[rustfmt::skip]
#[path = "../../expected/path_param_mismatch/src/products/mod.rs"]
pub mod path_param_mismatch;
#[rustfmt::skip]
#[path = "../../expected/ref_siblings/src/products/mod.rs"]
pub mod ref_siblings;
#[rustfmt::skip]
#[path = "../../expected/reference_cycle/src/products/mod.rs"]
pub mod reference_cycle;
#[rustfmt::skip]
#[path = "../../expected/rust_keywords/src/products/mod.rs"]
pub mod rust_keywords;
#[rustfmt::skip]
#[path = "../../expected/symbol_enums/src/products/mod.rs"]
pub mod symbol_enums;
#[rustfmt::skip]
#[path = "../../expected/type_arrays/src/products/mod.rs"]
pub mod type_arrays;
#[rustfmt::skip]
#[path = "../../expected/type_name_clash/src/products/mod.rs"]
pub mod type_name_clash;
