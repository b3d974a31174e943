//! The outcome of loading a set of rules files: diagnostics and, for each rule, whether it
//! compiled, was skipped (and why) or failed.

use std::collections::BTreeMap;
use std::fmt;

use serde::Serialize;

use crate::diagnostic::{Diagnostic, Position, Severity};

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(tag = "status", rename_all = "snake_case")]
pub enum RuleStatus {
    /// Runs on the sensor (`enabled: false` rules compile but do not run).
    Compiled { enabled: bool },
    /// Valid, but needs something this sensor does not capture or supply. `silent` when
    /// the rule asked for it with `skip-if-unknown-filter: true`.
    Skipped { reasons: Vec<String>, silent: bool },
    /// Wrong: see the errors in the diagnostics.
    Failed,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct RuleReport {
    pub name: String,
    pub position: Position,
    #[serde(flatten)]
    pub status: RuleStatus,
    /// Captured event types the rule runs on (empty unless compiled).
    pub event_types: Vec<&'static str>,
}

/// What `sensor rules check` prints.
#[derive(Clone, Debug, Default, Serialize)]
pub struct CheckReport {
    pub files: Vec<String>,
    pub diagnostics: Vec<Diagnostic>,
    pub rules: Vec<RuleReport>,
    pub macros: usize,
    pub lists: usize,
}

impl CheckReport {
    pub fn errors(&self) -> impl Iterator<Item = &Diagnostic> {
        self.diagnostics
            .iter()
            .filter(|d| d.severity == Severity::Error)
    }

    pub fn warnings(&self) -> impl Iterator<Item = &Diagnostic> {
        self.diagnostics
            .iter()
            .filter(|d| d.severity == Severity::Warning)
    }

    pub fn has_errors(&self) -> bool {
        self.errors().next().is_some()
    }

    pub fn compiled(&self) -> usize {
        self.rules
            .iter()
            .filter(|r| matches!(r.status, RuleStatus::Compiled { .. }))
            .count()
    }

    pub fn skipped(&self) -> usize {
        self.rules
            .iter()
            .filter(|r| matches!(r.status, RuleStatus::Skipped { .. }))
            .count()
    }

    pub fn silently_skipped(&self) -> usize {
        self.rules
            .iter()
            .filter(|r| matches!(r.status, RuleStatus::Skipped { silent: true, .. }))
            .count()
    }

    pub fn failed(&self) -> usize {
        self.rules
            .iter()
            .filter(|r| matches!(r.status, RuleStatus::Failed))
            .count()
    }

    /// How many skipped rules give each reason, most frequent first.
    pub fn skip_reasons(&self) -> Vec<(String, usize)> {
        let mut counts: BTreeMap<&str, usize> = BTreeMap::new();
        for rule in &self.rules {
            if let RuleStatus::Skipped { reasons, .. } = &rule.status {
                for reason in reasons {
                    *counts.entry(reason.as_str()).or_default() += 1;
                }
            }
        }
        let mut sorted: Vec<(String, usize)> = counts
            .into_iter()
            .map(|(r, n)| (r.to_string(), n))
            .collect();
        sorted.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
        sorted
    }
}

impl CheckReport {
    /// The first (main) reason of each skipped rule, counted, most frequent first.
    pub fn primary_skip_reasons(&self) -> Vec<(String, usize)> {
        let mut counts: BTreeMap<&str, usize> = BTreeMap::new();
        for rule in &self.rules {
            if let RuleStatus::Skipped { reasons, .. } = &rule.status {
                if let Some(reason) = reasons.first() {
                    *counts.entry(reason.as_str()).or_default() += 1;
                }
            }
        }
        let mut sorted: Vec<(String, usize)> = counts
            .into_iter()
            .map(|(r, n)| (r.to_string(), n))
            .collect();
        sorted.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
        sorted
    }
}

impl fmt::Display for CheckReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for diagnostic in &self.diagnostics {
            writeln!(f, "{diagnostic}")?;
        }
        if !self.diagnostics.is_empty() {
            writeln!(f)?;
        }
        for rule in &self.rules {
            match &rule.status {
                RuleStatus::Compiled { enabled } => writeln!(
                    f,
                    "compiled  rule `{}`{} on {}",
                    rule.name,
                    if *enabled { "" } else { " (disabled)" },
                    rule.event_types.join(", ")
                )?,
                RuleStatus::Skipped { reasons, silent } => writeln!(
                    f,
                    "skipped   rule `{}` ({}): {}{}",
                    rule.name,
                    rule.position,
                    reasons.join("; "),
                    if *silent {
                        " [skip-if-unknown-filter]"
                    } else {
                        ""
                    }
                )?,
                RuleStatus::Failed => writeln!(
                    f,
                    "failed    rule `{}` ({}): see errors above",
                    rule.name, rule.position
                )?,
            }
        }
        writeln!(
            f,
            "\n{} file(s), {} rule(s): {} compiled, {} skipped ({} silently), {} failed; {} macro(s), {} list(s); {} error(s), {} warning(s)",
            self.files.len(),
            self.rules.len(),
            self.compiled(),
            self.skipped(),
            self.silently_skipped(),
            self.failed(),
            self.macros,
            self.lists,
            self.errors().count(),
            self.warnings().count()
        )
    }
}
