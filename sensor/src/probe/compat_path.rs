//! The 32-bit compat path's hold on the kernel: the `compat_sys_enter`/`compat_sys_exit`
//! programs on the `raw_syscalls` raw tracepoints, attached only while a 32-bit process exists.
//!
//! Why not always attached: a raw tracepoint program runs on every syscall of every task, and
//! on this kernel its dispatch alone costs a cheap syscall more than the 2% the rest of the
//! machine may pay for a path that is idle on almost every node (README, *Benchmarks*). Why
//! nothing slips through the attach: the exec program stops (SIGSTOP) a process that starts
//! a 32-bit image while the programs are detached, before it returns to user space; this
//! thread, woken through a small ring buffer, attaches them and only then continues it
//! (SIGCONT). Processes tracked as 32-bit (`COMPAT_PROCESSES`) come from the exec, fork and
//! exit programs, and from a scan of /proc at start for those already running. The programs
//! stay attached [`LINGER`] after the last one exits, so a script running 32-bit tools one
//! after another is not stopped at each.

use std::os::fd::{AsRawFd, OwnedFd};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use aya::maps::{Array, HashMap, MapData, RingBuf};
use aya::programs::ProgramFd;
use sensor_common::compat::{control, stopped, Mode};

use super::raw_tracepoint::raw_tracepoint_open;

/// How long the programs stay attached after the last 32-bit process exited.
pub const LINGER: Duration = Duration::from_secs(2);
/// How often the thread looks at the processes without being woken.
const POLL: Duration = Duration::from_millis(250);

#[derive(Debug, thiserror::Error)]
pub enum CompatPathError {
    #[error("attaching `{program}` to the raw tracepoint `{tracepoint}`: {source}")]
    Attach {
        program: &'static str,
        tracepoint: &'static str,
        #[source]
        source: std::io::Error,
    },
    #[error("eBPF map `{map}`: {source}")]
    Map {
        map: &'static str,
        #[source]
        source: aya::maps::MapError,
    },
    #[error("starting the compat path's thread: {0}")]
    Thread(#[source] std::io::Error),
}

/// The loaded (not attached) compat programs and the maps they share with the exec program.
pub struct CompatMaps {
    pub enter: ProgramFd,
    pub exit: ProgramFd,
    pub processes: HashMap<MapData, u32, u32>,
    pub stopped: HashMap<MapData, u32, u32>,
    pub control: Array<MapData, u32>,
    pub wake: RingBuf<MapData>,
}

/// What the compat path has done, for the log and the status.
#[derive(Default)]
pub struct CompatCounters {
    /// Whether the programs are attached now.
    pub attached: AtomicBool,
    /// Times they were attached.
    pub attaches: AtomicU64,
    /// Processes stopped at a 32-bit exec and continued once the programs were attached.
    pub continued: AtomicU64,
}

/// The running compat path; dropping it detaches the programs and continues any process
/// still stopped for it.
pub struct CompatPath {
    counters: Arc<CompatCounters>,
    shutdown: Arc<AtomicBool>,
    /// An eventfd that wakes the thread for shutdown.
    wakeup: OwnedFd,
    thread: Option<JoinHandle<()>>,
}

struct Links {
    enter: OwnedFd,
    exit: OwnedFd,
}

struct Worker {
    maps: CompatMaps,
    /// Whether this process may continue any process (CAP_KILL): without it a process it
    /// stopped might stay stopped, so none is stopped (mode Off while detached) and the first
    /// calls of a 32-bit process started then go unseen until the attach.
    hold_at_exec: bool,
    links: Option<Links>,
    counters: Arc<CompatCounters>,
    /// When the last 32-bit process was seen gone, while attached.
    empty_since: Option<Instant>,
}

impl CompatPath {
    /// Tracks the 32-bit processes already running, attaches the programs if there are any,
    /// arms the exec program and starts the thread.
    pub fn start(maps: CompatMaps) -> Result<Self, CompatPathError> {
        let counters = Arc::new(CompatCounters::default());
        let hold_at_exec = has_cap_kill();
        if !hold_at_exec {
            tracing::warn!(
                "no CAP_KILL: a process that execs a 32-bit image cannot be held until the \
                 compat programs are attached, so its first calls may go unseen (the \
                 DaemonSet adds KILL)"
            );
        }
        let mut worker = Worker {
            maps,
            hold_at_exec,
            links: None,
            counters: counters.clone(),
            empty_since: None,
        };
        // Scanned until a scan finds nothing new: a child forked from a 32-bit process between
        // the listing of /proc and its parent's insert is not tracked by the fork program
        // (the parent was not in the map yet), but exists for the next scan.
        let mut running = std::collections::BTreeSet::new();
        for _ in 0..4 {
            let found = running_compat_processes();
            let new: Vec<u32> = found.into_iter().filter(|p| !running.contains(p)).collect();
            if new.is_empty() {
                break;
            }
            for &tgid in &new {
                worker.maps.processes.insert(tgid, 1, 0).map_err(|source| {
                    CompatPathError::Map {
                        map: "COMPAT_PROCESSES",
                        source,
                    }
                })?;
                running.insert(tgid);
            }
        }
        if running.is_empty() {
            worker.set_mode(worker.detached_mode())?;
        } else {
            tracing::info!(
                processes = running.len(),
                "32-bit processes running: compat syscall programs attached"
            );
            worker.attach()?;
        }
        // SAFETY: eventfd with valid flags; the result is checked.
        let fd = unsafe { libc::eventfd(0, libc::EFD_CLOEXEC | libc::EFD_NONBLOCK) };
        if fd < 0 {
            return Err(CompatPathError::Thread(std::io::Error::last_os_error()));
        }
        // SAFETY: a new fd nothing else owns.
        let wakeup: OwnedFd = unsafe { std::os::fd::FromRawFd::from_raw_fd(fd) };
        let shutdown = Arc::new(AtomicBool::new(false));
        let thread = {
            let shutdown = shutdown.clone();
            let wakeup = wakeup.try_clone().map_err(CompatPathError::Thread)?;
            std::thread::Builder::new()
                .name("compat-path".into())
                .spawn(move || worker.run(&shutdown, &wakeup))
                .map_err(CompatPathError::Thread)?
        };
        Ok(Self {
            counters,
            shutdown,
            wakeup,
            thread: Some(thread),
        })
    }

