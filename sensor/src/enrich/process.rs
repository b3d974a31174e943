//! One process as the sensor knows it.

use std::sync::Arc;

use crate::event::Bytes;

/// How far lineage is followed: deeper chains are cut here (and a cycle cannot loop).
pub const MAX_ANCESTRY: usize = 64;

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
