//! Who did it: the process table, the container from the cgroup, the pod, user and group
//! names.
//!
//! The capture thread only reads what is in memory here. Whatever has to be read from
//! files, /proc or cgroupfs is asked of a [`resolver`] (threads that may block without
//! stalling anyone), and an event that lacks the answer, or whose container's pod is not in
//! the pod cache yet, waits in the [`event_cache`] until it comes or a deadline passes; the
//! events of other processes flow on, those of the same process queue behind it.

pub mod container;
pub mod event_cache;
pub mod fd;
pub mod host_names;
pub mod lru;
pub mod pods;
pub mod process_table;
pub mod resolver;
pub mod root_files;
pub mod runtime_state;
pub mod users;

pub use process_table::ProcessTable;

/// Transitional: the process moved to `crate::model::process`; this keeps code written
/// against the old path (other branches in flight) compiling.
pub use crate::model::process;

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::model::syscalls::ArgType;
use crate::model::Event;
use sensor_common::syscall::SpecKind;

use container::{CgroupQuestion, Container};
use event_cache::{EventCache, EventCacheStats, Verdict};
use process::Process;
use resolver::{Resolver, ResolverStats};
use users::{Names, NamesQuestion};

/// After a fruitless wait for its pod, a container is not waited for again for this long
/// (a container that never gets a pod costs one wait, not one per event).
const POD_WAIT_AGAIN_AFTER: Duration = Duration::from_secs(30);
/// Containers whose pod wait is remembered at most.
const MAX_POD_WAITS: usize = 16_384;
/// How often held events are looked at while nothing changes (for their deadlines).
const SCAN_INTERVAL: Duration = Duration::from_millis(20);
/// At most this often when answers keep arriving (pod churn).
const MIN_SCAN_INTERVAL: Duration = Duration::from_millis(2);

/// How long events may wait, and how many.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct EnrichOptions {
    /// How long events of a container whose pod is not in the (listed) pod cache wait for
    /// it: kubelet publishes a container's id in its pod's status seconds after it started.
    pub pod_wait: Duration,
    /// How long events wait for a resolver (user names, the container of a new cgroup, a
    /// process read from /proc). Only a stuck read takes this long.
    pub resolve_wait: Duration,
    pub max_held_events: usize,
    pub max_held_bytes: usize,
}

impl Default for EnrichOptions {
    fn default() -> Self {
        Self {
            pod_wait: Duration::from_secs(5),
            resolve_wait: Duration::from_secs(1),
            max_held_events: event_cache::MAX_EVENTS,
            max_held_bytes: event_cache::MAX_BYTES,
        }
    }
}

/// Counters of the enrich stage, for metrics and the summary.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct EnrichStats {
    pub held: EventCacheStats,
    /// Events released at their deadline without their container's pod.
    pub pod_wait_expired: u64,
    /// Resolver requests refused (queues full: workers stuck or slow), all resolvers.
    pub resolver_refused: u64,
    /// Resolver requests being worked on now (a lasting figure is a stuck read).
    pub resolver_in_flight: usize,
}

/// A container's wait for its pod.
#[derive(Clone, Copy, Debug)]
enum PodWait {
    Until(Instant),
    GaveUp(Instant),
}

/// An event waiting in the cache.
struct Pending {
    event: Event,
    /// Until when it waits for a resolver's answer.
    resolve_deadline: Instant,
}

/// Whether an event still lacks something, and until when it may wait for it.
enum Missing {
    Nothing,
    Until(Instant),
    /// Missing, but past its deadline.
    Late,
}

impl Missing {
    fn and(self, other: Missing) -> Missing {
        match (self, other) {
            (Missing::Until(a), Missing::Until(b)) => Missing::Until(a.max(b)),
            (Missing::Until(a), _) | (_, Missing::Until(a)) => Missing::Until(a),
            (Missing::Late, _) | (_, Missing::Late) => Missing::Late,
            _ => Missing::Nothing,
        }
    }
}

/// What is known, in memory, and the resolvers that learn the rest.
struct Knowledge {
    processes: ProcessTable,
    containers: container::ContainerCache,
    names: users::UserNames,
    pods: pods::PodCache,
    pod_waits: HashMap<Arc<str>, PodWait>,
    /// The pod found for each cgroup, valid while the cache's generation stays the same: one
    /// integer-keyed lookup per event instead of the cache's lock and string hash.
    pod_by_cgroup: HashMap<u64, (u64, Arc<pods::PodInfo>)>,
    cgroups: Resolver<CgroupQuestion, (CgroupQuestion, Option<Option<Container>>)>,
    roots: Resolver<NamesQuestion, (NamesQuestion, Option<Names>)>,
    procs: Resolver<u32, Option<Process>>,
    options: EnrichOptions,
    pod_wait_expired: u64,
}

