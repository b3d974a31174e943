//! Decoding of YAML values into rule item parts, with Falco's messages plus a hint of what
//! to write instead.

use std::sync::Arc;

use super::source_text::SourceText;
use crate::diagnostic::{Diagnostic, Position};
use crate::yaml::{Node, ScalarSource};

/// The file an item comes from.
pub struct FileContext {
    pub name: Arc<str>,
    pub text: Arc<str>,
}

impl FileContext {
    pub fn position(&self, node: &Node) -> Position {
        Position::new(self.name.clone(), node.mark.line, node.mark.column)
    }

    /// Items are reported at their first key (`- rule: ...`), where a reader looks.
    pub fn item_position(&self, item: &Node) -> Position {
        match item.as_mapping().and_then(|entries| entries.first()) {
            Some((key, _)) => self.position(key),
            None => self.position(item),
        }
    }

    pub fn scalar_source(&self, node: &Node) -> ScalarSource {
        ScalarSource {
            file: self.name.clone(),
            text: self.text.clone(),
            mark: node.mark,
            style: node
                .scalar_style()
                .unwrap_or(crate::yaml::ScalarStyle::Plain),
        }
    }

    pub fn source_text(&self, node: &Node, value: String) -> SourceText {
        SourceText::from_scalar(value, self.scalar_source(node))
    }

    pub fn error(&self, node: &Node, message: impl Into<String>) -> Diagnostic {
        Diagnostic::error(self.position(node), message)
    }
}

pub type Decoded<T> = Result<T, Diagnostic>;

/// A required, non-empty scalar.
pub fn required_string<'n>(
    ctx: &FileContext,
    item: &'n Node,
    key: &str,
) -> Decoded<(String, &'n Node)> {
    match optional_string(ctx, item, key)? {
        Some(found) => Ok(found),
        None => Err(Diagnostic::error(
            ctx.item_position(item),
            format!("Item has no mapping for key '{key}': add `{key}: ...`"),
        )),
    }
}

/// An optional scalar that must not be empty when present.
pub fn optional_string<'n>(
    ctx: &FileContext,
    item: &'n Node,
    key: &str,
) -> Decoded<Option<(String, &'n Node)>> {
    let Some(value) = item.get(key) else {
        return Ok(None);
    };
    if value.is_null() {
        return Err(ctx.error(
            value,
            format!("Mapping for key '{key}' is empty: give it a value"),
        ));
    }
    let Some(text) = value.as_scalar() else {
        return Err(ctx.error(
            value,
            format!(
                "Value is not a scalar value: '{key}' must be a string, not {}",
                value.kind_name()
            ),
        ));
    };
    if text.is_empty() {
        return Err(ctx.error(
            value,
            format!("Value must be non-empty: give '{key}' a value"),
        ));
    }
    Ok(Some((text.to_string(), value)))
}

/// An optional scalar that may be empty (Falco's `source`).
pub fn optional_empty_string(ctx: &FileContext, item: &Node, key: &str) -> Decoded<String> {
    let Some(value) = item.get(key) else {
        return Ok(String::new());
    };
    if value.is_null() {
        return Ok(String::new());
    }
    match value.as_scalar() {
        Some(text) => Ok(text.to_string()),
        None => Err(ctx.error(
            value,
            format!(
                "Value is not a scalar value: '{key}' must be a string, not {}",
                value.kind_name()
            ),
        )),
    }
}

pub fn optional_bool(ctx: &FileContext, item: &Node, key: &str) -> Decoded<Option<bool>> {
    let Some((text, node)) = optional_string(ctx, item, key)? else {
        return Ok(None);
    };
    match node.as_bool() {
        Some(value) => Ok(Some(value)),
        None => Err(ctx.error(
            node,
            format!("Can't decode YAML scalar value: '{key}' must be true or false, not `{text}`"),
        )),
    }
}

