//! Reading rules files (Falco's YAML format) and merging them in load order.

mod collector;
mod decode;
mod exception_check;
mod items;
mod reader;
mod rule_reader;
mod source;
mod source_text;

pub use collector::{Collector, Indexed, PluginRequirement};
pub use items::{
    ExceptionDef, ExceptionEntry, ListDef, ListItemDef, MacroDef, RuleDef, RuleUpdate,
};
pub use reader::{read_source, ENGINE_VERSION};
pub(crate) use rule_reader::SYSCALL_SOURCE;
pub use source::RuleSource;
pub use source_text::SourceText;
