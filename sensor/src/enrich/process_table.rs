//! The process table: seeded from /proc once, then kept current from fork, exec and exit
//! events, so the hot path never rescans /proc.

use std::collections::HashMap;
use std::os::unix::ffi::OsStrExt;
use std::sync::Arc;

use crate::model::{Bytes, Event, EventKind};

use super::process::{bounded_lineage, Process, MAX_ANCESTRY};

/// Upper bound on entries, so a missed exit event cannot grow the table without end.
const MAX_PROCESSES: usize = 1 << 20;

/// Pids remembered as gone, so events of a process that exited unseen do not each read /proc.
const MAX_GONE: usize = 4096;

#[derive(Default)]
pub struct ProcessTable {
    processes: HashMap<u32, Arc<Process>>,
    gone: std::collections::HashSet<u32>,
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

    /// Moves `pid` from `found` into the table after its ancestors, so its parent link points
    /// at the parent's entry.
    fn link(
        &mut self,
        pid: u32,
        found: &mut HashMap<u32, Process>,
        depth: usize,
    ) -> Option<Arc<Process>> {
        if let Some(done) = self.processes.get(&pid) {
            return Some(done.clone());
        }
        let mut process = found.remove(&pid)?;
        if depth < MAX_ANCESTRY && process.ppid != 0 && process.ppid != pid {
            process.parent = self.link(process.ppid, found, depth + 1);
        }
        let process = Arc::new(process);
        self.processes.insert(pid, process.clone());
        Some(process)
    }

    pub fn len(&self) -> usize {
        self.processes.len()
    }

    pub fn is_empty(&self) -> bool {
        self.processes.is_empty()
    }

    pub fn get(&self, pid: u32) -> Option<&Arc<Process>> {
        self.processes.get(&pid)
    }

    /// The process of `pid`; one read of /proc if it started before the table knew of it.
    fn get_or_load(&mut self, pid: u32) -> Option<Arc<Process>> {
        if let Some(p) = self.processes.get(&pid) {
            return Some(p.clone());
        }
        if self.gone.contains(&pid) {
            return None;
        }
        let Some(mut process) = read_proc(pid) else {
            if self.gone.len() >= MAX_GONE {
                self.gone.clear();
            }
            self.gone.insert(pid);
            return None;
        };
        process.parent = bounded_lineage(self.processes.get(&process.ppid).cloned());
        let process = Arc::new(process);
        self.insert(process.clone());
        Some(process)
    }

    fn insert(&mut self, process: Arc<Process>) {
        if self.processes.len() >= MAX_PROCESSES {
            tracing::warn!(limit = MAX_PROCESSES, "process table full; clearing it");
            self.processes.clear();
        }
        // A pid the kernel hands out again is a new process.
        self.gone.remove(&process.pid);
        self.processes.insert(process.pid, process);
    }

    /// Applies the event to the table and attaches the process it concerns.
    pub fn enrich(&mut self, event: &mut Event) {
        let pid = event.task.pid;
        match &event.kind {
            EventKind::Fork { child_pid } => {
                let child_pid = *child_pid;
                let parent = self.get_or_load(pid);
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
                    let previous = self.processes.get(&pid);
                    let parent = bounded_lineage(
                        previous
                            .and_then(|p| p.parent.clone())
                            .or_else(|| self.processes.get(&event.task.ppid).cloned()),
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
                    let cwd = read_cwd(pid).or_else(|| previous.and_then(|p| p.cwd.clone()));
                    let process = Arc::new(Process {
                        pid,
                        ppid: event.task.ppid,
                        comm: event.comm().into(),
                        exe,
                        exepath,
                        args,
                        exe_from_memfd,
                        cwd,
                        parent,
                    });
                    self.insert(process.clone());
                    event.process = Some(process);
                } else {
                    event.process = self.get_or_load(pid);
                }
            }
        }
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
fn read_proc(pid: u32) -> Option<Process> {
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
        cwd,
        parent: None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

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
