//! Control of the kernel's syscall recorder, shared between the thread that owns the probe and
//! whoever starts and stops recordings (the `sensor record` command, the gRPC API).
//!
//! The recorder program is loaded with the other programs but attached to the `sys_enter` raw
//! tracepoint only while at least one recording is active: the link is opened on the first
//! start and closed on the last stop, so a sensor that records nothing adds nothing to any
//! syscall. While attached, a process outside the recorded cgroups pays one cgroup id read and
//! one hash lookup per syscall.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::os::fd::{AsFd, AsRawFd, FromRawFd, OwnedFd};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Instant;

use aya::maps::{Array, MapData, PerCpuHashMap, PerCpuValues};
use aya::programs::ProgramFd;
use sensor_common::recorder::{FILTER_BITS, FILTER_WORDS, MAX_RECORDED_CGROUPS, SYSCALL_WORDS};
use sensor_common::SyscallBitmap;

use super::arch::{self, Abi};
use super::recording::{AppArmorObservations, Recording};
use crate::event::{Event, EventKind};

#[derive(Debug, thiserror::Error)]
pub enum RecorderError {
    #[error("a recording named `{0}` is already running; stop it first or pick another name")]
    AlreadyRecording(String),
    #[error("no recording named `{0}` is running (running: {1})")]
    NoSuchRecording(String, String),
    #[error(
        "cgroup {cgroup} is already recorded by `{by}`; a cgroup can be in one recording at a time"
    )]
    CgroupTaken { cgroup: u64, by: String },
    #[error("a recording needs at least one cgroup")]
    NoCgroups,
    #[error("at most {MAX_RECORDED_CGROUPS} cgroups can be recorded at once")]
    TooManyCgroups,
    #[error("the recorder's map refused cgroup {cgroup}: {source}")]
    Map {
        cgroup: u64,
        #[source]
        source: aya::maps::MapError,
    },
    #[error("cannot count this machine's CPUs (/sys/devices/system/cpu/possible): {0}")]
    Cpus(#[source] std::io::Error),
    #[error("attaching the syscall recorder to raw_syscalls:sys_enter failed: {0}")]
    Attach(#[source] std::io::Error),
}

/// A cloneable, thread-safe handle on the recorder. See the module documentation.
#[derive(Clone)]
pub struct Recordings {
    inner: Arc<Mutex<Inner>>,
    /// Whether any recording is active: `observe`'s fast path, read without the lock.
    active: Arc<AtomicBool>,
}

struct Inner {
    map: PerCpuHashMap<MapData, u64, SyscallBitmap>,
    filter: Array<MapData, [u64; FILTER_WORDS]>,
    program: ProgramFd,
    link: Option<OwnedFd>,
    running: BTreeMap<String, Running>,
    /// cgroup id -> the recording it belongs to.
    owner: HashMap<u64, String>,
}

struct Running {
    cgroups: BTreeSet<u64>,
    started: Instant,
    apparmor: AppArmorObservations,
    /// Processes seen starting in the recorded cgroups.
    forks: u64,
    /// Whether the first process is counted (`sensor record` starts it in the cgroup).
    first_process: bool,
}

/// A snapshot of a running recording (`get`).
#[derive(Clone, Debug)]
pub struct RecordingStatus {
    pub name: String,
    pub cgroups: Vec<u64>,
    /// The recording so far: syscalls and observations up to now.
    pub recording: Recording,
}

impl Recordings {
    /// Wraps the loaded (not attached) recorder program and its map.
    pub(crate) fn new(
        map: PerCpuHashMap<MapData, u64, SyscallBitmap>,
        filter: Array<MapData, [u64; FILTER_WORDS]>,
        program: ProgramFd,
    ) -> Self {
        Self {
            inner: Arc::new(Mutex::new(Inner {
                map,
                filter,
                program,
                link: None,
                running: BTreeMap::new(),
                owner: HashMap::new(),
            })),
            active: Arc::new(AtomicBool::new(false)),
        }
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        // A panic while holding the lock leaves plain data behind, still usable.
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Starts recording every task in `cgroups` (cgroup v2 ids) under `name`. The cgroups'
    /// syscalls are recorded from the moment this returns.
    pub fn start(&self, name: &str, cgroups: &[u64]) -> Result<(), RecorderError> {
        if cgroups.is_empty() {
            return Err(RecorderError::NoCgroups);
        }
        let mut inner = self.lock();
        if inner.running.contains_key(name) {
            return Err(RecorderError::AlreadyRecording(name.to_string()));
        }
        inner.running.insert(
            name.to_string(),
            Running {
                cgroups: BTreeSet::new(),
                started: Instant::now(),
                apparmor: AppArmorObservations::default(),
                forks: 0,
                first_process: false,
            },
        );
        if let Err(e) = inner.add(name, cgroups) {
            inner.running.remove(name);
            return Err(e);
        }
        if let Err(e) = inner.ensure_attached() {
            inner.remove_cgroups(name);
            inner.running.remove(name);
            return Err(e);
        }
        self.active.store(true, Ordering::Release);
        tracing::info!(recording = name, ?cgroups, "recording started");
        Ok(())
    }

    /// Adds cgroups to a running recording: a new container of the recorded workload.
    pub fn add_cgroups(&self, name: &str, cgroups: &[u64]) -> Result<(), RecorderError> {
        let mut inner = self.lock();
        inner.running_mut(name)?;
        inner.add(name, cgroups)
    }

    /// Counts the process that starts a recording in its cgroup (as `sensor record` does),
    /// whose own start is not a fork inside the cgroup.
    pub fn count_first_process(&self, name: &str) {
        if let Some(r) = self.lock().running.get_mut(name) {
            r.first_process = true;
        }
    }

    /// The recording so far, without stopping it.
    pub fn get(&self, name: &str) -> Result<RecordingStatus, RecorderError> {
        let mut inner = self.lock();
        inner.running_mut(name)?;
        let recording = inner.snapshot(name);
        Ok(RecordingStatus {
            name: name.to_string(),
            cgroups: recording.cgroups.clone(),
            recording,
        })
    }

    /// Names of the running recordings.
    pub fn list(&self) -> Vec<String> {
        self.lock().running.keys().cloned().collect()
    }

    /// Stops a recording and returns what it saw. Events still in the ring buffer are not in
    /// it: stop after the pipeline has drained them when that matters (`sensor record` does).
    pub fn stop(&self, name: &str) -> Result<Recording, RecorderError> {
        let mut inner = self.lock();
        inner.running_mut(name)?;
        let recording = inner.snapshot(name);
        inner.remove_cgroups(name);
        inner.running.remove(name);
        if inner.running.is_empty() {
            // Closing the link detaches the program: nothing is recorded any more.
            inner.link = None;
            self.active.store(false, Ordering::Release);
        }
        tracing::info!(
            recording = name,
            syscalls = recording.syscalls.len(),
            "recording stopped"
        );
        Ok(recording)
    }

    /// Stops every recording and merges them into one named `name`: the containers of a
    /// workload recorded separately.
    pub fn stop_merged(&self, names: &[&str], name: &str) -> Result<Recording, RecorderError> {
        let mut merged = Recording {
            name: name.to_string(),
            ..Recording::default()
        };
        for n in names {
            merged.merge(&self.stop(n)?);
        }
        Ok(merged)
    }

    /// The recorder program's run count and total run time (ns) as the kernel counts them
    /// with `kernel.bpf_stats_enabled=1` (zero otherwise): what recording costs per syscall.
    pub fn program_stats(&self) -> Option<(u64, u64)> {
        let fd = self.lock().program.as_fd().as_raw_fd();
        let info = std::fs::read_to_string(format!("/proc/self/fdinfo/{fd}")).ok()?;
        let field = |name: &str| -> Option<u64> {
            info.lines()
                .find_map(|l| l.strip_prefix(name))
                .and_then(|v| v.trim_start_matches(':').trim().parse().ok())
        };
        Some((field("run_cnt")?, field("run_time_ns")?))
    }

    /// Whether the recorder is attached to the kernel (some recording is active).
    pub fn is_attached(&self) -> bool {
        self.lock().link.is_some()
    }

    /// Collects AppArmor observations from a pipeline event. Called for every event: when
    /// nothing is recorded it is one relaxed load.
    #[inline]
    pub fn observe(&self, event: &Event) {
        if !self.active.load(Ordering::Acquire) {
            return;
        }
        let mut inner = self.lock();
        let Some(name) = inner.owner.get(&event.task.cgroup_id).cloned() else {
            return;
        };
        let Some(running) = inner.running.get_mut(&name) else {
            return;
        };
        if let EventKind::Fork { .. } = event.kind {
            running.forks += 1;
        }
        running.apparmor.observe(event);
    }
}

impl Inner {
    fn running_mut(&mut self, name: &str) -> Result<&mut Running, RecorderError> {
        let names = self.running.keys().cloned().collect::<Vec<_>>().join(", ");
        self.running.get_mut(name).ok_or_else(|| {
            RecorderError::NoSuchRecording(
                name.to_string(),
                if names.is_empty() {
                    "none".into()
                } else {
                    names
                },
            )
        })
    }

    fn add(&mut self, name: &str, cgroups: &[u64]) -> Result<(), RecorderError> {
        for &cgroup in cgroups {
            if let Some(by) = self.owner.get(&cgroup) {
                if by == name {
                    continue;
                }
                return Err(RecorderError::CgroupTaken {
                    cgroup,
                    by: by.clone(),
                });
            }
            if self.owner.len() as u32 >= MAX_RECORDED_CGROUPS {
                return Err(RecorderError::TooManyCgroups);
            }
            let cpus = aya::util::nr_cpus().map_err(|(_, e)| RecorderError::Cpus(e))?;
            let values = PerCpuValues::try_from(vec![SyscallBitmap::EMPTY; cpus])
                .map_err(RecorderError::Cpus)?;
            self.map
                .insert(cgroup, values, 0)
                .map_err(|source| RecorderError::Map { cgroup, source })?;
            self.owner.insert(cgroup, name.to_string());
            if let Some(r) = self.running.get_mut(name) {
                r.cgroups.insert(cgroup);
            }
        }
        self.sync_filter()
    }

    /// Rewrites the kernel's pre-filter from the recorded cgroups. A bit shared with an
    /// unrecorded cgroup only costs that cgroup a hash lookup; both the bit and the hash entry
    /// are in place before `start` returns, which is when recording is promised to begin.
    fn sync_filter(&mut self) -> Result<(), RecorderError> {
        let mut words = [0u64; FILTER_WORDS];
        for cgroup in self.owner.keys() {
            let bit = cgroup % FILTER_BITS;
            words[(bit / 64) as usize] |= 1u64 << (bit % 64);
        }
        self.filter
            .set(0, words, 0)
            .map_err(|source| RecorderError::Map { cgroup: 0, source })
    }

    fn remove_cgroups(&mut self, name: &str) {
        let Some(r) = self.running.get(name) else {
            return;
        };
        for cgroup in r.cgroups.clone() {
            if let Err(e) = self.map.remove(&cgroup) {
                tracing::warn!(cgroup, "removing a cgroup from the recorder: {e}");
            }
            self.owner.remove(&cgroup);
        }
        if let Err(e) = self.sync_filter() {
            tracing::warn!("updating the recorder's filter: {e}");
        }
    }

    fn ensure_attached(&mut self) -> Result<(), RecorderError> {
        if self.link.is_none() {
            self.link = Some(raw_tracepoint_open("sys_enter", &self.program)?);
        }
        Ok(())
    }

    /// The bitmaps of a recording's cgroups, ORed over CPUs and cgroups, turned into names.
    fn snapshot(&self, name: &str) -> Recording {
        let Some(r) = self.running.get(name) else {
            return Recording::default();
        };
        let mut native = [0u64; SYSCALL_WORDS];
        let mut compat = [0u64; SYSCALL_WORDS];
        let mut out_of_range = 0;
        for cgroup in &r.cgroups {
            match self.map.get(cgroup, 0) {
                Ok(values) => {
                    for cpu in values.iter() {
                        for i in 0..SYSCALL_WORDS {
                            native[i] |= cpu.native[i];
                            compat[i] |= cpu.compat[i];
                        }
                        out_of_range += cpu.out_of_range;
                    }
                }
                Err(e) => tracing::warn!(cgroup, "reading the recorder's bitmap: {e}"),
            }
        }
        let mut recording = Recording {
            name: name.to_string(),
            out_of_range,
            processes: r.forks + u64::from(r.first_process),
            apparmor: r.apparmor.clone(),
            cgroups: r.cgroups.iter().copied().collect(),
            duration: r.started.elapsed(),
            ..Recording::default()
        };
        for (abi, words) in [(Abi::Native, &native), (Abi::Compat, &compat)] {
            for nr in set_bits(words) {
                match arch::syscall_name(abi, nr) {
                    Some(n) => {
                        if abi == Abi::Compat {
                            recording.compat_syscalls.insert(n.clone());
                        }
                        recording.syscalls.insert(n);
                    }
                    None => {
                        let abi = if abi == Abi::Native {
                            "native"
                        } else {
                            "compat"
                        };
                        recording.unnamed.insert(format!("{abi}:{nr}"));
                    }
                }
            }
        }
        recording
    }
}

fn set_bits(words: &[u64; SYSCALL_WORDS]) -> impl Iterator<Item = u32> + '_ {
    words.iter().enumerate().flat_map(|(i, &w)| {
        (0..64)
            .filter(move |b| w & (1u64 << b) != 0)
            .map(move |b| (i * 64 + b) as u32)
    })
}

/// BPF_RAW_TRACEPOINT_OPEN: attaches `program` and returns the link; closing it detaches.
/// Done here rather than through aya's program object, which the probe's owner holds: the
/// handle can attach and detach from any thread with its own copy of the program's fd.
fn raw_tracepoint_open(name: &str, program: &ProgramFd) -> Result<OwnedFd, RecorderError> {
    const BPF_RAW_TRACEPOINT_OPEN: libc::c_long = 17;
    let name = std::ffi::CString::new(name)
        .map_err(|e| RecorderError::Attach(std::io::Error::other(e)))?;
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
        return Err(RecorderError::Attach(std::io::Error::last_os_error()));
    }
    // SAFETY: the kernel returned a new fd that nothing else owns.
    Ok(unsafe { OwnedFd::from_raw_fd(fd as i32) })
}

#[cfg(test)]
mod tests {
    #[test]
    fn set_bits_in_order() {
        let mut words = [0u64; super::SYSCALL_WORDS];
        words[0] = 0b101;
        words[1] = 1;
        assert_eq!(super::set_bits(&words).collect::<Vec<_>>(), [0, 2, 64]);
    }
}
