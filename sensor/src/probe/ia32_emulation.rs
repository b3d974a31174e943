//! Whether a 64-bit process can make 32-bit syscalls here (`int $0x80`).
//!
//! The compat programs are attached only while a 32-bit process runs (`compat_path.rs`), so a
//! 64-bit process that issues `int $0x80` itself while none does is not seen. Booting with
//! `ia32_emulation=false` (Linux 6.7+, or a kernel built with
//! CONFIG_IA32_EMULATION_DEFAULT_DISABLED) closes that: `int $0x80` then faults and 32-bit
//! images do not exec. The sensor asks the kernel directly, in a forked child, so the answer
//! holds whatever the command line or the build says.

/// What the kernel lets a 64-bit process do.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Ia32Emulation {
    /// `int $0x80` works: 32-bit syscalls from 64-bit processes are possible.
    Enabled,
    /// `int $0x80` faults: no 32-bit syscall can be made on this machine.
    Disabled,
    /// Not an x86_64 machine, or the check could not run.
    Unknown,
}

impl Ia32Emulation {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Enabled => "enabled",
            Self::Disabled => "disabled",
            Self::Unknown => "unknown",
        }
    }
}

/// Tries `int $0x80` (i386 getpid) in a forked child: it exits 0 if the call returned the
/// pid, and dies of SIGSEGV if the kernel refuses 32-bit syscalls.
#[cfg(target_arch = "x86_64")]
pub fn probe() -> Ia32Emulation {
    const I386_GETPID: i64 = 20;
    // SAFETY: the child only runs the syscall and _exit, both async-signal-safe.
    let pid = unsafe { libc::fork() };
    if pid < 0 {
        return Ia32Emulation::Unknown;
    }
    if pid == 0 {
        let mut ret = I386_GETPID;
        // SAFETY: a 32-bit getpid; it reads no memory. r8-r11 are clobbered on some kernels.
        unsafe {
            core::arch::asm!(
                "int 0x80",
                inout("rax") ret,
                out("r8") _, out("r9") _, out("r10") _, out("r11") _,
                options(nostack)
            );
            libc::_exit(if ret > 0 { 0 } else { 1 });
        }
    }
    let mut status = 0;
    // SAFETY: waiting for the child just forked.
    if unsafe { libc::waitpid(pid, &mut status, 0) } != pid {
        return Ia32Emulation::Unknown;
    }
    if libc::WIFEXITED(status) && libc::WEXITSTATUS(status) == 0 {
        Ia32Emulation::Enabled
    } else if libc::WIFSIGNALED(status) {
        Ia32Emulation::Disabled
    } else {
        Ia32Emulation::Unknown
    }
}

#[cfg(not(target_arch = "x86_64"))]
pub fn probe() -> Ia32Emulation {
    Ia32Emulation::Unknown
}

#[cfg(test)]
mod tests {
    #[cfg(target_arch = "x86_64")]
    #[test]
    fn this_kernel_answers() {
        assert_ne!(super::probe(), super::Ia32Emulation::Unknown);
    }
}
