//! Runs a command under a seccomp profile, as a container runtime would: the profile is
//! compiled into a BPF filter by libseccomp (what runc and crun use) and loaded in the child,
//! with no_new_privs, right before exec. Used by `sensor profile verify` and the tests to prove
//! a profile before it ships.

use std::os::unix::process::CommandExt;
use std::process::{Command, ExitStatus};

use libseccomp::{ScmpAction, ScmpArch, ScmpFilterContext, ScmpSyscall};

use super::seccomp::{SeccompProfile, ACT_ALLOW, ACT_ERRNO, ACT_LOG};

#[derive(Debug, thiserror::Error)]
pub enum VerifyError {
    #[error("{what}: {message}")]
    Profile { what: String, message: String },
    #[error("libseccomp could not build the filter for {what}: {source}")]
    Seccomp {
        what: String,
        #[source]
        source: libseccomp::error::SeccompError,
    },
    #[error("exporting the filter for {0}: {1}")]
    Export(String, #[source] std::io::Error),
    #[error("cannot run `{command}`: {source}")]
    Spawn {
        command: String,
        #[source]
        source: std::io::Error,
    },
}

fn action(name: &str, errno: Option<u32>, what: &str) -> Result<ScmpAction, VerifyError> {
    let errno = errno.unwrap_or(libc::EPERM as u32) as i32;
    Ok(match name {
        ACT_ALLOW => ScmpAction::Allow,
        ACT_ERRNO => ScmpAction::Errno(errno),
        ACT_LOG => ScmpAction::Log,
        "SCMP_ACT_KILL" | "SCMP_ACT_KILL_THREAD" => ScmpAction::KillThread,
        "SCMP_ACT_KILL_PROCESS" => ScmpAction::KillProcess,
        "SCMP_ACT_TRAP" => ScmpAction::Trap,
        "SCMP_ACT_TRACE" => ScmpAction::Trace(errno as u16),
        other => {
            return Err(VerifyError::Profile {
                what: what.to_string(),
                message: format!("action `{other}` is not supported; use SCMP_ACT_ALLOW, SCMP_ACT_ERRNO, SCMP_ACT_LOG, SCMP_ACT_KILL*, SCMP_ACT_TRAP or SCMP_ACT_TRACE"),
            })
        }
    })
}

/// Compiles `profile` into a libseccomp filter context (not yet loaded). Syscalls unknown to
/// an architecture are skipped there, as runc does; names unknown everywhere are an error.
pub fn compile(profile: &SeccompProfile, what: &str) -> Result<ScmpFilterContext, VerifyError> {
    let seccomp = |source| VerifyError::Seccomp {
        what: what.to_string(),
        source,
    };
    let default = action(&profile.default_action, profile.default_errno_ret, what)?;
    let mut ctx = ScmpFilterContext::new(default).map_err(seccomp)?;
    for arch in &profile.architectures {
        let arch: ScmpArch = arch.parse().map_err(|_| VerifyError::Profile {
            what: what.to_string(),
            message: format!("architecture `{arch}` is not a libseccomp SCMP_ARCH_* name"),
        })?;
        // The native one is already in a new context.
        if !ctx.is_arch_present(arch).map_err(seccomp)? {
            ctx.add_arch(arch).map_err(seccomp)?;
        }
    }
    for rule in &profile.syscalls {
        if !rule.args.is_empty() || rule.includes.is_some() || rule.excludes.is_some() {
            return Err(VerifyError::Profile {
                what: what.to_string(),
                message: format!(
                    "the rule for {} has argument conditions or includes/excludes, which verify does not support",
                    rule.names.join(", ")
                ),
            });
        }
        let act = action(&rule.action, rule.errno_ret, what)?;
        if act == default {
            continue;
        }
        for name in &rule.names {
            let Ok(syscall) = ScmpSyscall::from_name(name) else {
                if super::arch::is_known_syscall(name) {
                    continue;
                }
                return Err(VerifyError::Profile {
                    what: what.to_string(),
                    message: format!("`{name}` is not a syscall libseccomp knows; remove it"),
                });
            };
            ctx.add_rule(act, syscall).map_err(seccomp)?;
        }
    }
    Ok(ctx)
}

/// Runs `command` under the compiled profile and waits for it.
pub fn run(
    profile: &SeccompProfile,
    what: &str,
    mut command: Command,
) -> Result<ExitStatus, VerifyError> {
    let mut ctx = compile(profile, what)?;
    ctx.set_ctl_nnp(true)
        .map_err(|source| VerifyError::Seccomp {
            what: what.to_string(),
            source,
        })?;
    // The filter is exported to BPF now, in the parent: between fork and exec only
    // async-signal-safe calls are allowed, and libseccomp allocates while it compiles.
    let program = export(&ctx, what)?;
    let description = format!("{command:?}");
    // SAFETY: the closure only makes raw syscalls (prctl, seccomp) on memory prepared before
    // the fork.
    unsafe {
        command.pre_exec(move || install(&program));
    }
    let mut child = command.spawn().map_err(|source| VerifyError::Spawn {
        command: description.clone(),
        source,
    })?;
    child.wait().map_err(|source| VerifyError::Spawn {
        command: description,
        source,
    })
}

/// The filter as the kernel's BPF program bytes, through a memfd (libseccomp 2.5 exports
/// only to a file descriptor).
fn export(ctx: &ScmpFilterContext, what: &str) -> Result<Vec<u8>, VerifyError> {
    use std::io::{Read, Seek};
    let io = |e: std::io::Error| VerifyError::Export(what.to_string(), e);
    let name = c"sensor-seccomp";
    // SAFETY: a valid name; the returned fd is owned by the File.
    let fd = unsafe { libc::memfd_create(name.as_ptr(), libc::MFD_CLOEXEC) };
    if fd < 0 {
        return Err(io(std::io::Error::last_os_error()));
    }
    // SAFETY: fd is new and ours.
    let mut file = unsafe { <std::fs::File as std::os::fd::FromRawFd>::from_raw_fd(fd) };
    ctx.export_bpf(&file)
        .map_err(|source| VerifyError::Seccomp {
            what: what.to_string(),
            source,
        })?;
    file.rewind().map_err(io)?;
    let mut program = Vec::new();
    file.read_to_end(&mut program).map_err(io)?;
    Ok(program)
}

/// In the child: no_new_privs, then the filter, then (the caller's) exec.
fn install(program: &[u8]) -> std::io::Result<()> {
    #[repr(C)]
    struct SockFprog {
        len: u16,
        filter: *const u8,
    }
    let prog = SockFprog {
        len: (program.len() / 8) as u16,
        filter: program.as_ptr(),
    };
    // SAFETY: plain syscalls on valid memory.
    unsafe {
        if libc::prctl(libc::PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0 {
            return Err(std::io::Error::last_os_error());
        }
        if libc::syscall(
            libc::SYS_seccomp,
            libc::SECCOMP_SET_MODE_FILTER,
            0,
            &prog as *const SockFprog,
        ) != 0
        {
            return Err(std::io::Error::last_os_error());
        }
    }
    Ok(())
}