    pub fn counters(&self) -> &CompatCounters {
        &self.counters
    }
}

impl Drop for CompatPath {
    fn drop(&mut self) {
        self.shutdown.store(true, Ordering::SeqCst);
        let one = 1u64;
        // SAFETY: an 8-byte write to our eventfd.
        unsafe { libc::write(self.wakeup.as_raw_fd(), (&one as *const u64).cast(), 8) };
        if let Some(thread) = self.thread.take() {
            if thread.join().is_err() {
                tracing::warn!("the compat path's thread panicked");
            }
        }
    }
}

impl Worker {
    fn run(mut self, shutdown: &AtomicBool, wakeup: &OwnedFd) {
        while !shutdown.load(Ordering::SeqCst) {
            self.wait(wakeup);
            if shutdown.load(Ordering::SeqCst) {
                break;
            }
            if let Err(e) = self.step() {
                tracing::warn!("compat path: {e}");
            }
        }
        // No process is stopped from now on; those stopped are continued, then the programs
        // go (with the probe's exec program, right after).
        if let Err(e) = self.set_mode(Mode::Off) {
            tracing::warn!("compat path: {e}");
        }
        self.continue_stopped(true);
        self.detach();
    }

    /// Sleeps until the exec program stops a process, shutdown, or the poll interval.
    fn wait(&mut self, wakeup: &OwnedFd) {
        let mut fds = [
            libc::pollfd {
                fd: self.maps.wake.as_raw_fd(),
                events: libc::POLLIN,
                revents: 0,
            },
            libc::pollfd {
                fd: wakeup.as_raw_fd(),
                events: libc::POLLIN,
                revents: 0,
            },
        ];
        // SAFETY: two valid pollfds. An interrupted poll is just an early round.
        unsafe { libc::poll(fds.as_mut_ptr(), 2, POLL.as_millis() as i32) };
        while self.maps.wake.next().is_some() {}
    }

    /// One round: attach for stopped or tracked processes, continue the stopped ones, detach
    /// once none has been left for [`LINGER`].
    fn step(&mut self) -> Result<(), CompatPathError> {
        let stopped = self.stopped();
        let live = self.any_process();
        if (live || !stopped.is_empty()) && self.links.is_none() {
            self.attach()?;
        }
        if self.links.is_some() {
            self.continue_stopped(false);
        }
        if live || !stopped.is_empty() {
            self.empty_since = None;
            return Ok(());
        }
        if self.links.is_none() {
            return Ok(());
        }
        let since = *self.empty_since.get_or_insert_with(Instant::now);
        if since.elapsed() < LINGER {
            return Ok(());
        }
        // Arm first, then look again: a 32-bit exec between the two is either seen here or
        // stopped by the exec program (and continued after the next attach).
        self.set_mode(self.detached_mode())?;
        if self.any_process() || !self.stopped().is_empty() {
            self.set_mode(Mode::Attached)?;
            self.empty_since = None;
            return Ok(());
        }
        self.detach();
        tracing::info!("no 32-bit process left: compat syscall programs detached");
        Ok(())
    }

    fn attach(&mut self) -> Result<(), CompatPathError> {
        let error = |program, tracepoint| {
            move |source| CompatPathError::Attach {
                program,
                tracepoint,
                source,
            }
        };
        // Enter before exit: an exit seen without its enter counts as lost, an enter whose
        // exit is not traced yet only leaves an entry the next enter replaces.
        let enter = raw_tracepoint_open("sys_enter", &self.maps.enter)
            .map_err(error("compat_sys_enter", "sys_enter"))?;
        let exit = raw_tracepoint_open("sys_exit", &self.maps.exit)
            .map_err(error("compat_sys_exit", "sys_exit"))?;
        self.links = Some(Links { enter, exit });
        self.set_mode(Mode::Attached)?;
        self.counters.attached.store(true, Ordering::Relaxed);
        self.counters.attaches.fetch_add(1, Ordering::Relaxed);
        tracing::debug!("compat syscall programs attached");
        Ok(())
    }