/// The enrich stage: everything the agent knows about the actor, attached to each event.
pub struct Enricher {
    know: Knowledge,
    held: EventCache<Pending>,
    generation: u64,
    changed: bool,
    last_scan: Instant,
    /// The rules' host names by address, for a socket event's ends.
    host_names: Option<Arc<host_names::HostNames>>,
}

impl Enricher {
    /// Seeds the process table from /proc: call after the programs are attached, so that no
    /// process can start in between unseen. Host mode: no pod metadata.
    pub fn new() -> Self {
        Self::with_pods(pods::PodCache::host())
    }

    /// As [`Enricher::new`], with the node's pod cache.
    pub fn with_pods(pods: pods::PodCache) -> Self {
        Self::with_options(pods, EnrichOptions::default())
    }

    pub fn with_options(pods: pods::PodCache, options: EnrichOptions) -> Self {
        let mount = container::cgroup2_mount();
        let containers = container::ContainerCache::new(mount.is_some());
        let cgroups = Resolver::new(
            "cgroup",
            |q: &CgroupQuestion| q.key(),
            move |q: CgroupQuestion| (q, container::resolve(q, mount.as_deref())),
        );
        let roots = Resolver::new(
            "names",
            |q: &NamesQuestion| q.mnt_ns as u64,
            |q: NamesQuestion| {
                let names = users::resolve(&q);
                (q, names)
            },
        );
        let procs = Resolver::new("proc", |pid: &u32| *pid as u64, process_table::read_proc);
        Self {
            know: Knowledge {
                processes: ProcessTable::from_proc(),
                containers,
                names: users::UserNames::new(),
                pods,
                pod_waits: HashMap::new(),
                pod_by_cgroup: HashMap::new(),
                cgroups,
                roots,
                procs,
                options,
                pod_wait_expired: 0,
            },
            held: EventCache::new(options.max_held_events, options.max_held_bytes),
            generation: 0,
            changed: false,
            last_scan: Instant::now(),
            host_names: None,
        }
    }

    /// Names socket events' ends with the host names `names` resolved (`fd.sip.name`...).
    pub fn set_host_names(&mut self, names: Arc<host_names::HostNames>) {
        self.host_names = Some(names);
    }

    pub fn pods(&self) -> &pods::PodCache {
        &self.know.pods
    }

    pub fn processes(&self) -> &ProcessTable {
        &self.know.processes
    }

    pub fn stats(&self) -> EnrichStats {
        let r: [ResolverStats; 3] = [
            self.know.cgroups.stats(),
            self.know.roots.stats(),
            self.know.procs.stats(),
        ];
        EnrichStats {
            held: self.held.stats(),
            pod_wait_expired: self.know.pod_wait_expired,
            resolver_refused: r.iter().map(|s| s.refused).sum(),
            resolver_in_flight: r.iter().map(|s| s.in_flight).sum(),
        }
    }

    /// Enriches `event` from memory and hands it to `out`, or holds it if its pod or names
    /// are not known yet or an earlier event of its process is held (see the module's
    /// doc); a full cache hands its oldest events to `out` as they are.
    pub fn admit(&mut self, mut event: Event, out: &mut impl FnMut(Event)) {
        let now = Instant::now();
        let know = &mut self.know;
        if let Some(pid) = know.processes.enrich(&mut event) {
            know.procs.ask(pid);
        }
        let t = &event.task;
        if let crate::event::EventKind::Exit { .. } = event.kind {
            know.containers.forget_process(t.pid);
        }
        if event
            .syscall()
            .is_some_and(|s| s.family == crate::model::syscalls::Family::Mount && event.res >= 0)
        {
            know.names.forget(t.mnt_ns);
        }
        if let (Some(names), Some(socket)) = (&self.host_names, event.socket.as_mut()) {
            socket.local_names = socket.local.and_then(|e| names.names_of(e.ip));
            socket.remote_names = socket.remote.and_then(|e| names.names_of(e.ip));
        }
        // Read now, while the fd is open. A readlink of /proc/PID/fd/N takes no lock the
        // process can hold (the path is the kernel's d_path, no filesystem is asked).
        if let Some(def) = event.syscall() {
            if event.fd_path.is_some() {
                // From the kernel side: an open's or a dup's file, a socket call's ends.
            } else if let Some(arg) = def.args.iter().find(|a| a.ty == ArgType::Fd) {
                let fd_number = event.raw_args[arg.index as usize] as u32 as i32 as i64;
                event.fd_path = fd::resolve(event.task.pid, fd_number);
            } else if def.kind == SpecKind::Open {
                // An open that opened nothing: what it asked for, made absolute.
                let dirfd = def.arg("dirfd").map_or(-100, |a| {
                    event.raw_args[a.index as usize] as u32 as i32 as i64
                });
                let cwd = event.process.as_ref().and_then(|p| p.cwd.clone());
                event.fd_path =
                    fd::requested_path(event.task.pid, dirfd, &event.strings[0], cwd.as_deref());
            }
        }
        let pid = event.task.pid;
        let mut pending = Pending {
            event,
            resolve_deadline: now + know.options.resolve_wait,
        };
        let verdict = know.verdict(&mut pending, now);
        if verdict == Verdict::Wait || self.held.holds(pid) {
            let bytes = estimated_bytes(&pending.event);
            self.held
                .hold(pending, pid, bytes, |evicted| out(evicted.event));
        } else {
            out(pending.event);
        }
    }

