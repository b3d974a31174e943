//! `sensor events`: every captured event on stdout.

use std::io::Write;

use sensor::model::syscall_set::SyscallSet;
use sensor::model::syscalls::Family;
use sensor::model::{Event, EventKind};
use sensor::pipeline::{Pipeline, Sink};
use sensor::probe::{Probe, ProbeConfig};

/// Shows `families`' events. The exec family is traced whatever they are: the process table
/// learns command lines and images from it; `clone` and `procexit` are shown with it.
pub fn run(
    json: bool,
    families: &SyscallSet,
    mut probe: ProbeConfig,
    kubernetes: &super::KubernetesArgs,
) -> anyhow::Result<()> {
    let stop = super::stop_flag()?;
    let pods = kubernetes.pod_cache()?;
    let exec = SyscallSet::families(&[Family::Exec]);
    probe.syscalls = families.clone().union(&exec);
    let probe = Probe::load(&probe)?;
    let mut pipeline = Pipeline::with_enrich(probe, pods, kubernetes.enrich_options());
    let mut sink = EventWriter {
        out: std::io::BufWriter::with_capacity(1 << 16, std::io::stdout().lock()),
        json,
        line: Vec::with_capacity(4096),
        shown: families.clone(),
        lifecycle: exec.defs().all(|def| families.contains(def)),
    };
    let result = pipeline.run(&stop, &mut sink);
    eprintln!("{}", pipeline.summary());
    super::ignore_broken_pipe(result)
}

/// Writes events to stdout as JSON lines or text, flushing whenever the ring buffer is drained.
struct EventWriter<W: Write> {
    out: W,
    json: bool,
    line: Vec<u8>,
    /// The syscalls asked for.
    shown: SyscallSet,
    /// Whether `clone` and `procexit` are shown (with the exec family).
    lifecycle: bool,
}

impl<W: Write> EventWriter<W> {
    fn shows(&self, event: &Event) -> bool {
        match event.kind {
            EventKind::Syscall(def) => self.shown.contains(def),
            EventKind::Fork { .. } | EventKind::Exit { .. } => self.lifecycle,
        }
    }
}

impl<W: Write> Sink for EventWriter<W> {
    type Error = std::io::Error;

    fn event(&mut self, event: &Event) -> std::io::Result<()> {
        if !self.shows(event) {
            return Ok(());
        }
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
