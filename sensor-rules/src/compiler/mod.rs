//! Compilation of loaded rules into programs: macro and list expansion, exceptions, event
//! type derivation, field resolution and type checking, matcher construction.

mod builder;
mod check;
mod event_types;
mod exceptions;
mod expand;
mod extent;
mod extract;
mod limit_error;
mod list_table;
pub mod matchers;
mod operand;
mod output_template;
mod pattern_budget;
mod problems;
mod program;
mod rule_compiler;
mod source_map;
mod value;

pub(crate) use extract::Source;
pub(crate) use output_template::OutputTemplate;
pub use output_template::NOT_AVAILABLE;
pub(crate) use program::{ListMode, Node, Program, Test};
pub(crate) use rule_compiler::compile_rules;
pub use rule_compiler::{CompileOptions, CompiledRules};
