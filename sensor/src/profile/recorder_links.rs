//! The recorder's links into the kernel: one per `syscalls:sys_enter_<name>` tracepoint whose
//! syscall some running recording has not made yet, and the `sys_enter` raw tracepoint for
//! 32-bit syscalls when a recording asks for them.
//!
//! Why per syscall: a program on the `sys_enter` raw tracepoint runs on every syscall of every
//! task, recorded or not, and on this kernel the dispatch alone (before the program's first
//! instruction) adds about 95 ns to each one: a getppid storm outside any recording ran at 0.7x
//! its speed. A syscall tracepoint with no program attached costs nothing, so each one is
//! detached once every running recording has made its syscall: after a recorded workload has
//! warmed up, the rest of the machine pays only for the syscalls it has never made.
//!
//! Each link carries its tracepoint's index in [`RecorderLinks`]'s list as a BPF cookie, and
//! the program writes which syscall number that cookie stands for the first time it fires, so
//! no table of tracepoint names (`newuname` is uname, `umount` is umount2, ...) is needed.
//! Kernels without BPF cookies (before 5.15) cannot load that program; there the raw
//! tracepoint records everything, as it must, at its cost.

use std::collections::BTreeMap;
use std::os::fd::{AsFd, AsRawFd, FromRawFd, OwnedFd};
use std::path::Path;

use aya::maps::{Array, MapData};
use aya::programs::ProgramFd;
use sensor_common::recorder::{RawRecorderMode, MAX_SYSCALL_TRACEPOINTS, SYSCALL_WORDS};

use super::recorder::RecorderError;
use crate::probe::tracefs::TRACEFS;

/// The loaded (not attached) recorder programs and the maps that steer them.
pub(crate) struct RecorderPrograms {
    /// `record_syscall`, if this kernel could load it, with its cookie -> syscall map.
    pub per_syscall: Option<(ProgramFd, Array<MapData, u32>)>,
    /// `record_raw_syscall` and its mode switch.
    pub raw: ProgramFd,
    pub raw_mode: Array<MapData, u32>,
}

pub(crate) struct RecorderLinks {
    programs: RecorderPrograms,
    /// `sys_enter_*` tracepoints by index (the cookie): name and tracefs id. Read on the
    /// first attach.
    tracepoints: Vec<(String, u64)>,
    /// Attached tracepoints by index.
    links: BTreeMap<u32, OwnedFd>,
    raw: Option<(OwnedFd, RawRecorderMode)>,
}

impl RecorderLinks {
    pub fn new(programs: RecorderPrograms) -> Self {
        Self {
            programs,
            tracepoints: Vec::new(),
            links: BTreeMap::new(),
            raw: None,
        }
    }

    /// Whether native syscalls are recorded per syscall (rather than by the raw tracepoint).
    pub fn per_syscall(&self) -> bool {
        self.programs.per_syscall.is_some()
    }

