//! Structural checks of rule exceptions, done when a rule is defined or appended to
//! (Falco's `validate_exception_info`): default comparison operators, matching lengths,
//! known operators.

use super::items::{ExceptionDef, ExceptionEntry};
use crate::condition::parse_operator_with_modifier;
use crate::diagnostic::Diagnostic;

fn normalize(comp: &str) -> String {
    comp.trim_matches(|c| matches!(c, ' ' | '\t' | '\r' | '\n'))
        .to_string()
}

/// Fills in default `comps` and checks the exception; the error names what to fix.
pub fn validate_exception(exception: &mut ExceptionDef) -> Result<(), Diagnostic> {
    let error = |message: String| Diagnostic::error(exception.position.clone(), message);
    let Some(fields) = &exception.fields else {
        return Err(error(format!(
            "exception `{}` has no `fields`: add `fields: [proc.name, ...]` (or a single field)",
            exception.name
        )));
    };
    match fields {
        ExceptionEntry::List(field_items, _) => {
            let count = field_items.len();
            let comps = match exception.comps.take() {
                None => ExceptionEntry::List(
                    field_items
                        .iter()
                        .map(|field| {
                            ExceptionEntry::Scalar("=".to_string(), field.position().clone())
                        })
                        .collect(),
                    exception.position.clone(),
                ),
                Some(ExceptionEntry::List(items, position)) => ExceptionEntry::List(
                    items
                        .into_iter()
                        .map(|item| match item {
                            ExceptionEntry::Scalar(text, position) => {
                                ExceptionEntry::Scalar(normalize(&text), position)
                            }
                            other => other,
                        })
                        .collect(),
                    position,
                ),
                Some(scalar @ ExceptionEntry::Scalar(..)) => scalar,
            };
            let ExceptionEntry::List(comp_items, _) = &comps else {
                return Err(error(format!(
                    "exception `{}`: `fields` is a list, so `comps` must be a list of the same length",
                    exception.name
                )));
            };
            if comp_items.len() != count {
                return Err(error(format!(
                    "exception `{}`: Fields and comps lists must have equal length ({} fields, {} comps)",
                    exception.name,
                    count,
                    comp_items.len()
                )));
            }
            for comp in comp_items {
                let ExceptionEntry::Scalar(text, position) = comp else {
                    return Err(Diagnostic::error(
                        comp.position().clone(),
                        format!(
                            "exception `{}`: each comp must be an operator such as `=` or `in`",
                            exception.name
                        ),
                    ));
                };
                if text == "exists" || parse_operator_with_modifier(text).is_none() {
                    return Err(Diagnostic::error(
                        position.clone(),
                        format!(
                            "exception `{}`: '{}' is not a supported comparison operator; use =, !=, <, <=, >, >=, contains, icontains, startswith, endswith, glob, iglob, regex, in, intersects, pmatch (optionally followed by oneof/anyof/allof)",
                            exception.name, text
                        ),
                    ));
                }
            }
            exception.comps = Some(comps);
        }
        ExceptionEntry::Scalar(..) => {
            let comp = match exception.comps.take() {
                None => ExceptionEntry::Scalar("in".to_string(), exception.position.clone()),
                Some(ExceptionEntry::Scalar(text, position)) => {
                    ExceptionEntry::Scalar(normalize(&text), position)
                }
                Some(ExceptionEntry::List(..)) => {
                    return Err(error(format!(
                        "exception `{}`: Fields and comps must both be strings (or both lists)",
                        exception.name
                    )))
                }
            };
            let ExceptionEntry::Scalar(text, position) = &comp else {
                return Err(error("internal: comps".to_string()));
            };
            let allowed = matches!(text.as_str(), "in" | "pmatch" | "intersects")
                || parse_operator_with_modifier(text)
                    .is_some_and(|(_, modifier)| modifier.is_some());
            if !allowed {
                return Err(Diagnostic::error(
                    position.clone(),
                    format!(
                        "exception `{}`: When fields is a single value, comps must be one of (in, pmatch, intersects) or a modifier operator (e.g. startswith oneof), not '{}'",
                        exception.name, text
                    ),
                ));
            }
            exception.comps = Some(comp);
        }
    }
    Ok(())
}
