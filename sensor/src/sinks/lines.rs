//! Alerts as lines: Falco's JSON (one object per line) or its text line, to stdout or to a
//! file. A file is opened for appending and reopened when asked (SIGHUP), so that logrotate
//! can move it away. Each runs on a thread of its own behind an [`super::output::OutputHandle`],
//! so a stdout nobody reads or a stalled disk never holds up the pipeline.

use std::io::{BufWriter, Write};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use super::output::{Output, OutputCounters};
use super::record::AlertRecord;
use crate::event::control_chars::escape_control;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LineFormat {
    /// Falco's JSON: `time`, `rule`, `priority`, `source`, `hostname`, `output`,
    /// `output_fields`, `tags`.
    Json,
    /// Falco's text line: `HH:MM:SS.nnnnnnnnn: Priority message`.
    Text,
}

impl std::str::FromStr for LineFormat {
    type Err = String;
    fn from_str(text: &str) -> Result<Self, String> {
        match text {
            "json" => Ok(Self::Json),
            "text" => Ok(Self::Text),
            other => Err(format!(
                "`{other}` is not an output format: use `json` or `text`"
            )),
        }
    }
}

pub enum Destination {
    Stdout,
    /// Reopened when the flag is set.
    File {
        path: PathBuf,
        reopen: Arc<AtomicBool>,
    },
}

pub struct LineOutput {
    destination: Destination,
    format: LineFormat,
    out: BufWriter<Box<dyn Write + Send>>,
    line: Vec<u8>,
    /// A file that failed to write is reported once, until it is reopened.
    failing: bool,
}

fn open(path: &std::path::Path) -> std::io::Result<Box<dyn Write + Send>> {
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir)?;
    }
    // Never through a symlink someone planted, never into a FIFO.
    Ok(Box::new(crate::safe_fs::open_append(path, 0o640)?))
}

impl LineOutput {
    pub fn stdout(format: LineFormat) -> Self {
        Self {
            destination: Destination::Stdout,
            format,
            out: BufWriter::with_capacity(1 << 16, Box::new(std::io::stdout())),
            line: Vec::with_capacity(4096),
            failing: false,
        }
    }

    /// Opens `path` for appending (creating it and its directory).
    pub fn file(
        path: PathBuf,
        format: LineFormat,
        reopen: Arc<AtomicBool>,
    ) -> anyhow::Result<Self> {
        let out = open(&path).map_err(|e| {
            anyhow::anyhow!(
                "outputs.file.path: cannot open {} for appending: {e}",
                path.display()
            )
        })?;
        Ok(Self {
            destination: Destination::File { path, reopen },
            format,
            out: BufWriter::with_capacity(1 << 16, out),
            line: Vec::with_capacity(4096),
            failing: false,
        })
    }

    fn reopen_if_asked(&mut self) {
        let Destination::File { path, reopen } = &self.destination else {
            return;
        };
        if !reopen.swap(false, Ordering::AcqRel) {
            return;
        }
        let _ = self.out.flush();
        match open(path) {
            Ok(file) => {
                self.out = BufWriter::with_capacity(1 << 16, file);
                self.failing = false;
                tracing::info!(path = %path.display(), "alerts file reopened");
            }
            Err(e) => {
                tracing::error!(path = %path.display(), "reopening the alerts file failed, writing on to the old one: {e}")
            }
        }
    }

    fn result(&mut self, result: std::io::Result<()>) -> std::io::Result<()> {
        match (&self.destination, result) {
            (_, Ok(())) => Ok(()),
            // stdout closing (`sensor run | head`) ends the run, as before.
            (Destination::Stdout, Err(e)) => Err(e),
            // A full disk must not stop detection: report once and carry on.
            (Destination::File { path, .. }, Err(e)) => {
                if !self.failing {
                    tracing::error!(path = %path.display(), "writing alerts to the file failed: {e}");
                    self.failing = true;
                }
                Ok(())
            }
        }
    }

    fn write(&mut self, record: &AlertRecord) -> std::io::Result<()> {
        self.reopen_if_asked();
        self.line.clear();
        match self.format {
            LineFormat::Json => self.line.extend_from_slice(record.json.as_bytes()),
            // The message holds the observed process's strings: one line, no terminal codes.
            LineFormat::Text => self
                .line
                .extend_from_slice(escape_control(&record.alert.output).as_bytes()),
        }
        self.line.push(b'\n');
        let result = self.out.write_all(&self.line);
        self.result(result)
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.reopen_if_asked();
        let result = self.out.flush();
        self.result(result)
    }
}

impl Output for LineOutput {
    fn send(&mut self, record: &AlertRecord, counters: &OutputCounters) -> std::io::Result<()> {
        self.write(record)?;
        let counter = match self.failing {
            true => &counters.failed,
            false => &counters.sent,
        };
        counter.fetch_add(1, Ordering::Relaxed);
        Ok(())
    }

    fn idle(&mut self) -> std::io::Result<()> {
        self.flush()
    }
}
