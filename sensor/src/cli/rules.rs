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
        // The most `sensor run` traces for these rules: their event types, and the families
        // the process table, the names cache and a running recording read.
        let traced = SyscallSet::named(ruleset.event_types())
            .union(&SyscallSet::families(syscall_set::BASE_FAMILIES));
        let filter = sensor::rules::kernel_filter::compile(&ruleset, &traced);
        println!(
            "\nKernel filter (what `sensor run` drops in the kernel before any record is made):"
        );
        println!("{}", filter.explain);
    }
    Ok(!report.has_errors())
}