    /// Takes the resolvers' answers and hands on the held events that can go now (their
    /// answer came, or their deadline passed). Never blocks; call after each batch.
    pub fn release(&mut self, out: &mut impl FnMut(Event)) {
        self.changed |= self.know.take_answers();
        let generation = self.know.pods.generation();
        if generation != self.generation {
            self.generation = generation;
            self.changed = true;
        }
        if self.held.is_empty() {
            self.changed = false;
            return;
        }
        let now = Instant::now();
        let since = now.saturating_duration_since(self.last_scan);
        if since < SCAN_INTERVAL && !(self.changed && since >= MIN_SCAN_INTERVAL) {
            return;
        }
        self.last_scan = now;
        self.changed = false;
        let know = &mut self.know;
        self.held
            .release(|p| know.verdict(p, now), |p| out(p.event));
    }

    /// Hands on every held event as it is, in order (at shutdown).
    pub fn release_all(&mut self, out: &mut impl FnMut(Event)) {
        self.know.take_answers();
        let now = Instant::now();
        let know = &mut self.know;
        self.held.release(
            |p| match know.verdict(p, now) {
                Verdict::Wait => Verdict::Expired,
                v => v,
            },
            |p| out(p.event),
        );
        self.held.drain(|p| out(p.event));
    }

    /// The number of events held now.
    pub fn held(&self) -> usize {
        self.held.len()
    }

    /// Enriches one event and waits (up to its deadlines) for what it lacks: for tools and
    /// benchmarks that handle events one by one, not for the capture thread.
    pub fn enrich_blocking(&mut self, event: Event) -> Event {
        let mut got = None;
        let pid = event.task.pid;
        self.admit(event, &mut |e| {
            if e.task.pid == pid {
                got = Some(e)
            }
        });
        loop {
            if let Some(e) = got.take() {
                return e;
            }
            self.last_scan = Instant::now() - SCAN_INTERVAL;
            self.release(&mut |e| {
                if e.task.pid == pid {
                    got = Some(e)
                }
            });
            if got.is_none() {
                std::thread::sleep(Duration::from_millis(1));
            }
        }
    }
}

/// About how much memory a held event takes.
fn estimated_bytes(event: &Event) -> usize {
    std::mem::size_of::<Event>()
        + event.strings.iter().map(|s| s.len()).sum::<usize>()
        + event.fd_path.as_ref().map_or(0, |p| p.len())
        + event.exec.as_ref().map_or(0, |e| {
            std::mem::size_of::<crate::event::ExecDetails>()
                + e.filename.len()
                + e.argv.iter().map(|a| a.len() + 16).sum::<usize>()
                + e.image.as_ref().map_or(0, |i| i.len())
        })
}

impl Knowledge {
    /// Applies what the resolvers answered; true if anything came.
    fn take_answers(&mut self) -> bool {
        let mut any = false;
        for (_, (q, answer)) in self.cgroups.answers() {
            any = true;
            // No answer: the cgroup is gone (its id is never used again), so no container.
            self.containers.learn(q, answer.flatten());
        }
        for (_, (q, answer)) in self.roots.answers() {
            any = true;
            let kept = match answer {
                Some(names) => self.names.learn(&q, names),
                None => self.names.learn_unknown(&q),
            };
            if !kept {
                // The namespace mounted something (over /etc/passwd, perhaps: a container's
                // runtime sets its root up after the first event in it) while the question
                // was out: ask again, through the same process, for what it sees now.
                self.roots.ask(self.names.question(q.pid, q.mnt_ns));
            }
        }
        for (pid, answer) in self.procs.answers() {
            any = true;
            self.processes.learn(pid as u32, answer);
        }
        any
    }

