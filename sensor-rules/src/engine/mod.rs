//! The engine the agent uses: compiled rules, evaluation, alerts.

mod builder;
mod rule;
mod ruleset;

pub use builder::{check, check_sources, Compiled, RulesetBuilder};
pub use rule::Rule;
pub use ruleset::{InvalidMatchMode, MatchMode, Matches, Ruleset};
