//! Turning wire names into Rust names. Every naming decision lives here and
//! in `lower`, never in the emitters.

use std::collections::BTreeSet;

use heck::{ToSnakeCase, ToUpperCamelCase};

const KEYWORDS: &[&str] = &[
    "as", "async", "await", "break", "const", "continue", "crate", "dyn", "else", "enum", "extern",
    "false", "fn", "for", "gen", "if", "impl", "in", "let", "loop", "match", "mod", "move", "mut",
    "pub", "ref", "return", "self", "Self", "static", "struct", "super", "trait", "true", "type",
    "unsafe", "use", "where", "while", "abstract", "become", "box", "do", "final", "macro",
    "override", "priv", "try", "typeof", "unsized", "virtual", "yield",
];

/// Names a generated type must not take: std prelude and serde names used
/// unqualified in generated modules, and the runtime items they import.
pub const RESERVED_TYPE_NAMES: &[&str] = &[
    "String",
    "Option",
    "Some",
    "None",
    "Vec",
    "Box",
    "Result",
    "Ok",
    "Err",
    "Serialize",
    "Deserialize",
    "Value",
    "BTreeMap",
    "ToolArgs",
    "ToolSpec",
    "Annotations",
    "ArgsError",
    "Method",
    "UpstreamRequest",
    "Self_",
];

/// Words for characters that carry meaning in enum values such as `!=` or `+x`.
fn symbol_word(c: char) -> Option<&'static str> {
    Some(match c {
        '=' => "Eq",
        '!' => "Not",
        '<' => "Lt",
        '>' => "Gt",
        '~' => "Tilde",
        '+' => "Plus",
        '-' => "Minus",
        '*' => "Star",
        '/' => "Slash",
        '&' => "And",
        '|' => "Or",
        '%' => "Percent",
        '#' => "Hash",
        '@' => "At",
        '$' => "Dollar",
        '^' => "Caret",
        '?' => "Question",
        ':' => "Colon",
        _ => return None,
    })
}

/// A snake_case field or argument identifier (keywords get a trailing `_`).
pub fn field_ident(name: &str) -> String {
    let mut ident = words_only(name).to_snake_case();
    if ident.is_empty() {
        ident = "value".to_owned();
    }
    if ident.starts_with(|c: char| c.is_ascii_digit()) {
        ident.insert_str(0, "n_");
    }
    if KEYWORDS.contains(&ident.as_str()) {
        ident.push('_');
    }
    ident
}

/// An UpperCamelCase type name.
pub fn type_name(name: &str) -> String {
    let mut ident = words_only(name).to_upper_camel_case();
    if ident.is_empty() {
        ident = "Type".to_owned();
    }
    if ident.starts_with(|c: char| c.is_ascii_digit()) {
        ident.insert(0, 'T');
    }
    if ident == "Self" {
        ident.push('_');
    }
    ident
}

/// An enum variant for a wire value: symbols become words (`!=` → `NotEq`,
/// `-x` → `MinusX`), the empty string becomes `Empty`.
pub fn variant_name(value: &str) -> String {
    if value.is_empty() {
        return "Empty".to_owned();
    }
    let mut spelled = String::new();
    for c in value.chars() {
        match symbol_word(c) {
            Some(word) if !c.is_alphanumeric() => {
                spelled.push(' ');
                spelled.push_str(word);
                spelled.push(' ');
            }
            _ => spelled.push(c),
        }
    }
    let mut ident = type_name(&spelled);
    if ident == "Type" && !value.chars().any(char::is_alphanumeric) {
        ident = "Symbol".to_owned();
    }
    ident
}

/// Replaces everything but letters and digits with spaces so `heck` splits words there.
fn words_only(name: &str) -> String {
    name.chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { ' ' })
        .collect()
}

/// Makes `candidate` unique within `taken` by appending 2, 3, ... and records it.
pub fn uniquify(taken: &mut BTreeSet<String>, candidate: String) -> String {
    if taken.insert(candidate.clone()) {
        return candidate;
    }
    let mut n = 2;
    loop {
        let next = format!("{candidate}{n}");
        if taken.insert(next.clone()) {
            return next;
        }
        n += 1;
    }
}

