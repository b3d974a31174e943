//! The process table: seeded from /proc once, then kept current from fork, exec and exit
//! events, so the hot path never rescans /proc.

use std::collections::HashMap;
use std::os::unix::ffi::OsStrExt;
use std::sync::Arc;

use crate::model::{Bytes, Event, EventKind};

use super::lru::LruMap;
use super::process::{bounded_lineage, Process, MAX_ANCESTRY};

/// The most processes the table holds. Past it the least recently used entry goes (a
/// process that made no syscall for longest; its next event reads /proc once again), so
/// neither missed exit events nor a flood of live processes grow the table without end, and
/// a flood evicts only what nobody used since. Sized from `cargo xtask bench` (`memory`):
/// about 500 bytes an entry with its strings, so a full table costs about 33 MiB of the
/// DaemonSet's memory limit (262,144 cost 131 MiB), while a node rarely runs more than a few
/// ten thousand processes (and many nodes' `pid_max` is 32,768).
pub const MAX_PROCESSES: usize = 1 << 16;

/// Pids remembered as gone, so events of a process that exited unseen do not each read /proc.
const MAX_GONE: usize = 4096;

pub struct ProcessTable {
    processes: LruMap<u32, Arc<Process>>,
    gone: LruMap<u32, ()>,
    /// The host's initial mount namespace ([`host_mnt_ns`]), for [`Process::exec_in_host_mnt_ns`];
    /// 0 where it cannot be read (then no process counts as exec'd on the host).
    host_mnt_ns: u64,
}

impl Default for ProcessTable {
    fn default() -> Self {
        Self::with_capacity(MAX_PROCESSES)
    }
}

impl ProcessTable {
    /// A table holding every process running now, each linked to its parent.
    pub fn from_proc() -> Self {
        let mut found: HashMap<u32, Process> = HashMap::new();
        if let Ok(entries) = std::fs::read_dir("/proc") {
            for entry in entries.flatten() {
                let pid = entry
                    .file_name()
                    .to_str()
                    .and_then(|s| s.parse::<u32>().ok());
                if let Some(process) = pid.and_then(read_proc) {
                    found.insert(process.pid, process);
                }
            }
        }
        let mut table = Self::default();
        let pids: Vec<u32> = found.keys().copied().collect();
        for pid in pids {
            table.link(pid, &mut found, 0);
        }
        table
    }

    /// An empty table of at most `capacity` processes.
    pub fn with_capacity(capacity: usize) -> Self {
        Self {
            processes: LruMap::new(capacity),
            gone: LruMap::new(MAX_GONE),
            host_mnt_ns: host_mnt_ns(),
        }
    }

    /// Moves `pid` from `found` into the table after its ancestors, so its parent link points
    /// at the parent's entry.
    fn link(
        &mut self,
        pid: u32,
        found: &mut HashMap<u32, Process>,
        depth: usize,
    ) -> Option<Arc<Process>> {
        if let Some(done) = self.processes.peek(&pid) {
            return Some(done.clone());
        }
        let mut process = found.remove(&pid)?;
        if depth < MAX_ANCESTRY && process.ppid != 0 && process.ppid != pid {
            process.parent = self.link(process.ppid, found, depth + 1);
        }
        let process = Arc::new(process);
        self.insert(process.clone());
        Some(process)
    }

    pub fn len(&self) -> usize {
        self.processes.len()
    }

    pub fn is_empty(&self) -> bool {
        self.processes.is_empty()
    }

    /// The process of `pid`, if known; a look that does not count as a use.
    pub fn get(&self, pid: u32) -> Option<&Arc<Process>> {
        self.processes.peek(&pid)
    }

    /// The most processes held.
    pub fn capacity(&self) -> usize {
        self.processes.capacity()
    }

    /// Processes dropped because the table was full.
    pub fn evicted(&self) -> u64 {
        self.processes.evicted()
    }

    /// The process of `pid` from memory. `None` for a process that started before the table
    /// knew of it: its pid goes to `unknown`, for the resolver to read from /proc (never
    /// here: a /proc/PID/cmdline read waits on the process's mmap_lock, which it can hold).
    fn get_known(&mut self, pid: u32, unknown: &mut Option<u32>) -> Option<Arc<Process>> {
        if let Some(p) = self.processes.get(&pid) {
            return Some(p.clone());
        }
        if !self.gone.contains(&pid) {
            *unknown = Some(pid);
        }
        None
    }

    /// True unless `pid` was read from /proc and found gone.
    pub fn may_exist(&self, pid: u32) -> bool {
        !self.gone.contains(&pid)
    }

    /// Keeps what the resolver read of `pid` from /proc, unless an event told the table
    /// about it meanwhile; `None`: the process is gone.
    pub fn learn(&mut self, pid: u32, process: Option<Process>) {
        if self.processes.contains(&pid) {
            return;
        }
        let Some(mut process) = process else {
            self.gone.insert(pid, ());
            return;
        };
        process.parent = bounded_lineage(self.processes.peek(&process.ppid).cloned());
        self.insert(Arc::new(process));
    }

