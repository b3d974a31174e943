//! One process as the sensor knows it.

use crate::event::Bytes;

#[derive(Clone, Debug, Default, PartialEq, Eq)]
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
    /// The parent's comm when this process was created or exec'd (`proc.pname`).
    pub parent_name: Option<Bytes>,
    /// The image was an anonymous memory file (Falco's `proc.is_exe_from_memfd`).
    pub exe_from_memfd: bool,
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
}