/// Like [`uniquify`] for snake_case identifiers (`name_2`).
pub fn uniquify_field(taken: &mut BTreeSet<String>, candidate: String) -> String {
    if taken.insert(candidate.clone()) {
        return candidate;
    }
    let mut n = 2;
    loop {
        let next = format!("{candidate}_{n}");
        if taken.insert(next.clone()) {
            return next;
        }
        n += 1;
    }
}

/// The arguments-struct name for a tool name like `jira.getProject`.
pub fn args_struct_name(tool: &str) -> String {
    let tail = tool.split_once('.').map_or(tool, |(_, rest)| rest);
    let name = format!("{}Args", type_name(tail));
    if RESERVED_TYPE_NAMES.contains(&name.as_str()) {
        format!("{}ToolArgs", type_name(tail))
    } else {
        name
    }
}

/// The Rust module name of a product key.
pub fn module_name(product: &str) -> String {
    field_ident(product)
}

/// First sentence of a description, without markdown links, capped in length.
pub fn short_description(text: &str, max: usize) -> String {
    let mut out = String::new();
    let mut chars = text.chars().peekable();
    // Strip markdown links `[text](url)` down to `text`, and drop emphasis markers.
    while let Some(c) = chars.next() {
        match c {
            '[' => {
                let mut label = String::new();
                for d in chars.by_ref() {
                    if d == ']' {
                        break;
                    }
                    label.push(d);
                }
                if chars.peek() == Some(&'(') {
                    for d in chars.by_ref() {
                        if d == ')' {
                            break;
                        }
                    }
                }
                out.push_str(&label);
            }
            '*' | '`' => {}
            '\n' | '\r' | '\t' => out.push(' '),
            _ => out.push(c),
        }
    }
    let collapsed = out.split_whitespace().collect::<Vec<_>>().join(" ");
    let sentence = match collapsed.find(". ") {
        Some(end) => &collapsed[..=end],
        None => collapsed.as_str(),
    };
    let sentence = sentence.trim();
    if sentence.chars().count() <= max {
        return sentence.to_owned();
    }
    let mut cut: String = sentence.chars().take(max.saturating_sub(1)).collect();
    if let Some(space) = cut.rfind(' ') {
        cut.truncate(space);
    }
    cut.push('…');
    cut
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn symbol_enum_values_get_readable_variants() {
        assert_eq!(variant_name("="), "Eq");
        assert_eq!(variant_name("!="), "NotEq");
        assert_eq!(variant_name("+name"), "PlusName");
        assert_eq!(variant_name("-name"), "MinusName");
        assert_eq!(variant_name(">="), "GtEq");
        assert_eq!(variant_name(""), "Empty");
        assert_eq!(variant_name("IN_PROGRESS"), "InProgress");
        assert_eq!(variant_name("2fa"), "T2fa");
    }

    #[test]
    fn identifiers_avoid_keywords_and_digits() {
        assert_eq!(field_ident("type"), "type_");
        assert_eq!(field_ident("projectIdOrKey"), "project_id_or_key");
        assert_eq!(field_ident("16x16"), "n_16x16");
        assert_eq!(field_ident("self"), "self_");
        assert_eq!(field_ident("account-id"), "account_id");
        assert_eq!(type_name("Self"), "Self_");
    }

    #[test]
    fn uniquify_appends_numbers() {
        let mut taken = BTreeSet::new();
        assert_eq!(uniquify(&mut taken, "Project".into()), "Project");
        assert_eq!(uniquify(&mut taken, "Project".into()), "Project2");
        assert_eq!(uniquify(&mut taken, "Project".into()), "Project3");
    }

    #[test]
    fn short_description_strips_markdown_and_cuts() {
        let text = "Returns the [project details](https://x) for a project.\n\nThis operation can be accessed anonymously.";
        assert_eq!(
            short_description(text, 200),
            "Returns the project details for a project."
        );
        assert_eq!(short_description("a b c d e f", 6), "a b…");
    }
}
