//! The recorder's links into the kernel: one per `syscalls:sys_enter_<name>` tracepoint whose
//! syscall some running recording has not made yet, and the `sys_enter` raw tracepoint for
//! 32-bit syscalls when a recording asks for them.
//!
//! Why per syscall: a program on the `sys_enter` raw tracepoint runs on every syscall of every
//! task, recorded or not, and on this kernel the dispatch alone (before the program's first
//! instruction) adds about 95 ns to each one: a getppid storm outside any recording ran at
//! 0.5-0.7x its speed. A syscall tracepoint with no program attached costs nothing, so each
//! one is detached once every running recording has made its syscall: after a recorded
//! workload has warmed up, the rest of the machine pays only for syscalls it has never made.
//!
//! Each program is linked to a perf event on its tracepoint (an *anchor*, opened disabled: the
//! program runs, nothing is counted or sampled). Opening and linking all 360 takes about 10 ms,
//! but closing does not come cheap: the kernel waits for grace periods, about 35 ms per link
//! and 40-70 ms for a tracepoint's last perf event (under a global mutex, so threads do not
//! help): 25 s for all of them. So nothing waits for a close: unlinked links and, after the
//! last recording stops, the anchors go to a background thread (links first: their program
//! runs until the close completes), and a recording started meanwhile takes back what is still
//! open. That is also why `sensor record`, a process that exits right after its one recording,
//! uses the raw tracepoint instead ([`RecorderStrategy::RawTracepoint`]).
//!
//! Each link carries its tracepoint's index in [`RecorderLinks`]'s list as a BPF cookie, and
//! the program writes which syscall number that cookie stands for the first time it fires, so
//! no table of tracepoint names (`newuname` is uname, `umount` is umount2, ...) is needed.
//! Kernels without BPF cookies (before 5.15) cannot load that program; there the raw
//! tracepoint records everything, as it must, at its cost.

use std::collections::BTreeMap;
use std::os::fd::{AsFd, AsRawFd, FromRawFd, OwnedFd};
use std::path::Path;
use std::sync::{Arc, Mutex};

use aya::maps::{Array, MapData};
use aya::programs::ProgramFd;
use sensor_common::recorder::{RawRecorderMode, MAX_SYSCALL_TRACEPOINTS, SYSCALL_WORDS};

use super::recorder::RecorderError;
use crate::probe::raw_tracepoint::raw_tracepoint_open;
use crate::probe::tracefs::TRACEFS;

/// How native syscalls are recorded.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum RecorderStrategy {
    /// A program per syscall tracepoint, each detached once every recording has made the
    /// syscall: the rest of the machine stops paying as recordings warm up. For long-lived
    /// processes (`sensor run`): see the module documentation for why.
    #[default]
    PerSyscall,
    /// The `sys_enter` raw tracepoint, on every syscall of every task while recording:
    /// attached and detached at once, so for `sensor record`'s single short recording.
    RawTracepoint,
}

/// The loaded (not attached) recorder programs and the maps that steer them.
pub(crate) struct RecorderPrograms {
    /// `record_syscall`, if this kernel could load it, with its cookie -> syscall map.
    pub per_syscall: Option<(ProgramFd, Array<MapData, u32>)>,
    /// `record_raw_syscall` and its mode switch.
    pub raw: ProgramFd,
    pub raw_mode: Array<MapData, u32>,
}

/// What the closing thread works through, shared with it.
#[derive(Default)]
struct Retiring {
    /// Unlinked programs' links by tracepoint index, closed first (their programs run until
    /// the close completes); a recording that wants one back takes it from here.
    links: Vec<(u32, OwnedFd)>,
    /// Perf events on syscall tracepoints by index (attached or not).
    anchors: BTreeMap<u32, OwnedFd>,
    /// Other fds to close (anchors replaced while their link was closing).
    other: Vec<OwnedFd>,
    /// Whether recordings want the anchors: if not, the thread closes them too.
    anchors_wanted: bool,
    /// Whether the thread is running.
    closing: bool,
}

type Shared = Arc<Mutex<Retiring>>;

pub(crate) struct RecorderLinks {
    programs: RecorderPrograms,
    strategy: RecorderStrategy,
    /// `sys_enter_*` tracepoints by index (the cookie): name and tracefs id. Read on the
    /// first attach.
    tracepoints: Vec<(String, u64)>,
    retiring: Shared,
    /// Attached tracepoints by index.
    links: BTreeMap<u32, OwnedFd>,
    raw: Option<(OwnedFd, RawRecorderMode)>,
}

impl RecorderLinks {
    pub fn new(programs: RecorderPrograms) -> Self {
        Self {
            programs,
            strategy: RecorderStrategy::default(),
            tracepoints: Vec::new(),
            retiring: Arc::default(),
            links: BTreeMap::new(),
            raw: None,
        }
    }

