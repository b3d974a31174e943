//! Rule exceptions become `and not (...)` clauses, built as condition text exactly as
//! Falco's `build_rule_exception_infos` builds it and then parsed, so quoting and list
//! handling behave the same.

use crate::condition::{parse_condition, parse_operator_with_modifier, Expr, SourceId};
use crate::diagnostic::Diagnostic;
use crate::loader::{ExceptionDef, ExceptionEntry};

/// Falco quotes a value only when it has a space and is not quoted already.
fn quote_item(value: &str) -> String {
    if value.contains(' ') && !value.starts_with('"') && !value.starts_with('\'') {
        format!("\"{value}\"")
    } else {
        value.to_string()
    }
}

fn paren_item(value: &str) -> String {
    if value.starts_with('(') {
        value.to_string()
    } else {
        format!("({value})")
    }
}

fn is_list_operator(comp: &str) -> bool {
    matches!(comp, "in" | "intersects" | "pmatch")
        || parse_operator_with_modifier(comp).is_some_and(|(_, modifier)| modifier.is_some())
}

fn scalar(entry: &ExceptionEntry) -> Option<&str> {
    match entry {
        ExceptionEntry::Scalar(text, _) => Some(text),
        ExceptionEntry::List(..) => None,
    }
}

/// The clause text of one exception; `None` when it has no values (no clause at all).
pub(crate) fn exception_text(exception: &ExceptionDef) -> Result<Option<String>, Diagnostic> {
    let error = |message: String| Diagnostic::error(exception.position.clone(), message);
    let (Some(fields), Some(comps)) = (&exception.fields, &exception.comps) else {
        return Err(error(format!(
            "exception `{}` has no fields",
            exception.name
        )));
    };
    match (fields, comps) {
        (ExceptionEntry::Scalar(field, _), ExceptionEntry::Scalar(comp, _)) => {
            let mut values = Vec::new();
            for value in &exception.values {
                match scalar(value) {
                    Some(text) => values.push(quote_item(text)),
                    None => {
                        return Err(Diagnostic::error(
                            value.position().clone(),
                            format!(
                                "exception `{}`: Expected values array to contain a list of strings: with a single field, each value is one string",
                                exception.name
                            ),
                        ))
                    }
                }
            }
            if values.is_empty() {
                return Ok(None);
            }
            Ok(Some(format!("({field} {comp} ({}))", values.join(", "))))
        }
        (ExceptionEntry::List(fields, _), ExceptionEntry::List(comps, _)) => {
            let mut tuples = Vec::new();
            for value in &exception.values {
                let items: &[ExceptionEntry] = match value {
                    ExceptionEntry::List(items, _) => items,
                    ExceptionEntry::Scalar(..) => &[],
                };
                if items.len() != fields.len() {
                    return Err(Diagnostic::error(
                        value.position().clone(),
                        format!(
                            "exception `{}`: Fields and values lists must have equal length ({} fields, {} values); write each value as a list like [{}]",
                            exception.name,
                            fields.len(),
                            items.len(),
                            fields.iter().filter_map(scalar).collect::<Vec<_>>().join(", ")
                        ),
                    ));
                }
                let mut checks = Vec::new();
                for ((field, comp), item) in fields.iter().zip(comps.iter()).zip(items.iter()) {
                    let field = scalar(field).unwrap_or_default();
                    let comp = scalar(comp).unwrap_or_default();
                    let value = match item {
                        ExceptionEntry::List(values, _) => {
                            let quoted: Vec<String> =
                                values.iter().filter_map(scalar).map(quote_item).collect();
                            format!("({})", quoted.join(", "))
                        }
                        ExceptionEntry::Scalar(text, _) if is_list_operator(comp) => {
                            paren_item(text)
                        }
                        ExceptionEntry::Scalar(text, _) => quote_item(text),
                    };
                    checks.push(format!("{field} {comp} {value}"));
                }
                tuples.push(format!("({})", checks.join(" and ")));
            }
            if tuples.is_empty() {
                return Ok(None);
            }
            Ok(Some(format!("({})", tuples.join(" or "))))
        }
        _ => Err(error(format!(
            "exception `{}`: fields and comps must both be strings or both be lists",
            exception.name
        ))),
    }
}

/// Parses the clause of one exception (text positions map to the exception's position).
pub(crate) fn exception_clause(
    exception: &ExceptionDef,
    source: SourceId,
) -> Result<Option<Expr>, Diagnostic> {
    let Some(text) = exception_text(exception)? else {
        return Ok(None);
    };
    parse_condition(&text, source).map(Some).map_err(|error| {
        Diagnostic::error(
            exception.position.clone(),
            format!(
                "exception `{}` builds the clause `{}`, which does not parse: {} (at offset {}); quote values that contain spaces, commas or parentheses",
                exception.name, text, error.message, error.offset
            ),
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::diagnostic::Position;

    fn position() -> Position {
        Position::new("f.yaml".into(), 1, 1)
    }

    fn scalar_entry(text: &str) -> ExceptionEntry {
        ExceptionEntry::Scalar(text.to_string(), position())
    }

    fn list_entry(items: Vec<ExceptionEntry>) -> ExceptionEntry {
        ExceptionEntry::List(items, position())
    }

    #[test]
    fn single_field_clause() {
        let exception = ExceptionDef {
            name: "known".into(),
            position: position(),
            fields: Some(scalar_entry("proc.name")),
            comps: Some(scalar_entry("in")),
            values: vec![scalar_entry("bash"), scalar_entry("my shell")],
        };
        assert_eq!(
            exception_text(&exception).expect("builds").as_deref(),
            Some("(proc.name in (bash, \"my shell\"))")
        );
    }

    #[test]
    fn multi_field_clause() {
        let exception = ExceptionDef {
            name: "pairs".into(),
            position: position(),
            fields: Some(list_entry(vec![
                scalar_entry("proc.name"),
                scalar_entry("fd.directory"),
            ])),
            comps: Some(list_entry(vec![scalar_entry("="), scalar_entry("in")])),
            values: vec![list_entry(vec![
                scalar_entry("cp"),
                list_entry(vec![scalar_entry("/etc"), scalar_entry("/tmp")]),
            ])],
        };
        assert_eq!(
            exception_text(&exception).expect("builds").as_deref(),
            Some("((proc.name = cp and fd.directory in (/etc, /tmp)))")
        );
    }

    #[test]
    fn no_values_no_clause() {
        let exception = ExceptionDef {
            name: "empty".into(),
            position: position(),
            fields: Some(scalar_entry("proc.name")),
            comps: Some(scalar_entry("in")),
            values: vec![],
        };
        assert_eq!(exception_text(&exception).expect("builds"), None);
    }
}
