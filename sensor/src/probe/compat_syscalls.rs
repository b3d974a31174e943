//! The 32-bit compat ABI's numbers for the traced syscalls, per architecture: each compat
//! call is reported as its 64-bit twin (`evt.type` and arguments of that definition in
//! `syscalls.rs`), so rules see one `setuid` whichever ABI made it.
//!
//! Only x86_64's i386 ABI is listed today. arm64's compat ABI (arm EABI: chmod 15, mount 21,
//! setuid32 213, execve 11, ...) fits as another table here once its kernel side is tested:
//! the offsets (`kernel_offsets.rs`) and the eBPF programs are already per-arch.

use sensor_common::SyscallSpec;

use super::syscalls::{self, ArgType, SyscallDef};

/// How a compat call's arguments differ from its 64-bit twin's.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Quirk {
    /// Same arguments.
    None,
    /// The old 16-bit id calls (i386 `setuid`, `setresuid`, ... without the `32`): ids are
    /// 16-bit and 0xffff means -1 ("unchanged"), as the kernel's `low2highuid` reads them.
    Ids16,
    /// i386 `umount` (`oldumount`): `umount2` without a flags argument.
    NoFlags,
}

/// One compat syscall.
#[derive(Clone, Copy, Debug)]
pub struct CompatSyscall {
    /// Its number in the compat ABI.
    pub nr: u32,
    /// The 64-bit definition it is reported as (`SyscallDef::name`).
    pub twin: &'static str,
    pub quirk: Quirk,
}

const fn same(nr: u32, twin: &'static str) -> CompatSyscall {
    CompatSyscall {
        nr,
        twin,
        quirk: Quirk::None,
    }
}

const fn quirk(nr: u32, twin: &'static str, quirk: Quirk) -> CompatSyscall {
    CompatSyscall { nr, twin, quirk }
}

/// i386's numbers (the kernel's `arch/x86/entry/syscalls/syscall_32.tbl`).
static I386: &[CompatSyscall] = &[
    same(5, "open"),
    same(295, "openat"),
    same(437, "openat2"),
    same(8, "creat"),
    same(11, "execve"),
    same(358, "execveat"),
    same(15, "chmod"),
    same(94, "fchmod"),
    same(306, "fchmodat"),
    same(452, "fchmodat2"),
    same(21, "mount"),
    quirk(22, "umount2", Quirk::NoFlags),
    same(52, "umount2"),
    same(430, "fsopen"),
    same(431, "fsconfig"),
    same(432, "fsmount"),
    same(429, "move_mount"),
    same(428, "open_tree"),
    same(467, "open_tree_attr"),
    same(442, "mount_setattr"),
    quirk(23, "setuid", Quirk::Ids16),
    same(213, "setuid32"),
    quirk(46, "setgid", Quirk::Ids16),
    same(214, "setgid32"),
    quirk(70, "setreuid", Quirk::Ids16),
    same(203, "setreuid32"),
    quirk(71, "setregid", Quirk::Ids16),
    same(204, "setregid32"),
    quirk(164, "setresuid", Quirk::Ids16),
    same(208, "setresuid32"),
    quirk(170, "setresgid", Quirk::Ids16),
    same(210, "setresgid32"),
    quirk(138, "setfsuid", Quirk::Ids16),
    same(215, "setfsuid32"),
    quirk(139, "setfsgid", Quirk::Ids16),
    same(216, "setfsgid32"),
    same(185, "capset"),
    same(83, "symlink"),
    same(304, "symlinkat"),
    same(9, "link"),
    same(303, "linkat"),
    same(10, "unlink"),
    same(301, "unlinkat"),
    same(38, "rename"),
    same(302, "renameat"),
    same(353, "renameat2"),
    same(39, "mkdir"),
    same(296, "mkdirat"),
    same(40, "rmdir"),
    same(26, "ptrace"),
    same(346, "setns"),
    same(310, "unshare"),
    same(356, "memfd_create"),
    same(374, "userfaultfd"),
    same(357, "bpf"),
    same(425, "io_uring_setup"),
    same(128, "init_module"),
    same(350, "finit_module"),
    // i386 also reaches the socket calls through socketcall(2) (102), whose arguments are
    // an array in the caller's memory, and accept(2) only that way: not traced yet (README,
    // *What a watched process can still bend*).
    same(359, "socket"),
    same(362, "connect"),
    same(364, "accept4"),
    same(361, "bind"),
    same(363, "listen"),
    same(369, "sendto"),
    same(370, "sendmsg"),
    same(41, "dup"),
    same(63, "dup2"),
    same(330, "dup3"),
];

