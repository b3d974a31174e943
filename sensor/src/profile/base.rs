//! The base profile: syscalls the container runtime itself makes after it installs the seccomp
//! filter and before the workload's first instruction runs.
//!
//! A recording starts at the workload's exec, but runc (and crun) load the filter earlier and
//! keep running under it: they set capabilities and ids, close inherited descriptors, signal
//! the exec fifo and finally call execve. A profile without these calls stops the container
//! before it starts — the most reported failure of recorded profiles. The list is the Security
//! Profiles Operator's runc base profile, plus what runc 1.1+ and the Go runtime it is written
//! in call on that path (close_range, signal handling, memory management, thread exit).
//! `sensor record --base FILE` replaces it, `--no-base` leaves it out.

use std::collections::BTreeSet;
use std::path::Path;

/// See the module documentation.
pub const RUNTIME_SYSCALLS: &[&str] = &[
    // The Security Profiles Operator's runc base profile.
    "capget",
    "capset",
    "chdir",
    "close",
    "epoll_ctl",
    "epoll_pwait",
    "execve",
    "fchown",
    "fcntl",
    "fstat",
    "fstatfs",
    "futex",
    "getdents64",
    "getpid",
    "getppid",
    "nanosleep",
    "newfstatat",
    "openat",
    "prctl",
    "read",
    "sched_yield",
    "setgid",
    "setgroups",
    "setuid",
    "write",
    // runc 1.1+ closes inherited descriptors with close_range before the exec.
    "close_range",
    // The Go runtime on that path: signals, threads, memory.
    "epoll_wait",
    "exit",
    "exit_group",
    "gettid",
    "madvise",
    "mmap",
    "mprotect",
    "munmap",
    "rt_sigaction",
    "rt_sigprocmask",
    "rt_sigreturn",
    "sigaltstack",
    "tgkill",
];

#[derive(Debug, thiserror::Error)]
pub enum BaseError {
    #[error("cannot read the base profile {path}: {source}")]
    Read {
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error("base profile {path}: {message}; give an OCI seccomp profile (its SCMP_ACT_ALLOW names are used) or one syscall name per line (`#` starts a comment)")]
    Invalid { path: String, message: String },
}

/// The built-in base profile.
pub fn runtime() -> BTreeSet<String> {
    RUNTIME_SYSCALLS.iter().map(|s| s.to_string()).collect()
}

/// A base profile from a file: an OCI seccomp profile (the names it allows), or a list of
/// syscall names, one per line.
pub fn load(path: &Path) -> Result<BTreeSet<String>, BaseError> {
    let text = std::fs::read_to_string(path).map_err(|source| BaseError::Read {
        path: path.display().to_string(),
        source,
    })?;
    let invalid = |message: String| BaseError::Invalid {
        path: path.display().to_string(),
        message,
    };
    if text.trim_start().starts_with('{') {
        let profile: super::SeccompProfile =
            serde_json::from_str(&text).map_err(|e| invalid(e.to_string()))?;
        return Ok(profile.allowed());
    }
    let mut names = BTreeSet::new();
    for (i, line) in text.lines().enumerate() {
        let name = line.split('#').next().unwrap_or("").trim();
        if name.is_empty() {
            continue;
        }
        if !super::arch::is_known_syscall(name) {
            return Err(invalid(format!(
                "line {}: `{name}` is not a syscall of this machine",
                i + 1
            )));
        }
        names.insert(name.to_string());
    }
    Ok(names)
}

#[cfg(test)]
mod tests {
    #[test]
    fn every_base_syscall_is_known() {
        for name in super::RUNTIME_SYSCALLS {
            assert!(super::super::arch::is_known_syscall(name), "{name}");
        }
    }
}