    fn insert(&mut self, process: Arc<Process>) {
        // A pid the kernel hands out again is a new process.
        self.gone.remove(&process.pid);
        if self.processes.insert(process.pid, process).is_some() {
            let evicted = self.processes.evicted();
            // Once at the first eviction, then at every power of two: a flood is logged,
            // not logged per event.
            if evicted.is_power_of_two() {
                tracing::warn!(
                    limit = self.processes.capacity(),
                    evicted,
                    "process table full: dropping the least recently used processes"
                );
            }
        }
    }

    /// Applies the event to the table and attaches the process it concerns. Returns the pid
    /// of a process the table does not know, to be read from /proc by the resolver.
    pub fn enrich(&mut self, event: &mut Event) -> Option<u32> {
        let mut unknown = None;
        let pid = event.task.pid;
        match &event.kind {
            EventKind::Fork { child_pid } => {
                let child_pid = *child_pid;
                let parent = self.get_known(pid, &mut unknown);
                let mut child = match &parent {
                    Some(p) => Process {
                        parent: bounded_lineage(Some(p.clone())),
                        ..(**p).clone()
                    },
                    None => Process {
                        comm: event.comm().into(),
                        ..Process::default()
                    },
                };
                child.pid = child_pid;
                child.ppid = pid;
                self.insert(Arc::new(child));
                event.process = parent;
            }
            EventKind::Exit { .. } => {
                event.process = self.processes.remove(&pid);
            }
            EventKind::Syscall(_) => {
                if let (Some(exec), true) = (&event.exec, event.res == 0) {
                    let previous = self.processes.peek(&pid).cloned();
                    let parent = bounded_lineage(
                        previous
                            .as_ref()
                            .and_then(|p| p.parent.clone())
                            .or_else(|| self.processes.peek(&event.task.ppid).cloned()),
                    );
                    let (exe, args) = match exec.argv.split_first() {
                        Some((first, rest)) => (first.clone(), rest.to_vec()),
                        None => (Bytes::default(), Vec::new()),
                    };
                    let (exepath, exe_from_memfd) = match &exec.exe {
                        Some(exe) => (exe.path.clone(), exe.memfd),
                        None => {
                            let image = exec.image.clone().unwrap_or_else(|| exec.filename.clone());
                            resolve_fd_image(pid, image)
                        }
                    };
                    let exe_upper_layer = exec.exe.as_ref().is_some_and(|e| e.upper_layer);
                    let cwd = read_cwd(pid).or_else(|| previous.and_then(|p| p.cwd.clone()));
                    // The namespace the exec happened in: exec does not change it.
                    let exec_in_host_mnt_ns = (self.host_mnt_ns != 0
                        && event.task.mnt_ns as u64 == self.host_mnt_ns)
                        .then_some(self.host_mnt_ns);
                    let process = Arc::new(Process {
                        pid,
                        ppid: event.task.ppid,
                        comm: event.comm().into(),
                        exe,
                        exepath,
                        args,
                        exe_from_memfd,
                        exe_upper_layer,
                        exec_in_host_mnt_ns,
                        cwd,
                        parent,
                    });
                    self.insert(process.clone());
                    event.process = Some(process);
                } else {
                    event.process = self.get_known(pid, &mut unknown);
                }
            }
        }
        unknown
    }
}

/// Where the kernel side could not walk the image's path (a kernel without the offsets): an
/// exec through a file descriptor (`fexecve`, `execveat(fd, "", AT_EMPTY_PATH)`, or
/// `/proc/self/fd/N`) names the image `/dev/fd/N`, and what the fd was is read from the new
/// image's /proc entry, which shows `/memfd:NAME (deleted)` for a memory file (gone if the
/// process already exited).
fn resolve_fd_image(pid: u32, image: Bytes) -> (Bytes, bool) {
    let through_fd = image.starts_with(b"/dev/fd/")
        || (image.starts_with(b"/proc/") && image.windows(4).any(|w| w == b"/fd/"));
    if !through_fd {
        return (image, false);
    }
    match std::fs::read_link(format!("/proc/{pid}/exe")) {
        Ok(target) => {
            let target: Bytes = target.as_os_str().as_bytes().into();
            let memfd = target.starts_with(b"/memfd:");
            (target, memfd)
        }
        Err(_) => (image, false),
    }
}

fn read_cwd(pid: u32) -> Option<Bytes> {
    std::fs::read_link(format!("/proc/{pid}/cwd"))
        .ok()
        .map(|p| p.as_os_str().as_bytes().into())
}

