//! Resolves macro references and list names in parsed conditions.
//!
//! As in Falco: a macro may use only macros defined before it (by first definition), a rule
//! may use any macro; list names are resolved over the whole loaded set, and a list item
//! naming another list is replaced by that list's items. Falco substitutes lists textually;
//! here they are substituted in list positions of the tree (`in (...)`, `pmatch (...)`, the
//! name after a list operator), which is where a textual substitution yields a valid
//! condition.
//!
//! Nothing is substituted before it is measured ([`super::extent`], [`super::list_table`]):
//! a condition is expanded only once its expanded size, depth and macro nesting are known to
//! be within [`crate::limits`], so the expansion's memory and recursion are bounded.

use std::collections::{HashMap, HashSet};

use super::extent::Extent;
use super::limit_error::{LimitError, Place};
use super::list_table::ListTable;
use crate::condition::{Expr, ListItem, Modifier, Operator, Span, Value};
use crate::diagnostic::Position;
use crate::limits::{MAX_EXPANDED_DEPTH, MAX_TOTAL_EXPANDED_SIZE};
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
}

impl Dependency {
    pub fn span(&self) -> Span {
        match self {
            Dependency::UndefinedMacro { span, .. }
            | Dependency::DefinedLater { span, .. }
            | Dependency::BrokenMacro { span, .. }
            | Dependency::Recursive { span, .. } => *span,
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
        }
    }
}

/// Why a condition is not expanded: a dependency problem (the rule is skipped, as a valid
/// Falco rule this load cannot run) or a limit (an error).
#[derive(Clone, Debug)]
pub(crate) enum ExpandError {
    Dependency(Dependency),
    Limit(LimitError),
}

impl From<Dependency> for ExpandError {
    fn from(dependency: Dependency) -> Self {
        ExpandError::Dependency(dependency)
    }
}

impl From<LimitError> for ExpandError {
    fn from(limit: LimitError) -> Self {
        ExpandError::Limit(limit)
    }
}

pub(crate) struct Expander<'c> {
    pub(super) macros: &'c Indexed<MacroDef>,
    /// Parsed macro conditions; `None` for macros with a syntax error.
    pub(super) parsed: &'c HashMap<String, Option<Expr>>,
    pub(super) list_table: ListTable,
    /// The extent of every macro measured, or why it cannot be expanded.
    pub(super) macro_extents: HashMap<String, Result<Extent, ExpandError>>,
    /// Macros being measured: a use of one of them is a recursion.
    pub(super) in_progress: HashSet<String>,
    /// Expansion depth, a guard besides the measured depth.
    depth: u32,
    /// Condition nodes and list items of every rule condition expanded so far.
    expanded_total: u64,
    pub used_macros: HashSet<String>,
    pub used_lists: HashSet<String>,
    pub warnings: Vec<(Span, String)>,
}

impl<'c> Expander<'c> {
    pub fn new(
        macros: &'c Indexed<MacroDef>,
        lists: &'c Indexed<ListDef>,
        parsed: &'c HashMap<String, Option<Expr>>,
    ) -> Self {
        Expander {
            macros,
            parsed,
            list_table: ListTable::new(lists),
            macro_extents: HashMap::new(),
            in_progress: HashSet::new(),
            depth: 0,
            expanded_total: 0,
            used_macros: HashSet::new(),
            used_lists: HashSet::new(),
            warnings: Vec::new(),
        }
    }

    /// Lists that exceed a limit themselves, in load order, to report at the list.
    pub fn list_limit_errors(&self) -> impl Iterator<Item = (&str, &LimitError)> {
        self.list_table.limit_errors()
    }

    /// Measures a macro's own condition, to report its problems and to mark the macros and
    /// lists it uses (Falco resolves every macro, used or not).
    pub fn measure_definition(&mut self, name: &str) -> Result<(), ExpandError> {
        match self.macro_extent(name) {
            Some(result) => result.map(|_| ()),
            None => Ok(()),
        }
    }

    /// Expands a rule condition (which may use every macro), once it is known to be within
    /// the limits per condition and for all the rules together.
    pub fn expand_rule(&mut self, expr: &Expr) -> Result<Expr, ExpandError> {
        let extent = self.measure(expr, u32::MAX, None)?;
        self.check_limits(extent, expr, None)?;
        let total = self.expanded_total.saturating_add(extent.size);
        if total > MAX_TOTAL_EXPANDED_SIZE {
            return Err(LimitError::TotalTooLarge {
                size: extent.size,
                loaded: self.expanded_total,
                place: Place::Condition(expr.span()),
            }
            .into());
        }
        self.expanded_total = total;
        // Measuring found every macro defined, visible, parsed and within the limits.
        self.expand(expr).ok_or_else(|| {
            LimitError::TooDeep {
                what: None,
                depth: MAX_EXPANDED_DEPTH.saturating_add(1),
                via: None,
                place: Place::Condition(expr.span()),
            }
            .into()
        })
    }

    /// Substitutes macros and lists in a measured condition; `None` only if the depth guard
    /// trips. Small frames (no error payload, no iterator adapters) keep the recursion,
    /// as deep as [`MAX_EXPANDED_DEPTH`], far from the end of a 2 MiB stack.
    fn expand(&mut self, expr: &Expr) -> Option<Expr> {
        if self.depth >= MAX_EXPANDED_DEPTH {
            return None;
        }
        self.depth += 1;
        let expanded = self.expand_inner(expr);
        self.depth -= 1;
        expanded
    }

    fn expand_inner(&mut self, expr: &Expr) -> Option<Expr> {
        Some(match expr {
            Expr::And(children, span) => Expr::And(self.expand_all(children)?, *span),
            Expr::Or(children, span) => Expr::Or(self.expand_all(children)?, *span),
            Expr::Not(child, span) => Expr::Not(Box::new(self.expand(child)?), *span),
            Expr::Identifier(name, _) => {
                let parsed = self.parsed;
                self.expand(parsed.get(name)?.as_ref()?)?
            }
            Expr::Exists(..) | Expr::Compare { .. } => self.expand_check(expr),
        })
    }

    /// A check with its list names substituted. Apart from the recursion so that its
    /// temporaries do not weigh on every level of it (debug builds keep them all).
    #[inline(never)]
    fn expand_check(&mut self, expr: &Expr) -> Expr {
        match expr {
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
            other => other.clone(),
        }
    }

    fn expand_all(&mut self, children: &[Expr]) -> Option<Vec<Expr>> {
        let mut expanded = Vec::with_capacity(children.len());
        for child in children {
            expanded.push(self.expand(child)?);
        }
        Some(expanded)
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
                let mut values = Vec::new();
                if self.list_table.is_list(name) {
                    self.list_table.push_values(name, &mut values);
                    let items = values
                        .into_iter()
                        .map(|value| ListItem {
                            value,
                            quoted: true,
                            span: *span,
                        })
                        .collect();
                    Value::List(items, *span)
                } else {
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
                        .filter(|_| !item.quoted)
                        .filter(|name| self.list_table.is_list(name));
                    match name {
                        Some(name) => {
                            let mut values = Vec::new();
                            self.list_table.push_values(name, &mut values);
                            expanded.extend(values.into_iter().map(|value| ListItem {
                                value,
                                quoted: true,
                                span: item.span,
                            }));
                        }
                        None => expanded.push(item.clone()),
                    }
                }
                Value::List(expanded, *span)
            }
            other => other.clone(),
        }
    }
}
