//! Control of the kernel's syscall recorder, shared between the thread that owns the probe and
//! whoever starts and stops recordings (the `sensor record` command, the gRPC API).
//!
//! The recorder programs are loaded with the other programs but attached only while a
//! recording runs, so a sensor that records nothing adds nothing to any syscall. A recording's
//! start attaches one program per syscall tracepoint (`recorder_links`); a pruning thread then
//! detaches each syscall's as soon as every running recording has made it, so the cost to the
//! rest of the machine shrinks to the syscalls the recorded workloads have not made yet.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, Weak};
use std::time::{Duration, Instant};

use aya::maps::{Array, MapData, PerCpuHashMap, PerCpuValues};
use sensor_common::recorder::{FILTER_BITS, FILTER_WORDS, MAX_RECORDED_CGROUPS, SYSCALL_WORDS};
use sensor_common::SyscallBitmap;

use super::arch::{self, Abi};
use super::recorder_links::{RecorderLinks, RecorderPrograms, RecorderStrategy};
use super::recording::{AppArmorObservations, Recording};
use crate::model::{Event, EventKind};
use crate::probe::recorder_maps::RecorderMaps;

/// How soon after a recording first makes a syscall its tracepoint is detached, while
/// recordings are warming up; the pruner backs off to [`PRUNE_INTERVAL_MAX`] while nothing
/// changes.
const PRUNE_INTERVAL_MIN: Duration = Duration::from_millis(10);
const PRUNE_INTERVAL_MAX: Duration = Duration::from_secs(1);

