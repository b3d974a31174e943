//! Resolves macro references and list names in parsed conditions.
//!
//! As in Falco: a macro may use only macros defined before it (by first definition), a rule
//! may use any macro; list names are resolved over the whole loaded set, and a list item
//! naming another list is replaced by that list's items. Falco substitutes lists textually;
//! here they are substituted in list positions of the tree (`in (...)`, `pmatch (...)`, the
//! name after a list operator), which is where a textual substitution yields a valid
//! condition.

use std::collections::{HashMap, HashSet};

use crate::condition::{unescape_quoted, Expr, ListItem, Modifier, Operator, Span, Value};
use crate::diagnostic::Position;
use crate::loader::{Indexed, ListDef, MacroDef};

/// Why a condition cannot be expanded: something it depends on is missing or broken.
#[derive(Clone, Debug)]
pub(crate) enum Dependency {
    UndefinedMacro {
        name: String,
        span: Span,
    },
    DefinedLater {
        user: String,
        name: String,
        span: Span,
        defined_at: Position,
    },
    BrokenMacro {
        name: String,
        span: Span,
    },
    Recursive {
        name: String,
        span: Span,
    },
    TooDeep {
        span: Span,
    },
}

/// Deeper expanded conditions are refused: evaluating and dropping them recurses.
const MAX_EXPANDED_DEPTH: usize = 300;

impl Dependency {
    pub fn span(&self) -> Span {
        match self {
            Dependency::UndefinedMacro { span, .. }
            | Dependency::DefinedLater { span, .. }
            | Dependency::BrokenMacro { span, .. }
            | Dependency::Recursive { span, .. }
            | Dependency::TooDeep { span } => *span,
        }
    }

    pub fn message(&self) -> String {
        match self {
            Dependency::UndefinedMacro { name, .. } => format!(
                "uses undefined macro `{name}` (Falco: \"Undefined macro '{name}' used in filter.\"); load the file that defines it first"
            ),
            Dependency::DefinedLater { user, name, defined_at, .. } => format!(
                "macro `{user}` uses macro `{name}`, which is defined after it (at {defined_at}); Falco requires macros to be defined before use"
            ),
            Dependency::BrokenMacro { name, .. } => {
                format!("uses macro `{name}`, whose condition has a syntax error (reported at the macro)")
            }
            Dependency::Recursive { name, .. } => format!("macro `{name}` refers to itself"),
            Dependency::TooDeep { .. } => format!(
                "the condition nests deeper than {MAX_EXPANDED_DEPTH} levels once macros are expanded; flatten the macros"
            ),
        }
    }
}

pub(crate) struct Expander<'c> {
    macros: &'c Indexed<MacroDef>,
    lists: &'c Indexed<ListDef>,
    /// Parsed macro conditions; `None` for macros with a syntax error.
    parsed: &'c HashMap<String, Option<Expr>>,
    memo: HashMap<String, Result<Expr, Dependency>>,
    in_progress: Vec<String>,
    depth: usize,
    list_memo: HashMap<String, Vec<Vec<u8>>>,
    pub used_macros: HashSet<String>,
    pub used_lists: HashSet<String>,
    pub warnings: Vec<(Span, String)>,
}

/// A list item as Falco reads it after quoting it into the condition: quoted items are
/// unescaped, bare ones taken as written.
fn decode_list_item(item: &str) -> Vec<u8> {
    let bytes = item.as_bytes();
    let quoted =
        bytes.len() >= 2 && matches!(bytes[0], b'"' | b'\'') && bytes[bytes.len() - 1] == bytes[0];
    if quoted {
        if let Ok(value) = unescape_quoted(bytes) {
            return value;
        }
    }
    bytes.to_vec()
}

impl<'c> Expander<'c> {
    pub fn new(
        macros: &'c Indexed<MacroDef>,
        lists: &'c Indexed<ListDef>,
        parsed: &'c HashMap<String, Option<Expr>>,
    ) -> Self {
        Expander {
            macros,
            lists,
            parsed,
            memo: HashMap::new(),
            in_progress: Vec::new(),
            depth: 0,
            list_memo: HashMap::new(),
            used_macros: HashSet::new(),
            used_lists: HashSet::new(),
            warnings: Vec::new(),
        }
    }

    /// Expands a rule condition (which may use every macro).
    pub fn expand_rule(&mut self, expr: &Expr) -> Result<Expr, Dependency> {
        self.expand(expr, u32::MAX, None)
    }

    fn expand(
        &mut self,
        expr: &Expr,
        visibility: u32,
        user: Option<&str>,
    ) -> Result<Expr, Dependency> {
        self.depth += 1;
        let result = if self.depth > MAX_EXPANDED_DEPTH {
            Err(Dependency::TooDeep { span: expr.span() })
        } else {
            self.expand_inner(expr, visibility, user)
        };
        self.depth -= 1;
        result
    }

    fn expand_inner(
        &mut self,
        expr: &Expr,
        visibility: u32,
        user: Option<&str>,
    ) -> Result<Expr, Dependency> {
        Ok(match expr {
            Expr::And(children, span) => {
                Expr::And(self.expand_all(children, visibility, user)?, *span)
            }
            Expr::Or(children, span) => {
                Expr::Or(self.expand_all(children, visibility, user)?, *span)
            }
            Expr::Not(child, span) => {
                Expr::Not(Box::new(self.expand(child, visibility, user)?), *span)
            }
            Expr::Identifier(name, span) => self.expand_macro(name, *span, visibility, user)?,
            Expr::Exists(operand, span) => Expr::Exists(operand.clone(), *span),
            Expr::Compare {
                left,
                operator,
                modifier,
                right,
                span,
            } => Expr::Compare {
                left: left.clone(),
                operator: *operator,
                modifier: *modifier,
                right: self.expand_value(right, *operator, *modifier),
                span: *span,
            },
        })
    }

