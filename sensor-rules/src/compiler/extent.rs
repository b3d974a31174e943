//! How big a condition is once macros and lists are substituted, measured without
//! substituting them.
//!
//! Macros that each use the previous one twice double at every step: thirty of them expand
//! to a billion nodes from a kilobyte of text. So every macro's extent (size, depth, nesting)
//! is computed once from its body and the extents of the macros and lists it names, and a
//! condition is expanded only once its extent is known to be within [`crate::limits`]. The
//! walk over a body recurses only as deep as the parsed body; chains of macros are followed
//! with an explicit stack.

use super::expand::{Dependency, ExpandError, Expander};
use super::limit_error::{HeaviestPart, LimitError, Place, Reference};
use crate::condition::{Expr, Modifier, Operator, Span, Value};
use crate::limits::{MAX_EXPANDED_DEPTH, MAX_EXPANDED_SIZE, MAX_MACRO_NESTING};

/// What expanding a condition produces.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct Extent {
    /// Condition nodes plus list items (saturating: the sum is never built).
    pub size: u64,
    /// How deep expansion recurses: nodes, plus one per macro reference.
    pub depth: u32,
    /// Longest chain of macro references.
    pub macro_nesting: u32,
}

/// A macro or list named in a condition, with what it adds there.
struct Part {
    reference: Reference,
    span: Span,
    size: u64,
    depth: u32,
    macro_nesting: u32,
}

/// Whether the right side of a check is in a list position (`in (...)`, `pmatch (...)`,
/// a modifier), where list names are substituted.
fn list_position(operator: Operator, modifier: Option<Modifier>) -> bool {
    operator.takes_list() || modifier.is_some()
}

/// The macro names a body uses, in order.
fn macro_names<'e>(expr: &'e Expr, out: &mut Vec<&'e str>) {
    match expr {
        Expr::And(children, _) | Expr::Or(children, _) => {
            children.iter().for_each(|child| macro_names(child, out))
        }
        Expr::Not(child, _) => macro_names(child, out),
        Expr::Identifier(name, _) => out.push(name),
        Expr::Exists(..) | Expr::Compare { .. } => {}
    }
}

/// The list a bare list item or list name refers to, if it is a list.
fn list_item_name(value: &[u8], quoted: bool) -> Option<&str> {
    std::str::from_utf8(value).ok().filter(|_| !quoted)
}

