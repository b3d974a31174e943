//! Building a [`Ruleset`] from embedded sources and files, and the `check` entry points.

use std::path::Path;
use std::sync::Arc;

use super::ruleset::Ruleset;
use crate::compiler::{compile_rules, CompileOptions};
use crate::diagnostic::{Diagnostic, Diagnostics, Position};
use crate::error::LoadError;
use crate::fields::FieldRegistry;
use crate::loader::{read_source, Collector, RuleSource};
use crate::output::Priority;
use crate::report::CheckReport;

/// The result of a build: the rules that compiled and the report on all of them.
#[derive(Debug)]
pub struct Compiled {
    pub ruleset: Ruleset,
    pub report: CheckReport,
}

/// Collects rules sources in load order, then compiles them.
///
/// ```
/// use sensor_rules::{RulesetBuilder, RuleSource};
/// let compiled = RulesetBuilder::new()
///     .source(RuleSource::new("builtin.yaml", "- rule: r\n  desc: d\n  condition: evt.type = execve and proc.name = nc\n  output: nc run by %user.name\n  priority: WARNING\n"))
///     .build();
/// assert!(!compiled.report.has_errors());
/// assert_eq!(compiled.ruleset.len(), 1);
/// ```
#[derive(Clone, Debug, Default)]
pub struct RulesetBuilder {
    sources: Vec<RuleSource>,
    options: CompileOptions,
}

impl RulesetBuilder {
    pub fn new() -> Self {
        RulesetBuilder::default()
    }

    /// Adds rules held in memory (e.g. defaults embedded with `include_str!`).
    pub fn source(mut self, source: RuleSource) -> Self {
        self.sources.push(source);
        self
    }

    pub fn add_source(&mut self, source: RuleSource) -> &mut Self {
        self.sources.push(source);
        self
    }

    /// Adds a file, or a directory's `*.yaml`/`*.yml` files sorted by name.
    pub fn add_path(&mut self, path: &Path) -> Result<&mut Self, LoadError> {
        self.sources.extend(RuleSource::from_path(path)?);
        Ok(self)
    }

    pub fn options(mut self, options: CompileOptions) -> Self {
        self.options = options;
        self
    }

    /// Uses a registry the sensor extended or restricted.
    pub fn registry(mut self, registry: Arc<FieldRegistry>) -> Self {
        self.options.registry = registry;
        self
    }

    /// Event types the sensor captures (default: [`crate::fields::SENSOR_EVENT_TYPES`]).
    pub fn captured_event_types<I: IntoIterator<Item = S>, S: Into<String>>(
        mut self,
        types: I,
    ) -> Self {
        self.options.captured_event_types = types.into_iter().map(Into::into).collect();
        self
    }

    /// Rules less severe than `priority` are compiled but disabled.
    pub fn min_priority(mut self, priority: Priority) -> Self {
        self.options.min_priority = priority;
        self
    }

    /// Reads every source in order, applies appends and overrides, and compiles.
    pub fn build(&self) -> Compiled {
        let mut collector = Collector::default();
        let mut diagnostics = Diagnostics::default();
        for source in &self.sources {
            read_source(source, &mut collector, &mut diagnostics);
        }
        let compiled = compile_rules(&collector, &self.options, &mut diagnostics);
        let report = CheckReport {
            files: self.sources.iter().map(|s| s.name.to_string()).collect(),
            diagnostics: diagnostics.into_vec(),
            rules: compiled.reports,
            macros: collector.macros.len(),
            lists: collector.lists.len(),
        };
        tracing::info!(
            files = report.files.len(),
            compiled = report.compiled(),
            skipped = report.skipped(),
            failed = report.failed(),
            errors = report.errors().count(),
            "rules loaded"
        );
        Compiled {
            ruleset: Ruleset::new(compiled.rules),
            report,
        }
    }
}

/// Loads rules files and directories in order and reports on them (`sensor rules check`).
/// A path that cannot be read is reported as an error at `path:1:1`; the other paths are
/// still checked.
pub fn check<P: AsRef<Path>>(paths: &[P]) -> CheckReport {
    let mut sources = Vec::new();
    let mut unreadable = Vec::new();
    for path in paths {
        let path = path.as_ref();
        match RuleSource::from_path(path) {
            Ok(found) => sources.extend(found),
            Err(error) => unreadable.push(Diagnostic::error(
                Position::file_start(path.display().to_string().into()),
                error.to_string(),
            )),
        }
    }
    let mut report = check_sources(sources, CompileOptions::default());
    let mut diagnostics = unreadable;
    diagnostics.append(&mut report.diagnostics);
    report.diagnostics = diagnostics;
    report
}

/// The report for sources already in memory.
pub fn check_sources(sources: Vec<RuleSource>, options: CompileOptions) -> CheckReport {
    let mut builder = RulesetBuilder::new().options(options);
    for source in sources {
        builder.add_source(source);
    }
    builder.build().report
}
