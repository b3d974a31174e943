//! `cargo xtask bench`: the storm benchmark of the kernel sensor (see sensor/benches/storm.rs).

use anyhow::{bail, Result};

pub fn run(chmod_calls: u64, execs: u64, rounds: u64) -> Result<()> {
    if !crate::is_root() {
        bail!("the storm benchmark loads eBPF programs: run it as root");
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
    ])
}