    /// Chooses how the next recordings record (between recordings only).
    pub fn set_strategy(&mut self, strategy: RecorderStrategy) {
        self.strategy = strategy;
    }

    /// Whether native syscalls are recorded per syscall (rather than by the raw tracepoint).
    pub fn per_syscall(&self) -> bool {
        self.programs.per_syscall.is_some() && self.strategy == RecorderStrategy::PerSyscall
    }

    /// Attaches every syscall tracepoint not attached now: what a new recording needs, having
    /// seen nothing yet. Returns how many were attached.
    pub fn attach_all(&mut self) -> Result<usize, RecorderError> {
        if !self.per_syscall() {
            return Ok(0);
        }
        let Some((program, _)) = &self.programs.per_syscall else {
            return Ok(0);
        };
        if self.tracepoints.is_empty() {
            self.tracepoints = syscall_tracepoints(Path::new(TRACEFS))?;
        }
        let mut retiring = lock(&self.retiring);
        retiring.anchors_wanted = true;
        // Links still waiting to be closed are still linked: take them back.
        for (index, link) in std::mem::take(&mut retiring.links) {
            self.links.insert(index, link);
        }
        let mut attached = 0;
        for (index, (name, id)) in self.tracepoints.iter().enumerate() {
            let index = index as u32;
            if self.links.contains_key(&index) {
                continue;
            }
            let error = |source| RecorderError::AttachTracepoint {
                tracepoint: format!("syscalls:{name}"),
                source,
            };
            let linked = match retiring.anchors.get(&index) {
                Some(anchor) => link_program(program, anchor, u64::from(index)),
                None => Err(std::io::Error::from_raw_os_error(libc::ENOENT)),
            };
            let link = match linked {
                Ok(link) => link,
                // No anchor, or one whose old link the closing thread is closing right now
                // (EEXIST): a fresh anchor, the old one closed later.
                Err(_) => {
                    let anchor = open_anchor(*id).map_err(error)?;
                    let link = link_program(program, &anchor, u64::from(index)).map_err(error)?;
                    if let Some(old) = retiring.anchors.insert(index, anchor) {
                        retiring.other.push(old);
                    }
                    link
                }
            };
            self.links.insert(index, link);
            attached += 1;
        }
        Ok(attached)
    }

    /// Detaches the tracepoints of the syscalls in `seen` (seen by every running recording).
    /// A tracepoint that has never fired is kept: which syscall it stands for is not known yet,
    /// and nobody has made it. Returns how many were detached.
    pub fn prune(&mut self, seen: &[u64; SYSCALL_WORDS]) -> usize {
        let Some((_, learnt)) = &self.programs.per_syscall else {
            return 0;
        };
        let made: Vec<u32> = self
            .links
            .keys()
            .copied()
            .filter(|index| {
                let nr = match learnt.get(index, 0) {
                    Ok(0) | Err(_) => return false,
                    Ok(nr_plus_one) => nr_plus_one - 1,
                };
                let word = (nr / 64) as usize;
                seen.get(word).is_some_and(|w| w & (1u64 << (nr % 64)) != 0)
            })
            .collect();
        let links: Vec<(u32, OwnedFd)> = made
            .iter()
            .filter_map(|index| self.links.remove(index).map(|link| (*index, link)))
            .collect();
        let detached = links.len();
        if detached > 0 {
            let mut retiring = lock(&self.retiring);
            retiring.links.extend(links);
            self.start_closing(&mut retiring);
        }
        detached
    }

    /// Attaches, switches or detaches the raw tracepoint: in `All` mode whenever anything is
    /// recorded without the per-syscall programs, in `Compat` mode while a recording asks for
    /// 32-bit syscalls, not at all otherwise.
    pub fn set_raw(&mut self, recording: bool, compat: bool) -> Result<(), RecorderError> {
        let want = match (recording, self.per_syscall(), compat) {
            (false, _, _) => None,
            (true, false, _) => Some(RawRecorderMode::All),
            (true, true, true) => Some(RawRecorderMode::Compat),
            (true, true, false) => None,
        };
        let Some(mode) = want else {
            self.raw = None;
            self.set_raw_mode(RawRecorderMode::Off);
            return Ok(());
        };
        if self.raw.as_ref().is_some_and(|(_, m)| *m == mode) {
            return Ok(());
        }
        // The mode is in place before the program can run with it.
        self.programs
            .raw_mode
            .set(0, mode as u32, 0)
            .map_err(|source| RecorderError::MapUpdate {
                map: "RAW_RECORDER_MODE",
                source,
            })?;
        if self.raw.is_none() {
            let link = raw_tracepoint_open("sys_enter", &self.programs.raw)
                .map_err(RecorderError::Attach)?;
            self.raw = Some((link, mode));
        } else if let Some((_, m)) = self.raw.as_mut() {
            *m = mode;
        }
        Ok(())
    }

