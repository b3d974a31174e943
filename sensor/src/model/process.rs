//! One process as the sensor knows it.

use std::sync::Arc;

use super::event::Bytes;

/// How far lineage is followed: deeper chains are cut here (and a cycle cannot loop).
pub const MAX_ANCESTRY: usize = 64;

/// The most parent links kept behind any process. Any user can build a fork chain as deep
/// as they like (fork, let the parent exit, repeat); kept whole, it grows the sensor's
/// memory without bound and its drop recurses once per link until the stack overflows.
/// Past this depth a chain is cut back to its first [`MAX_ANCESTRY`] links (a copy of them),
/// so the cut happens once every `LINEAGE_KEPT - MAX_ANCESTRY` generations, not per fork.
pub const LINEAGE_KEPT: usize = 2 * MAX_ANCESTRY;

#[derive(Clone, Debug, Default)]
pub struct Process {
    pub pid: u32,
    pub ppid: u32,
    /// The kernel's comm (`proc.name`).
    pub comm: Bytes,
    /// argv[0] (Falco's `proc.exe`).
    pub exe: Bytes,
    /// The executable's path (Falco's `proc.exepath`).
    pub exepath: Bytes,
    /// argv[1..] (Falco's `proc.args`).
    pub args: Vec<Bytes>,
    /// The image was an anonymous memory file (Falco's `proc.is_exe_from_memfd`).
    pub exe_from_memfd: bool,
    /// The image was a file of an overlayfs's upper layer, as the kernel side saw it at the
    /// exec (Falco's `proc.is_exe_upper_layer`); false for processes read from /proc.
    pub exe_upper_layer: bool,
    /// The host's initial mount namespace, when the program was exec'd in it (`None` for
    /// an exec in any other, and for processes read from /proc). With the event's mount
    /// namespace it makes `proc.entered_from_host`.
    pub exec_in_host_mnt_ns: Option<u64>,
    /// Working directory when the process was seen starting or exec'ing (chdir is not
    /// traced, so this is where it began, as far as known).
    pub cwd: Option<Bytes>,
    /// The parent as it was when this process was created or last exec'd. Holding it keeps
    /// an exited parent's identity for its children's lineage fields, as Falco does.
    pub parent: Option<Arc<Process>>,
}

impl Process {
    /// Falco's `proc.cmdline`: the name followed by the arguments.
    pub fn cmdline(&self) -> Vec<u8> {
        let mut out = self.comm.to_vec();
        for a in &self.args {
            out.push(b' ');
            out.extend_from_slice(a);
        }
        out
    }

    /// The `n`th ancestor: 0 is this process, 1 its parent (`proc.aname[1]`), and so on.
    pub fn ancestor(&self, n: usize) -> Option<&Process> {
        self.ancestors().nth(n)
    }

    /// This process, then its parent, grandparent, ... up to [`MAX_ANCESTRY`].
    pub fn ancestors(&self) -> impl Iterator<Item = &Process> {
        std::iter::successors(Some(self), |p| p.parent.as_deref()).take(MAX_ANCESTRY)
    }
}

/// `parent` as the parent link of a new process: itself, or, when its chain is longer than
/// [`LINEAGE_KEPT`], a copy of its first [`MAX_ANCESTRY`] links (which is all any field
/// reads).
pub fn bounded_lineage(parent: Option<Arc<Process>>) -> Option<Arc<Process>> {
    let parent = parent?;
    let depth = std::iter::successors(Some(&*parent), |p| p.parent.as_deref())
        .take(LINEAGE_KEPT + 1)
        .count();
    if depth <= LINEAGE_KEPT {
        return Some(parent);
    }
    let kept: Vec<&Process> = parent.ancestors().collect();
    let mut copy = None;
    for link in kept.into_iter().rev() {
        copy = Some(Arc::new(Process {
            parent: copy,
            ..link.clone()
        }));
    }
    copy
}

#[cfg(test)]
mod tests {
    use super::*;

    fn chain_len(p: &Process) -> usize {
        std::iter::successors(Some(p), |p| p.parent.as_deref()).count()
    }

    /// Regression: a 300,000-deep fork-then-exit chain used to keep every link (and abort
    /// the sensor with a stack overflow when dropped).
    #[test]
    fn a_deep_fork_chain_keeps_bounded_lineage() {
        let mut newest: Option<Arc<Process>> = None;
        for pid in 1..=300_000u32 {
            let parent = bounded_lineage(newest.take());
            let ppid = parent.as_ref().map_or(0, |p| p.pid);
            newest = Some(Arc::new(Process {
                pid,
                ppid,
                parent,
                ..Process::default()
            }));
        }
        let newest = newest.expect("a process");
        let depth = chain_len(&newest);
        assert!(depth <= LINEAGE_KEPT + 1, "{depth} links kept");
        // The ancestry fields still see their full reach.
        assert_eq!(newest.ancestor(1).map(|p| p.pid), Some(299_999));
        assert_eq!(
            newest.ancestor(MAX_ANCESTRY - 1).map(|p| p.pid),
            Some(300_000 - MAX_ANCESTRY as u32 + 1)
        );
        // Dropping it must not overflow the stack (the test thread's is 2 MiB).
        drop(newest);
    }
}