    fn expand_all(
        &mut self,
        children: &[Expr],
        visibility: u32,
        user: Option<&str>,
    ) -> Result<Vec<Expr>, Dependency> {
        children
            .iter()
            .map(|child| self.expand(child, visibility, user))
            .collect()
    }

    fn expand_macro(
        &mut self,
        name: &str,
        span: Span,
        visibility: u32,
        user: Option<&str>,
    ) -> Result<Expr, Dependency> {
        let Some(definition) = self.macros.get(name) else {
            return Err(Dependency::UndefinedMacro {
                name: name.to_string(),
                span,
            });
        };
        if definition.index >= visibility {
            return Err(Dependency::DefinedLater {
                user: user.unwrap_or_default().to_string(),
                name: name.to_string(),
                span,
                defined_at: definition.position.clone(),
            });
        }
        if self.in_progress.iter().any(|n| n == name) {
            return Err(Dependency::Recursive {
                name: name.to_string(),
                span,
            });
        }
        self.used_macros.insert(name.to_string());
        if let Some(done) = self.memo.get(name) {
            return done.clone();
        }
        let Some(Some(body)) = self.parsed.get(name) else {
            return Err(Dependency::BrokenMacro {
                name: name.to_string(),
                span,
            });
        };
        self.in_progress.push(name.to_string());
        let result = self.expand(body, definition.visibility, Some(name));
        self.in_progress.pop();
        self.memo.insert(name.to_string(), result.clone());
        result
    }

    fn expand_value(
        &mut self,
        value: &Value,
        operator: Operator,
        modifier: Option<Modifier>,
    ) -> Value {
        let list_position = operator.takes_list() || modifier.is_some();
        match value {
            Value::ListName(name, span) if list_position => {
                if self.lists.get(name).is_some() {
                    let items = self
                        .list_values(name, &mut Vec::new())
                        .into_iter()
                        .map(|value| ListItem {
                            value,
                            quoted: true,
                            span: *span,
                        })
                        .collect();
                    Value::List(items, *span)
                } else {
                    self.warnings.push((
                        *span,
                        format!("`{name}` is not a defined list; it is compared as the literal value `{name}` (as Falco does)"),
                    ));
                    Value::List(
                        vec![ListItem {
                            value: name.as_bytes().to_vec(),
                            quoted: false,
                            span: *span,
                        }],
                        *span,
                    )
                }
            }
            Value::List(items, span) => {
                let mut expanded = Vec::with_capacity(items.len());
                for item in items {
                    let name = std::str::from_utf8(&item.value)
                        .ok()
                        .filter(|_| !item.quoted);
                    match name.filter(|name| self.lists.get(name).is_some()) {
                        Some(name) => {
                            let name = name.to_string();
                            for value in self.list_values(&name, &mut Vec::new()) {
                                expanded.push(ListItem {
                                    value,
                                    quoted: true,
                                    span: item.span,
                                });
                            }
                        }
                        None => expanded.push(item.clone()),
                    }
                }
                Value::List(expanded, *span)
            }
            Value::Scalar {
                text,
                quoted: false,
                span,
            } if !list_position => {
                if let Some(name) = std::str::from_utf8(text)
                    .ok()
                    .filter(|n| self.lists.get(n).is_some())
                {
                    self.warnings.push((
                        *span,
                        format!("`{name}` is a list but is compared here as a literal value; to test membership write `in ({name})`"),
                    ));
                }
                value.clone()
            }
            other => other.clone(),
        }
    }

    /// The items of a list with nested list names expanded (cycles stop expansion).
    fn list_values(&mut self, name: &str, stack: &mut Vec<String>) -> Vec<Vec<u8>> {
        if let Some(values) = self.list_memo.get(name) {
            self.used_lists.insert(name.to_string());
            return values.clone();
        }
        let Some(definition) = self.lists.get(name) else {
            return vec![name.as_bytes().to_vec()];
        };
        self.used_lists.insert(name.to_string());
        stack.push(name.to_string());
        let mut values = Vec::new();
        for item in &definition.items {
            let nested = self.lists.get(&item.value).is_some() && !stack.contains(&item.value);
            if nested {
                let nested_values = self.list_values(&item.value, stack);
                values.extend(nested_values);
            } else {
                values.push(decode_list_item(&item.value));
            }
        }
        stack.pop();
        self.list_memo.insert(name.to_string(), values.clone());
        values
    }

    /// Expands a macro's own condition, to report its problems and to mark the macros and
    /// lists it uses (Falco resolves every macro, used or not).
    pub fn expand_definition(&mut self, name: &str) -> Result<(), Dependency> {
        if self.memo.contains_key(name) {
            return self.memo[name].clone().map(|_| ());
        }
        let Some(definition) = self.macros.get(name) else {
            return Ok(());
        };
        let Some(Some(body)) = self.parsed.get(name) else {
            return Ok(());
        };
        self.in_progress.push(name.to_string());
        let result = self.expand(body, definition.visibility, Some(name));
        self.in_progress.pop();
        self.memo.insert(name.to_string(), result.clone());
        result.map(|_| ())
    }
}