    /// Says 32-bit syscalls are no longer recorded (after the raw tracepoint is detached).
    fn set_raw_mode(&mut self, mode: RawRecorderMode) {
        if let Err(e) = self.programs.raw_mode.set(0, mode as u32, 0) {
            tracing::warn!("setting the raw recorder's mode: {e}");
        }
    }

    /// Unlinks every program: nothing is recorded any more and no syscall pays for the
    /// recorder. The anchors are closed in the background (see the module documentation).
    pub fn detach_all(&mut self) {
        self.raw = None;
        self.set_raw_mode(RawRecorderMode::Off);
        let mut retiring = lock(&self.retiring);
        retiring.links.extend(std::mem::take(&mut self.links));
        retiring.anchors_wanted = false;
        self.start_closing(&mut retiring);
    }

    /// Starts the closing thread unless it runs: closing a link takes the kernel 30-40 ms
    /// here, a tracepoint's last perf event 40-70 ms, so nobody waits for them.
    fn start_closing(&self, retiring: &mut Retiring) {
        if retiring.closing {
            return;
        }
        retiring.closing = true;
        let shared = self.retiring.clone();
        let spawned = std::thread::Builder::new()
            .name("recorder-close".into())
            .spawn(move || close_retired(&shared));
        if let Err(e) = spawned {
            // They stay open until the recorder is dropped: costly only at that point.
            retiring.closing = false;
            tracing::warn!("cannot start the thread that closes the recorder's perf events: {e}");
        }
    }

    /// How many syscall tracepoints are attached now.
    pub fn attached_tracepoints(&self) -> usize {
        self.links.len()
    }

    /// How many perf events (attached or not) and unlinked links not closed yet it holds.
    pub fn kernel_handles(&self) -> usize {
        let retiring = lock(&self.retiring);
        retiring.anchors.len() + retiring.links.len() + retiring.other.len()
    }

    /// Whether the raw tracepoint is attached (any mode).
    pub fn raw_attached(&self) -> bool {
        self.raw.is_some()
    }
}

fn lock(shared: &Mutex<Retiring>) -> std::sync::MutexGuard<'_, Retiring> {
    // Plain data: usable after a panic elsewhere.
    shared.lock().unwrap_or_else(|e| e.into_inner())
}

/// Closes retired links first (their programs still run until then), then other fds, then
/// the anchors unless recordings want them again; one at a time, without the lock.
fn close_retired(shared: &Mutex<Retiring>) {
    let started = std::time::Instant::now();
    let mut closed = 0;
    loop {
        let next = {
            let mut retiring = lock(shared);
            let next = match retiring.links.pop() {
                Some((_, link)) => Some(link),
                None => retiring.other.pop().or_else(|| {
                    if retiring.anchors_wanted {
                        None
                    } else {
                        retiring.anchors.pop_first().map(|(_, anchor)| anchor)
                    }
                }),
            };
            if next.is_none() {
                retiring.closing = false;
            }
            next
        };
        let Some(fd) = next else { break };
        drop(fd);
        closed += 1;
    }
    tracing::debug!(
        closed,
        seconds = started.elapsed().as_secs_f64(),
        "recorder: closed unlinked programs' links and perf events"
    );
}

/// The `syscalls:sys_enter_*` tracepoints of this kernel, sorted by name, with their ids.
fn syscall_tracepoints(tracefs: &Path) -> Result<Vec<(String, u64)>, RecorderError> {
    let dir = tracefs.join("events/syscalls");
    let error = |path: &Path, e: std::io::Error| RecorderError::Tracefs {
        path: path.display().to_string(),
        source: e,
    };
    let mut names: Vec<String> = std::fs::read_dir(&dir)
        .map_err(|e| error(&dir, e))?
        .filter_map(|entry| entry.ok())
        .filter_map(|entry| entry.file_name().into_string().ok())
        .filter(|name| name.starts_with("sys_enter_"))
        .collect();
    names.sort();
    if names.len() > MAX_SYSCALL_TRACEPOINTS as usize {
        return Err(RecorderError::TooManyTracepoints(names.len()));
    }
    names
        .into_iter()
        .map(|name| {
            let path = dir.join(&name).join("id");
            let text = std::fs::read_to_string(&path).map_err(|e| error(&path, e))?;
            let id = text.trim().parse().map_err(|_| {
                error(
                    &path,
                    std::io::Error::new(
                        std::io::ErrorKind::InvalidData,
                        format!("not a tracepoint id: {:?}", text.trim()),
                    ),
                )
            })?;
            Ok((name, id))
        })
        .collect()
}

