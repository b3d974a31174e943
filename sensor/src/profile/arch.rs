//! Syscall numbers, names and architectures, from libseccomp (the library runc and crun compile
//! OCI profiles with), so names match what the runtime will resolve.

use libseccomp::{ScmpArch, ScmpSyscall};

/// The ABIs the recorder tells apart.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Abi {
    /// The kernel's own (x86_64, which also receives x32 calls; or aarch64).
    Native,
    /// 32-bit compat (i386 on x86_64, arm on aarch64).
    Compat,
}

/// The libseccomp architecture of an ABI on this machine.
pub fn scmp_arch(abi: Abi) -> Option<ScmpArch> {
    match (abi, std::env::consts::ARCH) {
        (Abi::Native, "x86_64") => Some(ScmpArch::X8664),
        (Abi::Compat, "x86_64") => Some(ScmpArch::X86),
        (Abi::Native, "aarch64") => Some(ScmpArch::Aarch64),
        (Abi::Compat, "aarch64") => Some(ScmpArch::Arm),
        _ => None,
    }
}

/// The OCI `architectures` of a profile for this machine: the native ABI and the compat ones a
/// process here can use. A profile that lists only the native one makes every 32-bit syscall
/// fail with the filter's bad-architecture action, which is how recorded profiles break
/// workloads that exec a 32-bit helper.
pub fn oci_architectures() -> Vec<String> {
    let names: &[&str] = match std::env::consts::ARCH {
        "x86_64" => &["SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32"],
        "aarch64" => &["SCMP_ARCH_AARCH64", "SCMP_ARCH_ARM"],
        _ => &["SCMP_ARCH_NATIVE"],
    };
    names.iter().map(|s| s.to_string()).collect()
}

/// The name libseccomp gives syscall `nr` of `abi`, if it knows one.
pub fn syscall_name(abi: Abi, nr: u32) -> Option<String> {
    let arch = scmp_arch(abi)?;
    ScmpSyscall::from(nr as i32).get_name_by_arch(arch).ok()
}

/// Whether libseccomp knows `name` on any of this machine's ABIs.
pub fn is_known_syscall(name: &str) -> bool {
    [Abi::Native, Abi::Compat]
        .into_iter()
        .filter_map(scmp_arch)
        .any(|arch| ScmpSyscall::from_name_by_arch(name, arch).is_ok())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_this_machines_syscalls() {
        // Numbers from the kernel's own headers, through libc.
        let cases: &[(libc::c_long, &str)] = &[
            (libc::SYS_read, "read"),
            (libc::SYS_write, "write"),
            (libc::SYS_execve, "execve"),
            (libc::SYS_exit_group, "exit_group"),
            (libc::SYS_openat, "openat"),
            (libc::SYS_fchmodat, "fchmodat"),
            (libc::SYS_clone3, "clone3"),
            (libc::SYS_mount, "mount"),
        ];
        for &(nr, name) in cases {
            assert_eq!(syscall_name(Abi::Native, nr as u32).as_deref(), Some(name));
        }
    }

    #[cfg(target_arch = "x86_64")]
    #[test]
    fn compat_numbers_are_i386s() {
        // i386: 1 exit, 11 execve, 252 exit_group (x86_64's 1 is write).
        assert_eq!(syscall_name(Abi::Compat, 1).as_deref(), Some("exit"));
        assert_eq!(syscall_name(Abi::Compat, 11).as_deref(), Some("execve"));
        assert_eq!(
            syscall_name(Abi::Compat, 252).as_deref(),
            Some("exit_group")
        );
        assert_eq!(
            oci_architectures(),
            ["SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32"]
        );
    }

    #[test]
    fn knows_names() {
        assert!(is_known_syscall("getppid"));
        assert!(!is_known_syscall("no_such_call"));
    }
}
