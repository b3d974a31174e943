//! The `sensor` command line. Everything it runs is library code.

use std::io::Write;
use std::process::ExitCode;
use std::sync::atomic::AtomicBool;
use std::sync::Arc;

use anyhow::Context;
use clap::{Parser, Subcommand};
use sensor::pipeline::Pipeline;
use sensor::probe::{Probe, ProbeConfig};

const PRIVILEGES: &str = "Needs root, or the capabilities CAP_BPF, CAP_PERFMON and CAP_SYS_RESOURCE (CAP_SYS_ADMIN too if tracefs is not mounted).";

/// Runtime security sensor for Linux and Kubernetes nodes: eBPF programs on the execve, chmod,
/// mount and set*id syscall families, Falco-compatible events and rules.
#[derive(Parser)]
#[command(name = "sensor", version, after_help = PRIVILEGES)]
struct Cli {
    /// Log filter (tracing's env-filter syntax), e.g. `info` or `sensor=debug`.
    #[arg(long, global = true, env = "SENSOR_LOG", default_value = "info")]
    log_level: String,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Stream every captured event, one per line, with Falco's field names; the sensor's own
    /// activity is left out. On exit (Ctrl-C or SIGTERM) prints a summary line on stderr:
    /// events seen per type and events lost.
    #[command(after_help = PRIVILEGES)]
    Events {
        /// One JSON object per line (otherwise one readable line per event).
        #[arg(long)]
        json: bool,
        /// Size of the kernel ring buffer in bytes (a power of two, at least 8 MiB).
        #[arg(long, default_value_t = sensor_common::DEFAULT_RING_BYTES)]
        ring_bytes: u32,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_new(&cli.log_level)
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .with_writer(std::io::stderr)
        .init();
    match run(cli.command) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("sensor: error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

fn run(command: Command) -> anyhow::Result<()> {
    match command {
        Command::Events { json, ring_bytes } => events(json, ring_bytes),
    }
}

fn events(json: bool, ring_bytes: u32) -> anyhow::Result<()> {
    let stop = Arc::new(AtomicBool::new(false));
    for signal in [signal_hook::consts::SIGINT, signal_hook::consts::SIGTERM] {
        signal_hook::flag::register(signal, stop.clone()).context("installing signal handlers")?;
    }
    let probe = Probe::load(&ProbeConfig { ring_bytes })?;
    let mut pipeline = Pipeline::new(probe);
    let mut sink = EventWriter {
        out: std::io::BufWriter::with_capacity(1 << 16, std::io::stdout().lock()),
        json,
        line: Vec::with_capacity(4096),
    };
    let result = pipeline.run(&stop, &mut sink);
    let summary = pipeline
        .stats()
        .summary(pipeline.probe().load_time, pipeline.probe().attached.len());
    eprintln!("{summary}");
    // A closed stdout (`sensor events | head`) is a normal way to stop.
    match result {
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(()),
        other => other.context("writing events to stdout"),
    }
}

/// Writes events to stdout as JSON lines or text, flushing whenever the ring buffer is drained.
struct EventWriter<W: Write> {
    out: W,
    json: bool,
    line: Vec<u8>,
}

impl<W: Write> sensor::pipeline::Sink for EventWriter<W> {
    type Error = std::io::Error;

    fn event(&mut self, event: &sensor::event::Event) -> std::io::Result<()> {
        if self.json {
            self.line.clear();
            sensor::event::json::write_json(event, &mut self.line);
            self.line.push(b'\n');
            self.out.write_all(&self.line)
        } else {
            writeln!(self.out, "{}", sensor::event::text::to_text(event))
        }
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.out.flush()
    }
}
