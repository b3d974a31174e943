//! Definitions read from rules files: lists, macros, rules and their exceptions.

use std::collections::BTreeSet;

use super::source_text::SourceText;
use crate::diagnostic::Position;
use crate::output::Priority;

/// One item of a list, with where it was written.
#[derive(Clone, Debug)]
pub struct ListItemDef {
    pub value: String,
    pub position: Position,
}

#[derive(Clone, Debug)]
pub struct ListDef {
    pub name: String,
    pub items: Vec<ListItemDef>,
    pub position: Position,
    /// Order of the first definition; later definitions keep it.
    pub index: u32,
    /// Order of the last definition or append; items may name lists with a lower index.
    pub visibility: u32,
}

#[derive(Clone, Debug)]
pub struct MacroDef {
    pub name: String,
    pub condition: SourceText,
    pub position: Position,
    pub index: u32,
    /// Order of the last definition or append; a macro may use macros with a lower index.
    pub visibility: u32,
}

/// A `fields`, `comps` or value entry of an exception: a scalar or a list of entries.
#[derive(Clone, Debug)]
pub enum ExceptionEntry {
    Scalar(String, Position),
    List(Vec<ExceptionEntry>, Position),
}

impl ExceptionEntry {
    pub fn position(&self) -> &Position {
        match self {
            ExceptionEntry::Scalar(_, position) | ExceptionEntry::List(_, position) => position,
        }
    }
}

#[derive(Clone, Debug)]
pub struct ExceptionDef {
    pub name: String,
    pub position: Position,
    pub fields: Option<ExceptionEntry>,
    pub comps: Option<ExceptionEntry>,
    pub values: Vec<ExceptionEntry>,
}

#[derive(Clone, Debug)]
pub struct RuleDef {
    pub name: String,
    pub position: Position,
    pub desc: String,
    pub condition: SourceText,
    pub output: SourceText,
    pub priority: Priority,
    pub tags: BTreeSet<String>,
    pub enabled: bool,
    pub source: String,
    pub exceptions: Vec<ExceptionDef>,
    pub warn_evttypes: bool,
    pub skip_if_unknown_filter: bool,
    pub index: u32,
}

/// The parts of a rule an `append`/`override` item changes; `None` leaves a part alone.
#[derive(Clone, Debug, Default)]
pub struct RuleUpdate {
    pub condition: Option<SourceText>,
    pub output: Option<SourceText>,
    pub desc: Option<String>,
    pub tags: Option<BTreeSet<String>>,
    pub exceptions: Option<Vec<ExceptionDef>>,
    pub priority: Option<Priority>,
    pub enabled: Option<bool>,
    pub warn_evttypes: Option<bool>,
    pub skip_if_unknown_filter: Option<bool>,
}

impl RuleUpdate {
    pub fn is_empty(&self) -> bool {
        self.condition.is_none()
            && self.output.is_none()
            && self.desc.is_none()
            && self.tags.is_none()
            && self.exceptions.is_none()
            && self.priority.is_none()
            && self.enabled.is_none()
            && self.warn_evttypes.is_none()
            && self.skip_if_unknown_filter.is_none()
    }
}
