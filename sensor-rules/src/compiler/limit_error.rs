//! Expansion limits ([`crate::limits`]) exceeded by a rule condition, a macro or a list:
//! each error names the item that blew up, what it expands to, the limit and what to do.

use std::fmt;

use super::source_map::SourceMap;
use crate::condition::Span;
use crate::diagnostic::{Diagnostic, Position};
use crate::limits::{
    MAX_EXPANDED_DEPTH, MAX_EXPANDED_SIZE, MAX_LIST_NESTING, MAX_MACRO_NESTING,
    MAX_TOTAL_EXPANDED_SIZE,
};

/// A macro or a list, as messages name it.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub(crate) enum Reference {
    Macro(String),
    List(String),
}

impl fmt::Display for Reference {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Reference::Macro(name) => write!(f, "macro `{name}`"),
            Reference::List(name) => write!(f, "list `{name}`"),
        }
    }
}

/// The macro or list that makes up most of an expansion, and how often it is used there.
#[derive(Clone, Debug)]
pub(crate) struct HeaviestPart {
    pub reference: Reference,
    pub size: u64,
    pub uses: u64,
}

/// Where the problem is written: a span of a condition, or a list item.
#[derive(Clone, Debug)]
pub(crate) enum Place {
    Condition(Span),
    Definition(Position),
}

impl Place {
    pub fn position(&self, sources: &SourceMap) -> Position {
        match self {
            Place::Condition(span) => sources.position(*span),
            Place::Definition(position) => position.clone(),
        }
    }
}

/// How a message on `what` starts: a macro or list is named by the diagnostic's item (and
/// by [`LimitError::Uses`]), a rule's condition is said to be the condition.
fn lead(what: &Option<Reference>) -> &'static str {
    match what {
        Some(_) => "",
        None => "the condition ",
    }
}

fn heaviest_note(part: &Option<HeaviestPart>) -> String {
    match part {
        Some(part) => format!(
            "; most of it is {} ({} each, used {} time{})",
            part.reference,
            part.size,
            part.uses,
            if part.uses == 1 { "" } else { "s" }
        ),
        None => String::new(),
    }
}

fn size_advice(what: &Option<Reference>) -> &'static str {
    match what {
        Some(Reference::List(_)) => "include each list once, or split the list",
        _ => "use each macro or list once where it repeats, or split the rule",
    }
}

fn through(via: &Option<Reference>) -> String {
    via.as_ref()
        .map(|reference| format!(" (through {reference})"))
        .unwrap_or_default()
}

#[derive(Clone, Debug, thiserror::Error)]
pub(crate) enum LimitError {
    #[error(
        "{}expands to {size} condition nodes and list items once macros and lists are substituted, more than the {MAX_EXPANDED_SIZE} allowed per condition (MAX_EXPANDED_SIZE){}: {}",
        lead(.what),
        heaviest_note(.heaviest),
        size_advice(.what)
    )]
    TooLarge {
        what: Option<Reference>,
        size: u64,
        heaviest: Option<HeaviestPart>,
        place: Place,
    },
    #[error(
        "the condition expands to {size} condition nodes and list items, which would bring the rules loaded so far ({loaded}) past the {MAX_TOTAL_EXPANDED_SIZE} allowed in all (MAX_TOTAL_EXPANDED_SIZE); the rule is not loaded: load fewer rules, or share macros and lists instead of repeating conditions"
    )]
    TotalTooLarge {
        size: u64,
        loaded: u64,
        place: Place,
    },
    #[error(
        "{}nests macros {nesting} deep{}, more than the {MAX_MACRO_NESTING} allowed (MAX_MACRO_NESTING): write the innermost conditions out instead of wrapping macro in macro",
        lead(.what),
        through(.via)
    )]
    MacrosTooDeep {
        what: Option<Reference>,
        nesting: u32,
        via: Option<Reference>,
        place: Place,
    },
    #[error(
        "nests lists {nesting} deep{}, more than the {MAX_LIST_NESTING} allowed (MAX_LIST_NESTING): name the items of the inner lists instead of including list in list",
        through(.via)
    )]
    ListsTooDeep {
        list: String,
        nesting: u32,
        via: Option<Reference>,
        place: Place,
    },
    #[error(
        "{}nests {depth} levels deep once macros are expanded, more than the {MAX_EXPANDED_DEPTH} allowed (MAX_EXPANDED_DEPTH){}: flatten the macros",
        lead(.what),
        through(.via)
    )]
    TooDeep {
        what: Option<Reference>,
        depth: u32,
        via: Option<Reference>,
        place: Place,
    },
    /// Uses a macro or list that exceeds a limit itself; `cause` is where it starts.
    #[error("uses {reference}, which exceeds an expansion limit: {} {cause}", cause.subject())]
    Uses {
        reference: Reference,
        place: Place,
        cause: Box<LimitError>,
    },
}

impl LimitError {
    /// `reference`, used at `place`, fails with `error`: keep the error's origin as cause.
    pub fn uses(reference: Reference, place: Place, error: &LimitError) -> LimitError {
        LimitError::Uses {
            reference,
            place,
            cause: Box::new(error.origin().clone()),
        }
    }

    /// Whether the limit is exceeded here rather than by something used here (which is
    /// reported where it is defined).
    pub fn is_origin(&self) -> bool {
        !matches!(self, LimitError::Uses { .. })
    }

    /// What exceeds the limit, for messages that do not name it otherwise.
    fn subject(&self) -> String {
        let what = match self {
            LimitError::TooLarge { what, .. }
            | LimitError::MacrosTooDeep { what, .. }
            | LimitError::TooDeep { what, .. } => what.clone(),
            LimitError::ListsTooDeep { list, .. } => Some(Reference::List(list.clone())),
            LimitError::TotalTooLarge { .. } => None,
            LimitError::Uses { reference, .. } => Some(reference.clone()),
        };
        what.map_or_else(|| "the condition".to_string(), |what| what.to_string())
    }

    fn origin(&self) -> &LimitError {
        match self {
            LimitError::Uses { cause, .. } => cause.origin(),
            other => other,
        }
    }

    fn place(&self) -> &Place {
        match self {
            LimitError::TooLarge { place, .. }
            | LimitError::TotalTooLarge { place, .. }
            | LimitError::MacrosTooDeep { place, .. }
            | LimitError::ListsTooDeep { place, .. }
            | LimitError::TooDeep { place, .. }
            | LimitError::Uses { place, .. } => place,
        }
    }

    /// The error at its `file:line:col`; one that uses an oversized macro or list also
    /// says where that one is defined.
    pub fn diagnostic(&self, sources: &SourceMap) -> Diagnostic {
        let mut message = self.to_string();
        if let LimitError::Uses { cause, .. } = self {
            message.push_str(&format!(" (at {})", cause.place().position(sources)));
        }
        Diagnostic::error(self.place().position(sources), message)
    }
}