pub fn required_bool(ctx: &FileContext, item: &Node, key: &str) -> Decoded<bool> {
    match optional_bool(ctx, item, key)? {
        Some(value) => Ok(value),
        None => Err(Diagnostic::error(
            ctx.item_position(item),
            format!("Item has no mapping for key '{key}': add `{key}: true` or `{key}: false`"),
        )),
    }
}

/// A sequence of scalars (`items`, `tags`), each with its position.
pub fn string_sequence(
    ctx: &FileContext,
    item: &Node,
    key: &str,
) -> Decoded<Option<Vec<(String, Position)>>> {
    let Some(value) = item.get(key) else {
        return Ok(None);
    };
    let Some(elements) = value.as_sequence() else {
        // An empty `items:` is a null, which yaml-cpp also refuses as a sequence.
        return Err(ctx.error(
            value,
            format!(
                "Value is not a sequence: '{key}' must be a list such as `[a, b]`, not {}",
                value.kind_name()
            ),
        ));
    };
    let mut out = Vec::with_capacity(elements.len());
    for element in elements {
        match element.as_scalar() {
            Some(text) => out.push((text.to_string(), ctx.position(element))),
            None => {
                return Err(ctx.error(
                    element,
                    format!(
                    "sequence value is not scalar: each entry of '{key}' must be a string, not {}",
                    element.kind_name()
                ),
                ))
            }
        }
    }
    Ok(Some(out))
}

/// Warns about keys an item type does not know (Falco ignores them).
pub fn unknown_key_warnings(ctx: &FileContext, item: &Node, expected: &[&str]) -> Vec<Diagnostic> {
    let Some(entries) = item.as_mapping() else {
        return Vec::new();
    };
    entries
        .iter()
        .filter_map(|(key, _)| {
            let name = key.as_scalar()?;
            (!expected.contains(&name)).then(|| {
                Diagnostic::warning(
                    ctx.position(key),
                    format!(
                        "Unknown key '{name}'. The key will be ignored. Known keys here: {}",
                        expected.join(", ")
                    ),
                )
            })
        })
        .collect()
}

/// The `override` mapping: which keys are appended and which replaced.
#[derive(Debug, Default)]
pub struct Overrides {
    pub append: Vec<String>,
    pub replace: Vec<String>,
}

impl Overrides {
    pub fn is_empty(&self) -> bool {
        self.append.is_empty() && self.replace.is_empty()
    }

    pub fn appends(&self, key: &str) -> bool {
        self.append.iter().any(|k| k == key)
    }
}

pub fn overrides(
    ctx: &FileContext,
    item: &Node,
    appendable: &[&str],
    replaceable: &[&str],
) -> Decoded<Overrides> {
    let mut result = Overrides::default();
    let Some(value) = item.get("override") else {
        return Ok(result);
    };
    let Some(entries) = value.as_mapping() else {
        return Err(ctx.error(
            value,
            "'override' must be a mapping from keys to `append` or `replace`, e.g. `override: {condition: append}`",
        ));
    };
    for (key_node, operation_node) in entries {
        let key = key_node.as_scalar().unwrap_or_default().to_string();
        let operation = operation_node.as_scalar().unwrap_or_default();
        match operation {
            "append" => {
                if !appendable.contains(&key.as_str()) {
                    return Err(ctx.error(
                        key_node,
                        format!("Key '{key}' cannot be appended to, use 'replace' instead"),
                    ));
                }
                result.append.push(key);
            }
            "replace" => {
                if !replaceable.contains(&key.as_str()) {
                    return Err(ctx.error(key_node, format!("Key '{key}' cannot be replaced")));
                }
                result.replace.push(key);
            }
            other => {
                let mut allowed = Vec::new();
                if appendable.contains(&key.as_str()) {
                    allowed.push("append");
                }
                if replaceable.contains(&key.as_str()) {
                    allowed.push("replace");
                }
                return Err(ctx.error(
                    operation_node,
                    format!(
                        "Invalid override operation for key '{key}': '{other}'. Allowed values are: {}",
                        allowed.join(" ")
                    ),
                ));
            }
        }
    }
    Ok(result)
}