/// The comm and the parent pid in the text of `/proc/PID/stat` (`pid (comm) state ppid ...`).
/// The process chose its comm (`prctl(PR_SET_NAME)`): it may hold `(`, `)` and blanks, so it
/// ends at the last `)`.
pub fn parse_stat(stat: &[u8]) -> Option<(Bytes, u32)> {
    let open = stat.iter().position(|&b| b == b'(')?;
    let close = stat.iter().rposition(|&b| b == b')')?;
    let comm: Bytes = stat.get(open + 1..close)?.into();
    let rest = std::str::from_utf8(stat.get(close + 2..)?).ok()?;
    let ppid = rest.split(' ').nth(1)?.parse().ok()?;
    Some((comm, ppid))
}

/// The text of `/proc/PID/cmdline` (NUL-terminated arguments) as argv[0] and the rest.
pub fn parse_cmdline(cmdline: &[u8]) -> (Bytes, Vec<Bytes>) {
    let mut argv: Vec<Bytes> = cmdline.split(|&b| b == 0).map(Bytes::from).collect();
    if cmdline.last() == Some(&0) {
        argv.pop();
    }
    match argv.split_first() {
        Some((first, rest)) => (first.clone(), rest.to_vec()),
        None => (Bytes::default(), Vec::new()),
    }
}

/// Reads one process from /proc; `None` if it is gone.
pub fn read_proc(pid: u32) -> Option<Process> {
    let stat = std::fs::read(format!("/proc/{pid}/stat")).ok()?;
    let (comm, ppid) = parse_stat(&stat)?;
    let cmdline = std::fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default();
    let (exe, args) = parse_cmdline(&cmdline);
    let exepath = std::fs::read_link(format!("/proc/{pid}/exe"))
        .map(|p| Bytes::from(p.as_os_str().as_bytes()))
        .unwrap_or_default();
    let exe_from_memfd = exepath.starts_with(b"/memfd:");
    let cwd = read_cwd(pid);
    Some(Process {
        pid,
        ppid,
        comm,
        exe,
        exepath,
        args,
        exe_from_memfd,
        exe_upper_layer: false,
        exec_in_host_mnt_ns: None,
        cwd,
        parent: None,
    })
}

/// The inode of the host's initial mount namespace (`mnt:[4026531840]`): kthreadd's (pid 2,
/// a kernel thread, which has the initial namespaces; readable where pid 1's links are not,
/// as on machines whose init is another user's), else pid 1's. Without the host's pid
/// namespace neither is the host's, and 0 or the sensor's own container's namespace comes
/// back, in which no runtime execs: nothing is then taken for a runtime's setup.
fn host_mnt_ns() -> u64 {
    let kthreadd = std::fs::read("/proc/2/comm").is_ok_and(|comm| comm == b"kthreadd\n");
    let pids: &[u32] = if kthreadd { &[2, 1] } else { &[1] };
    pids.iter()
        .find_map(|pid| {
            let link = std::fs::read_link(format!("/proc/{pid}/ns/mnt")).ok()?;
            let link = link.to_str()?.to_owned();
            link.strip_prefix("mnt:[")?.strip_suffix(']')?.parse().ok()
        })
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::probe::decode::{encode, header, Decoder};
    use sensor_common::RecordKind;

    /// Pids above the kernel's largest `pid_max`: no /proc entry can answer for them.
    const P: u32 = 5_000_000;

    fn fork(table: &mut ProcessTable, decoder: &mut Decoder, parent: u32, child: u32) {
        let mut h = header(RecordKind::Fork, parent, 1);
        h.args[0] = child as u64;
        let mut event = decoder.decode(&encode(h, &[])).expect("a fork event");
        table.enrich(&mut event);
    }

    #[test]
    fn a_full_table_drops_the_least_recently_used_process() {
        let mut table = ProcessTable::with_capacity(4);
        let mut decoder = Decoder::new();
        let [a, b, c, d, a1] = [P + 1, P + 2, P + 3, P + 4, P + 5];
        for child in [a, b, c, d] {
            fork(&mut table, &mut decoder, P, child);
        }
        assert_eq!(table.len(), 4);
        // `a` acts (forks): it is now more recent than `b`, which goes for `a1`.
        fork(&mut table, &mut decoder, a, a1);
        assert_eq!(table.len(), 4);
        assert_eq!(table.evicted(), 1);
        assert!(table.get(b).is_none(), "the least recently used is dropped");
        for pid in [a, c, d, a1] {
            assert!(table.get(pid).is_some(), "{pid} kept");
        }
        assert_eq!(
            table.get(a1).and_then(|p| p.ancestor(1)).map(|p| p.pid),
            Some(a)
        );
    }

    #[test]
    fn seeds_this_process_from_proc_with_its_lineage() {
        let table = ProcessTable::from_proc();
        let me = table.get(std::process::id()).expect("own process in table");
        assert_eq!(me.ppid, std::os::unix::process::parent_id());
        assert!(!me.exepath.is_empty());
        let parent = me.ancestor(1).expect("parent linked");
        assert_eq!(parent.pid, me.ppid);
        // Every chain ends at a process without a known parent (init or a kernel thread's).
        assert!(me.ancestors().count() < crate::model::process::MAX_ANCESTRY);
    }
}
