//! `sensor rules check`: validates rule files without loading any programs.

use std::path::PathBuf;

use sensor::rules::RuleFiles;

/// Prints the report; `Ok(false)` if any file has errors.
pub fn check(paths: Vec<PathBuf>) -> anyhow::Result<bool> {
    let files = RuleFiles::new(paths);
    let report = files.check()?;
    println!("{report}");
    Ok(!report.has_errors())
}