    /// Attaches every syscall tracepoint not attached now: what a new recording needs, having
    /// seen nothing yet. Returns how many were attached.
    pub fn attach_all(&mut self) -> Result<usize, RecorderError> {
        let Some((program, _)) = &self.programs.per_syscall else {
            return Ok(0);
        };
        if self.tracepoints.is_empty() {
            self.tracepoints = syscall_tracepoints(Path::new(TRACEFS))?;
        }
        let mut attached = 0;
        for (index, (name, id)) in self.tracepoints.iter().enumerate() {
            let index = index as u32;
            if self.links.contains_key(&index) {
                continue;
            }
            let link = attach_tracepoint(program, *id, u64::from(index)).map_err(|source| {
                RecorderError::AttachTracepoint {
                    tracepoint: format!("syscalls:{name}"),
                    source,
                }
            })?;
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
        let before = self.links.len();
        self.links.retain(|&index, _| {
            let nr = match learnt.get(&index, 0) {
                Ok(0) | Err(_) => return true,
                Ok(nr_plus_one) => nr_plus_one - 1,
            };
            let word = (nr / 64) as usize;
            seen.get(word).is_none_or(|w| w & (1u64 << (nr % 64)) == 0)
        });
        before - self.links.len()
    }

    /// Attaches, switches or detaches the raw tracepoint: in `All` mode whenever anything is
    /// recorded on a kernel without the per-syscall program, in `Compat` mode while a
    /// recording asks for 32-bit syscalls, not at all otherwise.
    pub fn set_raw(&mut self, recording: bool, compat: bool) -> Result<(), RecorderError> {
        let want = match (recording, self.per_syscall(), compat) {
            (false, _, _) => None,
            (true, false, _) => Some(RawRecorderMode::All),
            (true, true, true) => Some(RawRecorderMode::Compat),
            (true, true, false) => None,
        };
        let Some(mode) = want else {
            self.raw = None;
            return Ok(());
        };
        if self.raw.as_ref().is_some_and(|(_, m)| *m == mode) {
            return Ok(());
        }
        // The mode is in place before the program can run with it.
        self.programs
            .raw_mode
            .set(0, mode as u32, 0)
            .map_err(|source| RecorderError::Map { cgroup: 0, source })?;
        if self.raw.is_none() {
            let link = raw_tracepoint_open("sys_enter", &self.programs.raw)
                .map_err(RecorderError::Attach)?;
            self.raw = Some((link, mode));
        } else if let Some((_, m)) = self.raw.as_mut() {
            *m = mode;
        }
        Ok(())
    }

    /// Closes every link: nothing is recorded any more and no syscall pays for the recorder.
    pub fn detach_all(&mut self) {
        self.links.clear();
        self.raw = None;
    }

    /// How many syscall tracepoints are attached now.
    pub fn attached_tracepoints(&self) -> usize {
        self.links.len()
    }

    /// Whether the raw tracepoint is attached (any mode).
    pub fn raw_attached(&self) -> bool {
        self.raw.is_some()
    }

    /// The programs' fds, for their run statistics.
    pub fn program_fds(&self) -> Vec<&ProgramFd> {
        let mut fds = vec![&self.programs.raw];
        if let Some((fd, _)) = &self.programs.per_syscall {
            fds.push(fd);
        }
        fds
    }
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

/// Opens a perf event on tracepoint `id` and links `program` to it with `cookie`
/// (BPF_LINK_CREATE, BPF_PERF_EVENT). The link holds the event; closing the link detaches.
fn attach_tracepoint(program: &ProgramFd, id: u64, cookie: u64) -> std::io::Result<OwnedFd> {
    const PERF_TYPE_TRACEPOINT: u32 = 2;
    const PERF_FLAG_FD_CLOEXEC: libc::c_ulong = 8;
    const BPF_LINK_CREATE: libc::c_long = 28;
    const BPF_PERF_EVENT: u32 = 41;
    // perf_event_attr as of PERF_ATTR_SIZE_VER0 (64 bytes): type, size, config, then fields
    // left zero (counting, enabled, no sampling: the program is what runs).
    #[repr(C)]
    struct PerfEventAttr {
        kind: u32,
        size: u32,
        config: u64,
        rest: [u64; 6],
    }
    let attr = PerfEventAttr {
        kind: PERF_TYPE_TRACEPOINT,
        size: std::mem::size_of::<PerfEventAttr>() as u32,
        config: id,
        rest: [0; 6],
    };
    // Every CPU's calls reach the program whichever CPU the event is opened on.
    // SAFETY: a valid attr of the size it declares.
    let perf = unsafe {
        libc::syscall(
            libc::SYS_perf_event_open,
            &attr as *const PerfEventAttr,
            -1 as libc::pid_t,
            0 as libc::c_int,
            -1 as libc::c_int,
            PERF_FLAG_FD_CLOEXEC,
        )
    };
    if perf < 0 {
        return Err(std::io::Error::last_os_error());
    }
    // SAFETY: a new fd that nothing else owns.
    let perf = unsafe { OwnedFd::from_raw_fd(perf as i32) };
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
        target_fd: perf.as_raw_fd() as u32,
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
    // SAFETY: as above. The link keeps its own reference to the perf event.
    Ok(unsafe { OwnedFd::from_raw_fd(link as i32) })
}

/// BPF_RAW_TRACEPOINT_OPEN: attaches `program` and returns the link; closing it detaches.
/// Done here rather than through aya's program object, which the probe's owner holds: the
/// handle can attach and detach from any thread with its own copy of the program's fd.
fn raw_tracepoint_open(name: &str, program: &ProgramFd) -> std::io::Result<OwnedFd> {
    const BPF_RAW_TRACEPOINT_OPEN: libc::c_long = 17;
    let name = std::ffi::CString::new(name).map_err(std::io::Error::other)?;
    // union bpf_attr's raw_tracepoint member: { __u64 name; __u32 prog_fd; __u32 pad; __u64 cookie; }
    #[repr(C)]
    struct Attr {
        name: u64,
        prog_fd: u32,
        pad: u32,
        cookie: u64,
    }
    let attr = Attr {
        name: name.as_ptr() as u64,
        prog_fd: program.as_fd().as_raw_fd() as u32,
        pad: 0,
        cookie: 0,
    };
    // SAFETY: a valid attr of the size passed; the name outlives the call.
    let fd = unsafe {
        libc::syscall(
            libc::SYS_bpf,
            BPF_RAW_TRACEPOINT_OPEN,
            &attr as *const Attr,
            std::mem::size_of::<Attr>() as u32,
        )
    };
    if fd < 0 {
        return Err(std::io::Error::last_os_error());
    }
    // SAFETY: the kernel returned a new fd that nothing else owns.
    Ok(unsafe { OwnedFd::from_raw_fd(fd as i32) })
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
