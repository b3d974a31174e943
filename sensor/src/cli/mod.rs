//! The subcommands' bodies; `main.rs` only parses the command line.

pub mod events;
pub mod rules;
pub mod run;

use std::sync::atomic::AtomicBool;
use std::sync::Arc;

use anyhow::Context;

/// A flag set by SIGINT and SIGTERM.
pub fn stop_flag() -> anyhow::Result<Arc<AtomicBool>> {
    let stop = Arc::new(AtomicBool::new(false));
    for signal in [signal_hook::consts::SIGINT, signal_hook::consts::SIGTERM] {
        signal_hook::flag::register(signal, stop.clone()).context("installing signal handlers")?;
    }
    Ok(stop)
}

/// A broken stdout (`sensor events | head`) is a normal way to stop.
pub fn ignore_broken_pipe(result: std::io::Result<()>) -> anyhow::Result<()> {
    match result {
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(()),
        other => other.context("writing to stdout"),
    }
}
