// The filters, tests and functions the runtime registers in the minijinja
// Environment that evaluates safety mappings (runtime/src/writes/safety.rs:
// `Environment::new()` with the workspace's minijinja features). codegen
// (src/safety.rs) refuses a mapping that uses any other name, which would fail
// on every call. The runtime's test `registers_exactly_the_names_codegen_allows`
// include!s this file and asserts its Environment registers exactly these
// names: change both sides together.
//
// This file is include!d by both crates (neither may depend on the other), so
// it holds only items: no inner attributes or `//!` docs.

/// Filters (`x | name`, and the filter name `map` takes).
pub const FILTERS: &[&str] = &[
    "abs",
    "attr",
    "batch",
    "bool",
    "capitalize",
    "chain",
    "count",
    "d",
    "default",
    "dictsort",
    "e",
    "escape",
    "first",
    "float",
    "format",
    "groupby",
    "indent",
    "int",
    "items",
    "join",
    "last",
    "length",
    "lines",
    "list",
    "lower",
    "map",
    "max",
    "min",
    "pprint",
    "reject",
    "rejectattr",
    "replace",
    "reverse",
    "round",
    "safe",
    "select",
    "selectattr",
    "slice",
    "sort",
    "split",
    "string",
    "sum",
    "title",
    "trim",
    "unique",
    "upper",
    "zip",
];

/// Tests (`x is name`, and the test names `select`, `reject`, `selectattr`
/// and `rejectattr` take).
pub const TESTS: &[&str] = &[
    "!=",
    "<",
    "<=",
    "==",
    ">",
    ">=",
    "boolean",
    "defined",
    "divisibleby",
    "endingwith",
    "eq",
    "equalto",
    "escaped",
    "even",
    "false",
    "filter",
    "float",
    "ge",
    "greaterthan",
    "gt",
    "in",
    "int",
    "integer",
    "iterable",
    "le",
    "lessthan",
    "lower",
    "lt",
    "mapping",
    "ne",
    "none",
    "number",
    "odd",
    "safe",
    "sameas",
    "sequence",
    "startingwith",
    "string",
    "test",
    "true",
    "undefined",
    "upper",
];

/// Global functions (`name(...)`).
pub const FUNCTIONS: &[&str] = &["debug", "dict", "namespace", "range"];