    fn detach(&mut self) {
        if let Some(links) = self.links.take() {
            // Exit first, for the reason `attach` takes enter first.
            drop(links.exit);
            drop(links.enter);
        }
        self.counters.attached.store(false, Ordering::Relaxed);
    }

    /// The mode while the programs are detached.
    fn detached_mode(&self) -> Mode {
        if self.hold_at_exec {
            Mode::Armed
        } else {
            Mode::Off
        }
    }

    fn set_mode(&mut self, mode: Mode) -> Result<(), CompatPathError> {
        self.maps
            .control
            .set(control::MODE, mode as u32, 0)
            .map_err(|source| CompatPathError::Map {
                map: "COMPAT_CONTROL",
                source,
            })?;
        // The exec program inserts its process and then reads the mode; this side writes the
        // mode and then reads the processes. Neither pair may be reordered (x86 lets a load
        // pass an earlier store), or both could miss the other.
        std::sync::atomic::fence(Ordering::SeqCst);
        Ok(())
    }

    fn any_process(&self) -> bool {
        self.maps.processes.keys().next().is_some()
    }

    fn stopped(&self) -> Vec<(u32, u32)> {
        self.maps.stopped.iter().filter_map(Result::ok).collect()
    }

    /// Continues the processes stopped for the attach (`all`: also those whose SIGSTOP is
    /// about to be sent, at shutdown, when the exec program no longer stops any).
    fn continue_stopped(&mut self, all: bool) {
        for (tgid, state) in self.stopped() {
            if state != stopped::SENT && !all {
                continue;
            }
            // SAFETY: kill(2) with a pid the kernel recorded and a valid signal. The entry
            // is removed at the process's exit, so the pid has not been reused.
            let sent = unsafe { libc::kill(tgid as i32, libc::SIGCONT) };
            if sent != 0 {
                let e = std::io::Error::last_os_error();
                if e.raw_os_error() != Some(libc::ESRCH) {
                    tracing::warn!(
                        pid = tgid,
                        "continuing a process stopped at its 32-bit exec: {e}"
                    );
                }
            } else {
                self.counters.continued.fetch_add(1, Ordering::Relaxed);
                tracing::debug!(pid = tgid, "continued after its 32-bit exec");
            }
            let _ = self.maps.stopped.remove(&tgid);
        }
    }
}

/// Whether this process has CAP_KILL in its effective set (`CapEff` in /proc/self/status).
fn has_cap_kill() -> bool {
    const CAP_KILL: u32 = 5;
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|status| {
            let hex = status.lines().find_map(|l| l.strip_prefix("CapEff:"))?;
            u64::from_str_radix(hex.trim(), 16).ok()
        })
        .is_some_and(|caps| caps & (1 << CAP_KILL) != 0)
}

/// Processes running a 32-bit image now: those whose executable is a 32-bit ELF of this
/// machine's compat ABI.
fn running_compat_processes() -> Vec<u32> {
    let Ok(dir) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    dir.filter_map(Result::ok)
        .filter_map(|entry| entry.file_name().to_str()?.parse::<u32>().ok())
        .filter(|pid| is_compat_executable(&format!("/proc/{pid}/exe")))
        .collect()
}

/// ELF `e_machine` of this machine's compat ABI.
const COMPAT_MACHINE: Option<u16> = if cfg!(target_arch = "x86_64") {
    Some(3) // EM_386
} else if cfg!(target_arch = "aarch64") {
    Some(40) // EM_ARM
} else {
    None
};

/// Whether `path` is a 32-bit ELF of the compat ABI (kernel threads have no executable).
fn is_compat_executable(path: &str) -> bool {
    use std::io::Read;
    let Some(machine) = COMPAT_MACHINE else {
        return false;
    };
    let mut header = [0u8; 20];
    let read = std::fs::File::open(path).and_then(|mut f| f.read_exact(&mut header));
    read.is_ok() && is_compat_elf_header(&header, machine)
}

fn is_compat_elf_header(header: &[u8; 20], machine: u16) -> bool {
    const ELFCLASS32: u8 = 1;
    header[..4] == *b"\x7fELF"
        && header[4] == ELFCLASS32
        && u16::from_le_bytes([header[18], header[19]]) == machine
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tells_i386_from_x86_64_headers() {
        let mut header = [0u8; 20];
        header[..4].copy_from_slice(b"\x7fELF");
        header[4] = 1;
        header[18] = 3;
        assert!(is_compat_elf_header(&header, 3));
        header[4] = 2; // ELFCLASS64
        assert!(!is_compat_elf_header(&header, 3));
        header[4] = 1;
        header[18] = 62; // EM_X86_64 in a 32-bit file: x32, not i386
        assert!(!is_compat_elf_header(&header, 3));
        assert!(!is_compat_elf_header(&[0; 20], 3));
    }

    #[test]
    fn this_process_is_not_compat() {
        assert!(!is_compat_executable("/proc/self/exe"));
    }
}
