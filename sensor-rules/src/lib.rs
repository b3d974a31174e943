//! Falco-compatible rules engine of the sensor.
//!
//! Rules files in Falco's YAML format are read in order ([`loader`]), later files amending
//! earlier ones; conditions are parsed ([`condition`]), macros and lists expanded,
//! exceptions added, fields resolved against the [`fields::FieldRegistry`] and type-checked,
//! and everything compiled once into programs. A [`Ruleset`] then evaluates events (anything
//! implementing [`Event`]) against only the rules whose event types include the event's,
//! and a matching [`Rule`] renders an [`Alert`] with Falco's JSON keys.
//!
//! ```
//! use sensor_rules::{MapEvent, MatchMode, RuleSource, RulesetBuilder};
//!
//! let rules = "
//! - macro: spawned_process
//!   condition: evt.type in (execve, execveat)
//! - rule: Netcat run
//!   desc: netcat started
//!   condition: spawned_process and proc.name in (nc, ncat)
//!   output: netcat started (user=%user.name command=%proc.cmdline)
//!   priority: WARNING
//!   tags: [network]
//! ";
//! let compiled = RulesetBuilder::new().source(RuleSource::new("rules.yaml", rules)).build();
//! assert!(!compiled.report.has_errors(), "{}", compiled.report);
//!
//! let event = MapEvent::new("execve")
//!     .with("proc.name", "nc")
//!     .with("proc.cmdline", "nc -l 4444")
//!     .with("user.name", "root");
//! let matches = compiled.ruleset.evaluate(&event, MatchMode::First);
//! assert_eq!(matches.len(), 1);
//! let alert = matches[0].render_alert(&event, "node-1", 1_700_000_000_000_000_000);
//! assert_eq!(alert.output_fields["proc.cmdline"], "nc -l 4444");
//! assert!(alert.output.ends_with("Warning netcat started (user=root command=nc -l 4444)"));
//! ```

pub mod compiler;
pub mod condition;
pub mod diagnostic;
pub mod engine;
pub mod error;
pub mod event;
pub mod falco_format;
pub mod fields;
pub mod kernel_filter;
pub mod limits;
pub mod loader;
pub mod output;
pub mod report;
pub mod yaml;

pub use compiler::CompileOptions;
pub use diagnostic::{Diagnostic, Position, Severity};
pub use engine::{
    check, check_sources, Compiled, MatchMode, Matches, Rule, Ruleset, RulesetBuilder,
};
pub use error::LoadError;
pub use event::{Event, FieldArg, FieldRef, FieldValue, MapEvent, ValueList};
pub use fields::{EventTypeId, FieldId, FieldRegistry, FieldType};
pub use loader::RuleSource;
pub use output::{Alert, Priority};
pub use report::{CheckReport, RuleReport, RuleStatus};
