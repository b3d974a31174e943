//! `cargo xtask bench`: the benchmarks that need the real kernel, as root.
//! - `storm` (sensor/benches/storm.rs): what tracing costs a syscall-heavy process.
//! - `rules` (sensor/benches/rules.rs): rule evaluation on events recorded a moment before.
//! - `record` (sensor/benches/record.rs): what the syscall recorder costs recorded and
//!   unrecorded processes.

use anyhow::{bail, Result};

pub fn run(chmod_calls: u64, execs: u64, rounds: u64) -> Result<()> {
    if !crate::is_root() {
        bail!("the benchmarks load eBPF programs: run them as root");
    }
    crate::cargo(&[
        "bench",
        "-p",
        "sensor",
        "--bench",
        "storm",
        "--",
        "--chmod-calls",
        &chmod_calls.to_string(),
        "--execs",
        &execs.to_string(),
        "--rounds",
        &rounds.to_string(),
    ])?;
    crate::cargo(&["bench", "-p", "sensor", "--bench", "rules"])?;
    crate::cargo(&["bench", "-p", "sensor", "--bench", "record"])
}
