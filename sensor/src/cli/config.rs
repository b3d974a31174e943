//! `sensor config check`.

use std::path::Path;

/// Prints every problem with its location, or that the file is valid.
pub fn check(path: &Path) -> anyhow::Result<bool> {
    match sensor::config::Config::load(path) {
        Ok(_) => {
            println!("{}: ok", path.display());
            Ok(true)
        }
        Err(e) => {
            eprintln!("{e}");
            eprintln!(
                "{}: {} problem(s); every key and its default: deploy/sensor.yaml",
                path.display(),
                e.0.len()
            );
            Ok(false)
        }
    }
}