/// Opens a disabled perf event on tracepoint `id`: the anchor a program is linked to.
fn open_anchor(id: u64) -> std::io::Result<OwnedFd> {
    const PERF_TYPE_TRACEPOINT: u32 = 2;
    const PERF_FLAG_FD_CLOEXEC: libc::c_ulong = 8;
    // perf_event_attr's flags word: bit 0 is `disabled`.
    const DISABLED: u64 = 1;
    // perf_event_attr as of PERF_ATTR_SIZE_VER0 (64 bytes): type, size, config,
    // sample_period, sample_type, read_format, flags, and the rest left zero.
    #[repr(C)]
    struct PerfEventAttr {
        kind: u32,
        size: u32,
        config: u64,
        sample_period: u64,
        sample_type: u64,
        read_format: u64,
        flags: u64,
        rest: [u64; 2],
    }
    let attr = PerfEventAttr {
        kind: PERF_TYPE_TRACEPOINT,
        size: std::mem::size_of::<PerfEventAttr>() as u32,
        config: id,
        sample_period: 0,
        sample_type: 0,
        read_format: 0,
        // Disabled: an enabled event would also build a perf record on every call made on
        // its CPU. The linked program runs either way.
        flags: DISABLED,
        rest: [0; 2],
    };
    // Every CPU's calls reach the program whichever CPU the event is opened on.
    // SAFETY: a valid attr of the size it declares.
    let fd = unsafe {
        libc::syscall(
            libc::SYS_perf_event_open,
            &attr as *const PerfEventAttr,
            -1 as libc::pid_t,
            0 as libc::c_int,
            -1 as libc::c_int,
            PERF_FLAG_FD_CLOEXEC,
        )
    };
    if fd < 0 {
        return Err(std::io::Error::last_os_error());
    }
    // SAFETY: a new fd that nothing else owns.
    Ok(unsafe { OwnedFd::from_raw_fd(fd as i32) })
}

/// Links `program` to the perf event `anchor` with `cookie` (BPF_LINK_CREATE, BPF_PERF_EVENT).
/// Closing the link unlinks the program at once.
fn link_program(program: &ProgramFd, anchor: &OwnedFd, cookie: u64) -> std::io::Result<OwnedFd> {
    const BPF_LINK_CREATE: libc::c_long = 28;
    const BPF_PERF_EVENT: u32 = 41;
    // union bpf_attr's link_create member with its perf_event.bpf_cookie.
    #[repr(C)]
    struct LinkCreate {
        prog_fd: u32,
        target_fd: u32,
        attach_type: u32,
        flags: u32,
        bpf_cookie: u64,
    }
    let attr = LinkCreate {
        prog_fd: program.as_fd().as_raw_fd() as u32,
        target_fd: anchor.as_raw_fd() as u32,
        attach_type: BPF_PERF_EVENT,
        flags: 0,
        bpf_cookie: cookie,
    };
    // SAFETY: a valid attr of the size passed.
    let link = unsafe {
        libc::syscall(
            libc::SYS_bpf,
            BPF_LINK_CREATE,
            &attr as *const LinkCreate,
            std::mem::size_of::<LinkCreate>() as u32,
        )
    };
    if link < 0 {
        return Err(std::io::Error::last_os_error());
    }
    // SAFETY: a new fd that nothing else owns.
    Ok(unsafe { OwnedFd::from_raw_fd(link as i32) })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A fresh directory standing in for tracefs.
    fn fake_tracefs(test: &str) -> std::path::PathBuf {
        let dir = std::env::temp_dir().join(format!("sensor-{test}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        dir
    }

    #[test]
    fn lists_enter_tracepoints_sorted_with_ids() {
        let dir = fake_tracefs("tracepoints-sorted");
        for (name, id) in [("sys_enter_write", "7\n"), ("sys_enter_read", "5\n")] {
            let event = dir.join("events/syscalls").join(name);
            std::fs::create_dir_all(&event).unwrap();
            std::fs::write(event.join("id"), id).unwrap();
        }
        std::fs::create_dir_all(dir.join("events/syscalls/sys_exit_read")).unwrap();
        assert_eq!(
            syscall_tracepoints(&dir).unwrap(),
            [
                ("sys_enter_read".to_string(), 5),
                ("sys_enter_write".to_string(), 7)
            ]
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn a_bad_id_names_its_file() {
        let dir = fake_tracefs("tracepoint-bad-id");
        let event = dir.join("events/syscalls/sys_enter_read");
        std::fs::create_dir_all(&event).unwrap();
        std::fs::write(event.join("id"), "x").unwrap();
        let error = syscall_tracepoints(&dir).unwrap_err().to_string();
        std::fs::remove_dir_all(&dir).unwrap();
        assert!(error.contains("sys_enter_read/id"), "{error}");
    }
}
