//! Where rules come from: the defaults built into the binary, or files and directories given
//! on the command line, loaded in order (as Falco's `-r`).

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::SystemTime;

use sensor_rules::{CheckReport, Compiled, RuleSource, Ruleset, RulesetBuilder};

/// The default rules, from `rules/` at the root of the repository.
pub const DEFAULT_RULES: &[(&str, &str)] = &[(
    "sensor_rules.yaml (built in)",
    include_str!("../../../rules/sensor_rules.yaml"),
)];

/// Falco's own rule files, built in (vendored unmodified in `conformance/falco-rules/`, with
/// their license and origin), by the short name `--rules` and `rules.files` accept. As in
/// Falco, incubating and sandbox rules build on the stable file's macros and lists: load
/// `falco-stable` before them.
pub const FALCO_RULES: &[(&str, &str, &str)] = &[
    (
        "falco-stable",
        "falco_rules.yaml (built in, falco-stable)",
        include_str!("../../../conformance/falco-rules/falco_rules.yaml"),
    ),
    (
        "falco-incubating",
        "falco-incubating_rules.yaml (built in, falco-incubating)",
        include_str!("../../../conformance/falco-rules/falco-incubating_rules.yaml"),
    ),
    (
        "falco-sandbox",
        "falco-sandbox_rules.yaml (built in, falco-sandbox)",
        include_str!("../../../conformance/falco-rules/falco-sandbox_rules.yaml"),
    ),
];

/// The built-in rule set a `--rules` argument names: one of [`FALCO_RULES`]' short names,
/// when no file or directory of that name exists (a file always wins, so nothing a user
/// already loads changes meaning).
pub fn builtin(path: &Path) -> Option<(&'static str, &'static str)> {
    let name = path.to_str()?;
    let (_, source, text) = FALCO_RULES.iter().find(|(short, _, _)| *short == name)?;
    (!path.exists()).then_some((*source, *text))
}

#[derive(Debug, thiserror::Error)]
pub enum RulesError {
    #[error("{path}: {message}")]
    Read { path: PathBuf, message: String },
    #[error("the rules have errors; nothing was loaded:\n{0}")]
    Invalid(Box<CheckReport>),
}

/// The rule files in use: the built-in defaults when `paths` is empty.
#[derive(Clone, Debug, Default)]
pub struct RuleFiles {
    pub paths: Vec<PathBuf>,
}

impl RuleFiles {
    pub fn new(paths: Vec<PathBuf>) -> Self {
        Self { paths }
    }

    fn builder(&self) -> Result<RulesetBuilder, RulesError> {
        // The event types this sensor captures: its syscall table plus fork and exit.
        let captured = crate::model::syscalls::SYSCALLS
            .iter()
            .map(|s| s.name)
            .chain(["clone", "procexit"]);
        let mut builder = RulesetBuilder::new()
            .registry(super::fields::registry())
            .captured_event_types(captured);
        if self.paths.is_empty() {
            for (name, text) in DEFAULT_RULES {
                builder.add_source(RuleSource::new(*name, *text));
            }
        }
        for path in &self.paths {
            if let Some((name, text)) = builtin(path) {
                builder.add_source(RuleSource::new(name, text));
                continue;
            }
            builder.add_path(path).map_err(|e| RulesError::Read {
                path: path.clone(),
                message: e.to_string(),
            })?;
        }
        Ok(builder)
    }

    /// Loads and compiles the rules. Errors anywhere reject the whole set, so a half-loaded
    /// ruleset never runs; warnings (rules this sensor cannot run) are in the report.
    pub fn load(&self) -> Result<(Arc<Ruleset>, CheckReport), RulesError> {
        let Compiled { ruleset, report } = self.builder()?.build();
        if report.has_errors() {
            return Err(RulesError::Invalid(Box::new(report)));
        }
        Ok((Arc::new(ruleset), report))
    }

    /// What `sensor rules check` prints for these files.
    pub fn check(&self) -> Result<CheckReport, RulesError> {
        Ok(self.builder()?.build().report)
    }

    /// Modification times of every rules file, to notice edits.
    pub fn fingerprint(&self) -> Vec<(PathBuf, Option<SystemTime>)> {
        let mut out = Vec::new();
        for path in self.paths.iter().filter(|p| builtin(p).is_none()) {
            if path.is_dir() {
                let mut files: Vec<PathBuf> = std::fs::read_dir(path)
                    .map(|d| {
                        d.flatten()
                            .map(|e| e.path())
                            .filter(|p| is_rules_file(p))
                            .collect()
                    })
                    .unwrap_or_default();
                files.sort();
                out.push((path.clone(), modified(path)));
                out.extend(files.into_iter().map(|f| {
                    let m = modified(&f);
                    (f, m)
                }));
            } else {
                out.push((path.clone(), modified(path)));
            }
        }
        out
    }
}

fn is_rules_file(path: &Path) -> bool {
    matches!(
        path.extension().and_then(|e| e.to_str()),
        Some("yaml" | "yml")
    )
}

fn modified(path: &Path) -> Option<SystemTime> {
    std::fs::metadata(path).and_then(|m| m.modified()).ok()
}