impl Expander<'_> {
    /// The extent of macro `name`, measured (with every macro it uses) if it was not yet.
    /// `None` for a macro that does not parse.
    pub(super) fn macro_extent(&mut self, name: &str) -> Option<Result<Extent, ExpandError>> {
        self.measure_macros_from(name);
        self.macro_extents.get(name).cloned()
    }

    /// Measures `root` and, first, every macro it uses that is not measured yet, innermost
    /// first, with an explicit stack (a chain of a hundred thousand macros must not
    /// overflow the thread's stack).
    fn measure_macros_from(&mut self, root: &str) {
        if self.macro_extents.contains_key(root) || !self.parses(root) {
            return;
        }
        let parsed = self.parsed;
        // The chain being measured: each macro with the macros its body names and the index
        // of the next one to visit.
        let mut chain: Vec<(String, Vec<&str>, usize)> = Vec::new();
        let names_of = |name: &str| {
            let mut names = Vec::new();
            if let Some(Some(body)) = parsed.get(name) {
                macro_names(body, &mut names);
            }
            names
        };
        chain.push((root.to_string(), names_of(root), 0));
        self.in_progress.insert(root.to_string());
        while let Some((_, names, next)) = chain.last_mut() {
            if let Some(name) = names.get(*next).copied() {
                *next += 1;
                let pending = self.macros.get(name).is_some()
                    && self.parses(name)
                    && !self.macro_extents.contains_key(name)
                    && !self.in_progress.contains(name);
                if pending {
                    self.in_progress.insert(name.to_string());
                    chain.push((name.to_string(), names_of(name), 0));
                }
                continue;
            }
            // Every macro this one uses is measured (or is on the chain: a recursion, which
            // measuring reports).
            let Some((name, ..)) = chain.pop() else {
                break;
            };
            let extent = self.measure_macro(&name);
            self.in_progress.remove(&name);
            self.macro_extents.insert(name, extent);
        }
    }

    fn parses(&self, name: &str) -> bool {
        matches!(self.parsed.get(name), Some(Some(_)))
    }

    fn measure_macro(&mut self, name: &str) -> Result<Extent, ExpandError> {
        let parsed = self.parsed;
        let (Some(definition), Some(Some(body))) = (self.macros.get(name), parsed.get(name)) else {
            return Ok(Extent::default());
        };
        let extent = self.measure(body, definition.visibility, Some(name))?;
        // Checked as it is used: one more level of nesting and depth than its body.
        let used = Extent {
            size: extent.size,
            depth: extent.depth.saturating_add(1),
            macro_nesting: extent.macro_nesting.saturating_add(1),
        };
        self.check_limits(used, body, Some(Reference::Macro(name.to_string())))?;
        Ok(extent)
    }

    /// The extent of `expr` (a macro body or a rule condition), with the warnings on list
    /// names and the macros and lists it uses marked as used. Macros are measured first.
    pub(super) fn measure(
        &mut self,
        expr: &Expr,
        visibility: u32,
        user: Option<&str>,
    ) -> Result<Extent, ExpandError> {
        Ok(match expr {
            Expr::And(children, _) | Expr::Or(children, _) => {
                let mut extent = Extent {
                    size: 1,
                    ..Extent::default()
                };
                for child in children {
                    let child = self.measure(child, visibility, user)?;
                    extent.size = extent.size.saturating_add(child.size);
                    extent.depth = extent.depth.max(child.depth);
                    extent.macro_nesting = extent.macro_nesting.max(child.macro_nesting);
                }
                extent.depth = extent.depth.saturating_add(1);
                extent
            }
            Expr::Not(child, _) => {
                let child = self.measure(child, visibility, user)?;
                Extent {
                    size: child.size.saturating_add(1),
                    depth: child.depth.saturating_add(1),
                    macro_nesting: child.macro_nesting,
                }
            }
            Expr::Identifier(name, span) => {
                let body = self.macro_reference(name, *span, visibility, user)?;
                Extent {
                    size: body.size,
                    depth: body.depth.saturating_add(1),
                    macro_nesting: body.macro_nesting.saturating_add(1),
                }
            }
            Expr::Exists(..) => Extent {
                size: 1,
                depth: 1,
                macro_nesting: 0,
            },
            Expr::Compare {
                operator,
                modifier,
                right,
                ..
            } => Extent {
                size: self
                    .measure_value(right, *operator, *modifier)?
                    .saturating_add(1),
                depth: 1,
                macro_nesting: 0,
            },
        })
    }

    /// The extent of the macro `name` used at `span` by `user` (a macro, or a rule).
    fn macro_reference(
        &mut self,
        name: &str,
        span: Span,
        visibility: u32,
        user: Option<&str>,
    ) -> Result<Extent, ExpandError> {
        let Some(definition) = self.macros.get(name) else {
            return Err(Dependency::UndefinedMacro {
                name: name.to_string(),
                span,
            }
            .into());
        };
        if definition.index >= visibility {
            return Err(Dependency::DefinedLater {
                user: user.unwrap_or_default().to_string(),
                name: name.to_string(),
                span,
                defined_at: definition.position.clone(),
            }
            .into());
        }
        if self.in_progress.contains(name) {
            return Err(Dependency::Recursive {
                name: name.to_string(),
                span,
            }
            .into());
        }
        self.used_macros.insert(name.to_string());
        match self.macro_extent(name) {
            Some(Ok(extent)) => Ok(extent),
            Some(Err(ExpandError::Limit(error))) => Err(LimitError::uses(
                Reference::Macro(name.to_string()),
                Place::Condition(span),
                &error,
            )
            .into()),
            Some(Err(dependency)) => Err(dependency),
            None => Err(Dependency::BrokenMacro {
                name: name.to_string(),
                span,
            }
            .into()),
        }
    }

    /// List items the right side of a check adds once list names are substituted; warns
    /// about list names where no list is expected and names that are no list.
    fn measure_value(
        &mut self,
        value: &Value,
        operator: Operator,
        modifier: Option<Modifier>,
    ) -> Result<u64, ExpandError> {
        let in_list_position = list_position(operator, modifier);
        match value {
            Value::ListName(name, span) if in_list_position => {
                if self.list_table.is_list(name) {
                    self.list_reference(name, *span)
                } else {
                    self.warnings.push((
                        *span,
                        format!("`{name}` is not a defined list; it is compared as the literal value `{name}` (as Falco does)"),
                    ));
                    Ok(1)
                }
            }
            Value::List(items, _) => {
                let mut count: u64 = 0;
                for item in items {
                    let added = match list_item_name(&item.value, item.quoted)
                        .filter(|name| self.list_table.is_list(name))
                    {
                        Some(name) => self.list_reference(name, item.span)?,
                        None => 1,
                    };
                    count = count.saturating_add(added);
                }
                Ok(count)
            }
            Value::Scalar {
                text,
                quoted: false,
                span,
            } if !in_list_position => {
                if let Some(name) =
                    list_item_name(text, false).filter(|name| self.list_table.is_list(name))
                {
                    self.warnings.push((
                        *span,
                        format!("`{name}` is a list but is compared here as a literal value; to test membership write `in ({name})`"),
                    ));
                }
                Ok(0)
            }
            _ => Ok(0),
        }
    }

    /// The items of list `name` used at `span`, marking it (and what it includes) used.
    fn list_reference(&mut self, name: &str, span: Span) -> Result<u64, ExpandError> {
        self.list_table.mark_used(name, &mut self.used_lists);
        match self.list_table.extent(name) {
            Some(Ok(extent)) => Ok(extent.items),
            Some(Err(error)) => Err(LimitError::uses(
                Reference::List(name.to_string()),
                Place::Condition(span),
                error,
            )
            .into()),
            None => Ok(1),
        }
    }

    /// Refuses an extent past a limit, naming the macro or list responsible. `what` is the
    /// macro measured, `None` for a rule condition.
    pub(super) fn check_limits(
        &self,
        extent: Extent,
        body: &Expr,
        what: Option<Reference>,
    ) -> Result<(), LimitError> {
        let within = extent.macro_nesting <= MAX_MACRO_NESTING
            && extent.depth <= MAX_EXPANDED_DEPTH
            && extent.size <= MAX_EXPANDED_SIZE;
        if within {
            return Ok(());
        }
        let mut parts = Vec::new();
        self.parts(body, &mut parts);
        let at = |part: Option<&Part>| Place::Condition(part.map_or(body.span(), |p| p.span));
        if extent.macro_nesting > MAX_MACRO_NESTING {
            let via = parts.iter().max_by_key(|part| part.macro_nesting);
            return Err(LimitError::MacrosTooDeep {
                what,
                nesting: extent.macro_nesting,
                via: via.map(|part| part.reference.clone()),
                place: at(via),
            });
        }
        if extent.depth > MAX_EXPANDED_DEPTH {
            let via = parts.iter().max_by_key(|part| part.depth);
            return Err(LimitError::TooDeep {
                what,
                depth: extent.depth,
                via: via.map(|part| part.reference.clone()),
                place: at(via),
            });
        }
        // The macro or list that weighs most: its size times its uses.
        let mut totals: Vec<(&Part, u64)> = Vec::new();
        for part in &parts {
            match totals
                .iter_mut()
                .find(|(first, _)| first.reference == part.reference)
            {
                Some((_, uses)) => *uses += 1,
                None => totals.push((part, 1)),
            }
        }
        let heaviest = totals
            .into_iter()
            .max_by_key(|(part, uses)| part.size.saturating_mul(*uses));
        Err(LimitError::TooLarge {
            what,
            size: extent.size,
            place: at(heaviest.map(|(part, _)| part)),
            heaviest: heaviest.map(|(part, uses)| HeaviestPart {
                reference: part.reference.clone(),
                size: part.size,
                uses,
            }),
        })
    }

    /// The macros and lists `expr` names, with what each adds (all measured already).
    fn parts(&self, expr: &Expr, out: &mut Vec<Part>) {
        match expr {
            Expr::And(children, _) | Expr::Or(children, _) => {
                children.iter().for_each(|child| self.parts(child, out))
            }
            Expr::Not(child, _) => self.parts(child, out),
            Expr::Identifier(name, span) => {
                if let Some(Ok(extent)) = self.macro_extents.get(name) {
                    out.push(Part {
                        reference: Reference::Macro(name.clone()),
                        span: *span,
                        size: extent.size,
                        depth: extent.depth.saturating_add(1),
                        macro_nesting: extent.macro_nesting.saturating_add(1),
                    });
                }
            }
            Expr::Exists(..) => {}
            Expr::Compare {
                operator,
                modifier,
                right,
                ..
            } => {
                let mut list = |name: &str, span: Span| {
                    if let Some(Ok(extent)) = self.list_table.extent(name) {
                        out.push(Part {
                            reference: Reference::List(name.to_string()),
                            span,
                            size: extent.items,
                            depth: 1,
                            macro_nesting: 0,
                        });
                    }
                };
                match right {
                    Value::ListName(name, span) if list_position(*operator, *modifier) => {
                        list(name, *span)
                    }
                    Value::List(items, _) => {
                        for item in items {
                            if let Some(name) = list_item_name(&item.value, item.quoted) {
                                list(name, item.span);
                            }
                        }
                    }
                    _ => {}
                }
            }
        }
    }
}