#[derive(Debug, thiserror::Error)]
pub enum RecorderError {
    #[error(transparent)]
    InvalidName(#[from] super::name::NameError),
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
    #[error("updating the recorder's {map} map: {source}")]
    MapUpdate {
        map: &'static str,
        #[source]
        source: aya::maps::MapError,
    },
    #[error("cannot count this machine's CPUs (/sys/devices/system/cpu/possible): {0}")]
    Cpus(#[source] std::io::Error),
    #[error("attaching the syscall recorder to raw_syscalls:sys_enter failed: {0}")]
    Attach(#[source] std::io::Error),
    #[error("attaching the syscall recorder to {tracepoint} failed: {source}")]
    AttachTracepoint {
        tracepoint: String,
        #[source]
        source: std::io::Error,
    },
    #[error("reading the syscall tracepoints from tracefs ({path}): {source}")]
    Tracefs {
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error("this kernel has {0} syscall tracepoints, more than the recorder's 1024")]
    TooManyTracepoints(usize),
}

/// How a recording records.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct RecordOptions {
    /// Record 32-bit compat (and x32) syscalls too. Off by default because it costs every
    /// process on the machine: the per-syscall tracepoints skip 32-bit syscalls, and only the
    /// `sys_enter` raw tracepoint, which runs on every syscall, sees them. A recording without
    /// it still counts the 32-bit processes that ran (`Recording::unrecorded_compat_processes`).
    /// With [`RecorderStrategy::RawTracepoint`] 32-bit syscalls are always recorded.
    pub compat: bool,
}

/// A cloneable, thread-safe handle on the recorder. See the module documentation.
#[derive(Clone)]
pub struct Recordings {
    inner: Arc<Mutex<Inner>>,
    /// Wakes the pruning thread early (with `inner`'s lock): a recording started or stopped.
    wake: Arc<Condvar>,
    /// Whether any recording is active: `observe`'s fast path, read without the lock.
    active: Arc<AtomicBool>,
    /// Told when the first recording starts (`true`) and the last one stops (`false`), with
    /// no lock held: `sensor run` traces the families recordings read only meanwhile.
    on_active: Arc<Mutex<Option<ActiveHook>>>,
}

struct Inner {
    map: PerCpuHashMap<MapData, u64, SyscallBitmap>,
    filter: Array<MapData, [u64; FILTER_WORDS]>,
    links: RecorderLinks,
    running: BTreeMap<String, Running>,
    /// cgroup id -> the recording it belongs to.
    owner: HashMap<u64, String>,
    /// Whether the pruning thread is alive, and how long it sleeps next.
    pruner: bool,
    prune_interval: Duration,
}

struct Running {
    options: RecordOptions,
    cgroups: BTreeSet<u64>,
    started: Instant,
    apparmor: AppArmorObservations,
    /// Processes seen starting in the recorded cgroups.
    forks: u64,
    /// Whether the first process is counted (`sensor record` starts it in the cgroup).
    first_process: bool,
}

/// What `Recordings::on_active_change` calls.
pub type ActiveHook = Arc<dyn Fn(bool) + Send + Sync>;

/// A snapshot of a running recording (`get`).
#[derive(Clone, Debug)]
pub struct RecordingStatus {
    pub name: String,
    pub cgroups: Vec<u64>,
    /// The recording so far: syscalls and observations up to now.
    pub recording: Recording,
}

impl Recordings {
    /// Takes charge of the loaded (not attached) recorder programs and their maps
    /// (`Probe::take_recorder`).
    pub fn new(maps: RecorderMaps) -> Self {
        let programs = RecorderPrograms {
            per_syscall: maps.per_syscall,
            raw: maps.raw,
            raw_mode: maps.raw_mode,
        };
        Self {
            inner: Arc::new(Mutex::new(Inner {
                map: maps.recordings,
                filter: maps.filter,
                links: RecorderLinks::new(programs),
                running: BTreeMap::new(),
                owner: HashMap::new(),
                pruner: false,
                prune_interval: PRUNE_INTERVAL_MIN,
            })),
            wake: Arc::new(Condvar::new()),
            active: Arc::new(AtomicBool::new(false)),
            on_active: Arc::default(),
        }
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        // A panic while holding the lock leaves plain data behind, still usable.
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Starts recording every task in `cgroups` (cgroup v2 ids) under `name`. The cgroups'
    /// syscalls are recorded from the moment this returns.
    pub fn start(
        &self,
        name: &str,
        cgroups: &[u64],
        options: RecordOptions,
    ) -> Result<(), RecorderError> {
        super::name::validate(name)?;
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
                options,
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
        if let Err(e) = inner.attach() {
            inner.remove_cgroups(name);
            inner.running.remove(name);
            inner.after_stop();
            return Err(e);
        }
        inner.prune_interval = PRUNE_INTERVAL_MIN;
        if !inner.pruner && inner.links.per_syscall() {
            inner.pruner = true;
            let weak = Arc::downgrade(&self.inner);
            let wake = self.wake.clone();
            let spawned = std::thread::Builder::new()
                .name("recorder-prune".into())
                .spawn(move || prune_loop(weak, &wake));
            if let Err(e) = spawned {
                // Recording still works; every tracepoint just stays attached until it ends.
                tracing::warn!("cannot start the recorder's pruning thread: {e}");
                inner.pruner = false;
            }
        }
        self.wake.notify_all();
        let first = !self.active.swap(true, Ordering::AcqRel);
        tracing::info!(
            recording = name,
            ?cgroups,
            compat = options.compat,
            tracepoints = inner.links.attached_tracepoints(),
            "recording started"
        );
        drop(inner);
        if first {
            self.tell_active();
        }
        Ok(())
    }

    /// Calls `hook` when the first recording starts (with `true`, before `start` returns)
    /// and when the last one stops (`false`).
    pub fn on_active_change(&self, hook: ActiveHook) {
        *self
            .on_active
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = Some(hook);
    }

    /// Tells the hook whether recordings are active now: read at the call, so that of a
    /// start and a stop racing, the later call says what holds.
    fn tell_active(&self) {
        let hook = self
            .on_active
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone();
        if let Some(hook) = hook {
            hook(self.active.load(Ordering::Acquire));
        }
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
        inner.after_stop();
        self.wake.notify_all();
        let last = inner.running.is_empty();
        if last {
            self.active.store(false, Ordering::Release);
        }
        tracing::info!(
            recording = name,
            syscalls = recording.syscalls.len(),
            paths = recording.apparmor.paths(),
            paths_not_kept = recording.apparmor.dropped,
            "recording stopped"
        );
        drop(inner);
        if last {
            self.tell_active();
        }
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

    /// Whether any recorder program is attached to the kernel (some recording is active).
    pub fn is_attached(&self) -> bool {
        let inner = self.lock();
        inner.links.attached_tracepoints() > 0 || inner.links.raw_attached()
    }

    /// How many syscall tracepoints the recorder is attached to now: every one at a
    /// recording's start, fewer as the running recordings make their syscalls.
    pub fn attached_tracepoints(&self) -> usize {
        self.lock().links.attached_tracepoints()
    }

    /// How many perf events and unlinked links on syscall tracepoints the recorder still
    /// holds: all the perf events while recordings run; closed in the background as programs
    /// are unlinked and after the last recording stops.
    pub fn kernel_handles(&self) -> usize {
        self.lock().links.kernel_handles()
    }

    /// Chooses how native syscalls are recorded; only while nothing is recorded.
    pub fn set_strategy(&self, strategy: RecorderStrategy) -> Result<(), RecorderError> {
        let mut inner = self.lock();
        if !inner.running.is_empty() {
            let names: Vec<String> = inner.running.keys().cloned().collect();
            return Err(RecorderError::AlreadyRecording(names.join(", ")));
        }
        inner.links.set_strategy(strategy);
        Ok(())
    }

    /// Whether the `sys_enter` raw tracepoint (which every syscall pays for) is attached: for
    /// compat recordings, the raw strategy, or kernels without the per-syscall program.
    pub fn raw_attached(&self) -> bool {
        self.lock().links.raw_attached()
    }

    /// Detaches now the tracepoints of the syscalls every running recording has made, as the
    /// pruning thread does on its own every 10 ms to 1 s. Returns how many it detached.
    pub fn prune(&self) -> usize {
        self.lock().prune()
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
        let dropped = running.apparmor.dropped;
        running.apparmor.observe(event);
        if dropped == 0 && running.apparmor.dropped > 0 {
            tracing::warn!(
                recording = name,
                paths = running.apparmor.paths(),
                limit = super::recording::MAX_OBSERVED_PATHS,
                bytes_limit = super::recording::MAX_OBSERVED_BYTES,
                "recording reached its bound of observed paths: further executables, mounts \
                 and chmod targets are counted, not kept, and the profile will lack them"
            );
        }
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
            .map_err(|source| RecorderError::MapUpdate {
                map: "RECORD_FILTER",
                source,
            })
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

    /// Attaches what the running recordings need: every syscall tracepoint (a new recording
    /// has made no syscall yet), and the raw tracepoint if one of them records compat.
    fn attach(&mut self) -> Result<(), RecorderError> {
        let compat = self.running.values().any(|r| r.options.compat);
        self.links.attach_all()?;
        self.links.set_raw(true, compat)
    }

    /// After a recording ended: everything detached if it was the last, else the raw
    /// tracepoint only if a remaining recording still wants it (and the pruner looks again
    /// soon: what only the stopped recording lacked can go).
    fn after_stop(&mut self) {
        if self.running.is_empty() {
            self.links.detach_all();
            return;
        }
        let compat = self.running.values().any(|r| r.options.compat);
        if let Err(e) = self.links.set_raw(true, compat) {
            tracing::warn!("updating the compat recorder: {e}");
        }
        self.prune_interval = PRUNE_INTERVAL_MIN;
    }

    /// Detaches the tracepoints of the syscalls every running recording has made.
    fn prune(&mut self) -> usize {
        if self.running.is_empty() {
            return 0;
        }
        let mut seen_by_all = [u64::MAX; SYSCALL_WORDS];
        for r in self.running.values() {
            let seen = self.bitmap(r).native;
            for (all, word) in seen_by_all.iter_mut().zip(seen) {
                *all &= word;
            }
        }
        let detached = self.links.prune(&seen_by_all);
        if detached > 0 {
            tracing::debug!(
                detached,
                attached = self.links.attached_tracepoints(),
                "recorder: detached the tracepoints of syscalls every recording has made"
            );
        }
        detached
    }

    /// A recording's bitmaps, ORed over its cgroups and the CPUs.
    fn bitmap(&self, r: &Running) -> SyscallBitmap {
        let mut all = SyscallBitmap::EMPTY;
        for cgroup in &r.cgroups {
            match self.map.get(cgroup, 0) {
                Ok(values) => {
                    for cpu in values.iter() {
                        for i in 0..SYSCALL_WORDS {
                            all.native[i] |= cpu.native[i];
                            all.compat[i] |= cpu.compat[i];
                        }
                        all.out_of_range += cpu.out_of_range;
                        all.unrecorded_compat_execs += cpu.unrecorded_compat_execs;
                    }
                }
                Err(e) => tracing::warn!(cgroup, "reading the recorder's bitmap: {e}"),
            }
        }
        all
    }

    /// The bitmaps of a recording's cgroups, ORed over CPUs and cgroups, turned into names.
    fn snapshot(&self, name: &str) -> Recording {
        let Some(r) = self.running.get(name) else {
            return Recording::default();
        };
        let SyscallBitmap {
            native,
            compat,
            out_of_range,
            unrecorded_compat_execs,
        } = self.bitmap(r);
        let mut recording = Recording {
            name: name.to_string(),
            out_of_range,
            unrecorded_compat_processes: unrecorded_compat_execs,
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

/// The pruning thread: runs while recordings do, and while a handle lives.
fn prune_loop(inner: Weak<Mutex<Inner>>, wake: &Condvar) {
    loop {
        // Upgraded for one wait at a time, so that dropping every handle ends the thread.
        let Some(inner) = inner.upgrade() else { return };
        let guard = inner.lock().unwrap_or_else(|e| e.into_inner());
        let interval = guard.prune_interval;
        let (mut guard, _) = wake
            .wait_timeout(guard, interval)
            .unwrap_or_else(|e| e.into_inner());
        if guard.running.is_empty() {
            guard.pruner = false;
            return;
        }
        // Quick while recordings make new syscalls; backing off while they do not.
        guard.prune_interval = if guard.prune() > 0 {
            PRUNE_INTERVAL_MIN
        } else {
            (guard.prune_interval * 2).min(PRUNE_INTERVAL_MAX)
        };
    }
}

fn set_bits(words: &[u64; SYSCALL_WORDS]) -> impl Iterator<Item = u32> + '_ {
    words.iter().enumerate().flat_map(|(i, &w)| {
        (0..64)
            .filter(move |b| w & (1u64 << b) != 0)
            .map(move |b| (i * 64 + b) as u32)
    })
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