/// The compat table of the architecture the agent was built for (empty without one).
pub fn table() -> &'static [CompatSyscall] {
    if cfg!(target_arch = "x86_64") {
        I386
    } else {
        &[]
    }
}

impl CompatSyscall {
    /// The 64-bit definition. The `32` calls (`setuid32`) are the 64-bit `setuid`.
    pub fn def(&self) -> Option<&'static SyscallDef> {
        let name = self.twin.strip_suffix("32").unwrap_or(self.twin);
        syscalls::by_name(name)
    }

    /// The spec the kernel side reads from the `COMPAT_SYSCALLS` map: the twin's, with the
    /// twin's 64-bit number to report. `None` where the twin is not traced here.
    pub fn spec(&self) -> Option<SyscallSpec> {
        let def = self.def()?;
        let mut spec = def.spec();
        spec.native_nr = u16::try_from(def.nr()?).ok()?;
        Some(spec)
    }
}

/// The compat syscall numbered `nr`.
pub fn by_nr(nr: u32) -> Option<&'static CompatSyscall> {
    table().iter().find(|c| c.nr == nr)
}

/// Rewrites a compat call's raw arguments into its 64-bit twin's meaning.
pub fn normalize_args(nr: u32, args: &mut [u64; 6]) {
    let Some(compat) = by_nr(nr) else { return };
    match compat.quirk {
        Quirk::None => {}
        Quirk::NoFlags => args[1] = 0,
        Quirk::Ids16 => {
            let Some(def) = compat.def() else { return };
            for arg in def.args.iter().filter(|a| a.ty == ArgType::Id) {
                let raw = &mut args[arg.index as usize];
                let id = *raw & 0xffff;
                *raw = if id == 0xffff {
                    u64::from(u32::MAX)
                } else {
                    id
                };
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_compat_syscall_has_a_traced_twin() {
        for compat in table() {
            let def = compat
                .def()
                .unwrap_or_else(|| panic!("{} has no definition", compat.twin));
            let spec = compat.spec().expect("spec");
            assert_eq!(Some(u32::from(spec.native_nr)), def.nr(), "{}", compat.twin);
            assert_eq!(spec.kind, def.kind as u8);
        }
    }

    #[test]
    fn numbers_are_unique_and_fit_the_map() {
        for (i, a) in table().iter().enumerate() {
            assert!(a.nr < sensor_common::SYSCALL_TABLE_LEN);
            for b in &table()[i + 1..] {
                assert_ne!(a.nr, b.nr, "{} and {}", a.twin, b.twin);
            }
        }
    }

    #[test]
    fn every_traced_family_member_has_a_compat_number() {
        // aarch64 has no chmod; every syscall with an x86_64 number has an i386 one.
        if !cfg!(target_arch = "x86_64") {
            return;
        }
        // i386 has no accept(2) of its own: only socketcall(SYS_ACCEPT) (README).
        for def in syscalls::SYSCALLS.iter().filter(|d| d.name != "accept") {
            assert!(
                table()
                    .iter()
                    .any(|c| c.def().is_some_and(|d| d.name == def.name)),
                "{} has no i386 number",
                def.name
            );
        }
    }

    #[cfg(target_arch = "x86_64")]
    #[test]
    fn old_16_bit_ids_read_as_the_kernel_reads_them() {
        // setresuid16(-1, 0, 0xffff) with garbage in the upper half of ruid.
        let mut args = [0x1_ffff, 0, 0xffff, 0, 0, 0];
        normalize_args(164, &mut args);
        assert_eq!(args[..3], [u64::from(u32::MAX), 0, u64::from(u32::MAX)]);
        let mut args = [1000, 0, 0, 0, 0, 0];
        normalize_args(23, &mut args);
        assert_eq!(args[0], 1000);
        // The 32-bit calls are left alone.
        let mut args = [0xffff, 0, 0, 0, 0, 0];
        normalize_args(213, &mut args);
        assert_eq!(args[0], 0xffff);
        // oldumount has no flags.
        let mut args = [0x1000, 0xdead, 0, 0, 0, 0];
        normalize_args(22, &mut args);
        assert_eq!(args[1], 0);
    }
}
