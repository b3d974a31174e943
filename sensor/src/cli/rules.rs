//! `sensor rules check`: validates rule files without loading any programs.

use std::path::PathBuf;

use sensor::model::syscall_set::{self, SyscallSet};
use sensor::rules::RuleFiles;

/// Prints the report, and with `explain` the kernel filter the rules give; `Ok(false)` if
/// any file has errors.
pub fn check(paths: Vec<PathBuf>, explain: bool) -> anyhow::Result<bool> {
    let files = RuleFiles::new(paths);
    let report = files.check()?;
    println!("{report}");
    if explain && !report.has_errors() {
        let (ruleset, _) = files.load()?;
        // What `sensor run` traces for these rules: their event types and the base families.
        let traced = SyscallSet::named(ruleset.event_types())
            .union(&SyscallSet::families(syscall_set::BASE_FAMILIES));
        let filter = sensor::rules::kernel_filter::compile(&ruleset, &traced);
        println!(
            "\nKernel filter (what `sensor run` drops in the kernel before any record is made):"
        );
        println!("{}", filter.explain);
        let names: Vec<&str> = traced
            .defs()
            .filter(|def| def.nr().is_some_and(|nr| filter.specs.contains_key(&nr)))
            .map(|def| def.name)
            .collect();
        println!(
            "Filtered in the kernel: {} of {} traced syscalls ({}); the rest reach the agent whole.",
            names.len(),
            traced.len(),
            names.join(", ")
        );
    }
    Ok(!report.has_errors())
}