    /// Fills in what is known now of `p`'s event, asks for what is not, and says whether it
    /// may go.
    fn verdict(&mut self, p: &mut Pending, now: Instant) -> Verdict {
        let resolving = if now < p.resolve_deadline {
            Missing::Until(p.resolve_deadline)
        } else {
            Missing::Late
        };
        let e = &mut p.event;
        let t = e.task;
        let mut missing = Missing::Nothing;

        if e.process.is_none() && !matches!(e.kind, crate::event::EventKind::Exit { .. }) {
            e.process = self.processes.get(t.pid).cloned();
            if e.process.is_none() && self.processes.may_exist(t.pid) {
                if !self.procs.is_pending(t.pid as u64) {
                    self.procs.ask(t.pid);
                }
                missing = missing.and(resolving_or_refused(&self.procs, t.pid as u64, &resolving));
            }
        }

        if e.container.is_none() {
            match self.containers.known(t.cgroup_id, t.pid) {
                Some(c) => e.container = c,
                None => {
                    let q = CgroupQuestion {
                        cgroup_id: t.cgroup_id,
                        pid: t.pid,
                    };
                    if !self.cgroups.is_pending(q.key()) {
                        self.cgroups.ask(q);
                    }
                    missing = missing.and(resolving_or_refused(&self.cgroups, q.key(), &resolving));
                }
            }
        }
        if e.pod.is_none() {
            if let Some(c) = e.container.clone() {
                missing = missing.and(self.pod(e, &c, now));
            }
        }

        if e.user_name.is_none() && e.group_name.is_none() {
            match self.names.cached(t.mnt_ns) {
                Some((names, stale)) => {
                    if stale {
                        // Served as they are meanwhile: nothing waits for a re-read.
                        self.roots.ask(self.names.question(t.pid, t.mnt_ns));
                    }
                    e.user_name = names.user(t.creds.euid);
                    e.group_name = names.group(t.creds.egid);
                    if t.loginuid != u32::MAX {
                        e.login_name = names.user(t.loginuid);
                    }
                }
                None => {
                    if !self.roots.is_pending(t.mnt_ns as u64) {
                        self.roots.ask(self.names.question(t.pid, t.mnt_ns));
                    }
                    missing = missing.and(resolving_or_refused(
                        &self.roots,
                        t.mnt_ns as u64,
                        &resolving,
                    ));
                }
            }
        }

        match missing {
            Missing::Nothing => Verdict::Ready,
            Missing::Until(_) => Verdict::Wait,
            Missing::Late => Verdict::Expired,
        }
    }

    /// Sets the pod of `e` (in container `c`) if the cache has it; else whether to wait.
    fn pod(&mut self, e: &mut Event, c: &Container, now: Instant) -> Missing {
        let generation = self.pods.generation();
        let cgroup_id = e.task.cgroup_id;
        if let Some((g, pod)) = self.pod_by_cgroup.get(&cgroup_id) {
            if *g == generation {
                e.pod = Some(pod.clone());
                return Missing::Nothing;
            }
        }
        if let Some(pod) = self.pods.lookup(&c.full_id) {
            if self.pod_by_cgroup.len() >= 65_536 {
                self.pod_by_cgroup.clear();
            }
            self.pod_by_cgroup
                .insert(cgroup_id, (generation, pod.clone()));
            e.pod = Some(pod);
            return Missing::Nothing;
        }
        // A listed cache (or one still making its first list) should have the pod soon; one
        // that lost its API server will not.
        if self.pods.is_host_mode() || (self.pods.has_listed() && !self.pods.is_synced()) {
            return Missing::Nothing;
        }
        let key: Arc<str> = c.full_id.as_str().into();
        match self.pod_waits.get(&key).copied() {
            Some(PodWait::Until(deadline)) if now < deadline => Missing::Until(deadline),
            Some(PodWait::Until(_)) => {
                self.pod_waits
                    .insert(key, PodWait::GaveUp(now + POD_WAIT_AGAIN_AFTER));
                self.pod_wait_expired += 1;
                Missing::Late
            }
            Some(PodWait::GaveUp(until)) if now < until => Missing::Nothing,
            _ => {
                if self.pod_waits.len() >= MAX_POD_WAITS {
                    self.pod_waits
                        .retain(|_, w| matches!(w, PodWait::Until(d) if *d > now));
                    if self.pod_waits.len() >= MAX_POD_WAITS {
                        self.pod_waits.clear();
                    }
                }
                let deadline = now + self.options.pod_wait;
                self.pod_waits.insert(key, PodWait::Until(deadline));
                if self.options.pod_wait.is_zero() {
                    Missing::Nothing
                } else {
                    Missing::Until(deadline)
                }
            }
        }
    }
}

/// Waiting for resolver key `key` until the resolve deadline, or not at all if the request
/// was refused (its queue is full).
fn resolving_or_refused<R: Send + 'static, A: Send + 'static>(
    r: &Resolver<R, A>,
    key: u64,
    resolving: &Missing,
) -> Missing {
    if !r.is_pending(key) {
        return Missing::Nothing;
    }
    match resolving {
        Missing::Until(d) => Missing::Until(*d),
        _ => Missing::Late,
    }
}

impl Default for Enricher {
    fn default() -> Self {
        Self::new()
    }
}
