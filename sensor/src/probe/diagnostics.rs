//! Kernel-side diagnostics (`--kernel-diagnostics`, `probe.kernel_diagnostics`): why an event
//! is missing or incomplete, as the eBPF programs saw it (`sensor-ebpf/src/diag.rs`), logged
//! under the target [`TARGET`].
//!
//! Off, the programs are loaded with the switch at 0 and the verifier drops every logging
//! branch; nothing here runs. On, a thread of its own reads aya-log's ring (`AYA_LOGS`, 128 KiB)
//! and hands each record to `tracing` at the level the kernel gave it. The handling is
//! bounded: at most [`MAX_PER_SECOND`] records are logged a second; past that the thread
//! counts the rest, stops reading until the second is over (the kernel then drops records
//! whose ring is full) and logs how many it left out. Neither the capture thread nor the
//! event ring waits for it.

use std::os::fd::AsRawFd;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use aya::Ebpf;

/// The `tracing` target of the kernel's diagnostics.
pub const TARGET: &str = "sensor::kernel";
/// Kernel diagnostics logged per second at most.
pub const MAX_PER_SECOND: u32 = 100;
/// The length of one rate window.
const WINDOW: Duration = Duration::from_secs(1);
/// How long the reader sleeps between looks when the ring is quiet, and so how long stopping
/// may take.
const POLL: Duration = Duration::from_millis(100);

/// The aya-log level the kernel is to write at most (aya-log-ebpf's `AYA_LOG_LEVEL`): the most
/// verbose level the agent's log filter lets through for [`TARGET`]; 0 when it lets none.
pub fn kernel_level() -> u8 {
    use aya_log::Level;
    use tracing::Level as L;
    let level = if tracing::enabled!(target: "sensor::kernel", L::TRACE) {
        Level::Trace
    } else if tracing::enabled!(target: "sensor::kernel", L::DEBUG) {
        Level::Debug
    } else if tracing::enabled!(target: "sensor::kernel", L::INFO) {
        Level::Info
    } else if tracing::enabled!(target: "sensor::kernel", L::WARN) {
        Level::Warn
    } else if tracing::enabled!(target: "sensor::kernel", L::ERROR) {
        Level::Error
    } else {
        return 0;
    };
    level as u8
}

/// The rate window: records logged in it, and those left out.
struct Window {
    start: Instant,
    logged: u32,
    suppressed: u64,
}

/// Routes aya-log's records into `tracing`, at most [`MAX_PER_SECOND`] a second.
struct KernelLog {
    window: Mutex<Window>,
}

impl KernelLog {
    fn new() -> Self {
        Self {
            window: Mutex::new(Window {
                start: Instant::now(),
                logged: 0,
                suppressed: 0,
            }),
        }
    }

    /// Ends the window if it is over, reporting what it left out. Returns how long the
    /// window still runs if it is full (the reader waits that long), else `None`.
    fn roll(&self, now: Instant) -> Option<Duration> {
        let mut w = self.window.lock().unwrap_or_else(|e| e.into_inner());
        let elapsed = now.saturating_duration_since(w.start);
        if elapsed >= WINDOW {
            if w.suppressed > 0 {
                tracing::warn!(
                    target: "sensor::kernel",
                    suppressed = w.suppressed,
                    "more than {MAX_PER_SECOND} kernel diagnostics a second: {} left out \
                     (and the kernel drops those that found aya-log's ring full)",
                    w.suppressed
                );
            }
            *w = Window {
                start: now,
                logged: 0,
                suppressed: 0,
            };
            return None;
        }
        (w.logged >= MAX_PER_SECOND).then(|| WINDOW - elapsed)
    }

    /// Whether a record may be logged now; counts it either way.
    fn admit(&self) -> bool {
        self.roll(Instant::now());
        let mut w = self.window.lock().unwrap_or_else(|e| e.into_inner());
        if w.logged >= MAX_PER_SECOND {
            w.suppressed += 1;
            false
        } else {
            w.logged += 1;
            true
        }
    }
}

/// `log::Log` for a shared [`KernelLog`] (aya-log owns its logger; the reader keeps a handle).
struct Shared(Arc<KernelLog>);

impl log::Log for Shared {
    fn enabled(&self, _: &log::Metadata<'_>) -> bool {
        true
    }

    fn log(&self, record: &log::Record<'_>) {
        if !self.0.admit() {
            return;
        }
        let message = record.args();
        match record.level() {
            log::Level::Error => tracing::error!(target: "sensor::kernel", "{message}"),
            log::Level::Warn => tracing::warn!(target: "sensor::kernel", "{message}"),
            log::Level::Info => tracing::info!(target: "sensor::kernel", "{message}"),
            log::Level::Debug => tracing::debug!(target: "sensor::kernel", "{message}"),
            log::Level::Trace => tracing::trace!(target: "sensor::kernel", "{message}"),
        }
    }

    fn flush(&self) {}
}

/// The reader of the kernel's diagnostics; dropping it reads what is left and stops it.
pub struct KernelDiagnostics {
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl KernelDiagnostics {
    /// Takes aya-log's ring from the loaded object and starts reading it.
    pub fn start(ebpf: &mut Ebpf) -> Result<Self, String> {
        let log = Arc::new(KernelLog::new());
        let mut logger = aya_log::EbpfLogger::init_with_logger(ebpf, Shared(log.clone()))
            .map_err(|e| format!("reading aya-log's ring: {e}"))?;
        let stop = Arc::new(AtomicBool::new(false));
        let stopping = stop.clone();
        let thread = std::thread::Builder::new()
            .name("sensor-kdiag".into())
            .spawn(move || loop {
                let mut pfd = libc::pollfd {
                    fd: logger.as_raw_fd(),
                    events: libc::POLLIN,
                    revents: 0,
                };
                // SAFETY: one valid pollfd. A failed or interrupted poll is one more round.
                unsafe { libc::poll(&mut pfd, 1, POLL.as_millis() as i32) };
                logger.flush();
                if stopping.load(Ordering::Relaxed) {
                    logger.flush();
                    log.roll(Instant::now() + WINDOW);
                    break;
                }
                // Over the rate: leave the ring alone until the window is over.
                if let Some(rest) = log.roll(Instant::now()) {
                    std::thread::sleep(rest.min(POLL));
                }
            })
            .map_err(|e| format!("starting the reader thread: {e}"))?;
        tracing::info!(
            target: "sensor::kernel",
            "kernel diagnostics on: the eBPF programs log why a record is lost or incomplete \
             (at most {MAX_PER_SECOND} a second)"
        );
        Ok(Self {
            stop,
            thread: Some(thread),
        })
    }

    /// Reads what is left and stops the reader.
    pub fn stop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

impl Drop for KernelDiagnostics {
    fn drop(&mut self) {
        self.stop();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn at_most_the_rate_is_admitted_per_window() {
        let log = KernelLog::new();
        let admitted = (0..MAX_PER_SECOND * 3).filter(|_| log.admit()).count();
        assert_eq!(admitted, MAX_PER_SECOND as usize);
        let w = log.window.lock().unwrap();
        assert_eq!(w.suppressed, u64::from(MAX_PER_SECOND) * 2);
        drop(w);
        assert!(log.roll(Instant::now()).is_some(), "a full window waits");
        assert!(log.roll(Instant::now() + WINDOW).is_none(), "a new window");
        assert!(log.admit());
    }
}
