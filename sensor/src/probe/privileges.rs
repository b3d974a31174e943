//! Checking, before touching the kernel, that the sensor may load eBPF programs, so a missing
//! privilege reads as advice rather than a raw errno.

/// What to tell a user who lacks the privileges.
pub const NEEDS: &str = "the sensor loads eBPF programs into the kernel and needs root, or the capabilities CAP_BPF, CAP_PERFMON and CAP_SYS_RESOURCE (plus CAP_SYS_ADMIN if tracefs is not mounted, and CAP_SYS_PTRACE and CAP_DAC_READ_SEARCH to read other processes' /proc entries): run it with sudo";

#[derive(Debug, thiserror::Error)]
#[error("{NEEDS} (missing: {missing})")]
pub struct MissingPrivileges {
    pub missing: String,
}

const CAP_SYS_ADMIN: u32 = 21;
const CAP_SYS_RESOURCE: u32 = 24;
const CAP_PERFMON: u32 = 38;
const CAP_BPF: u32 = 39;

/// The calling thread's effective capability set.
fn effective_caps() -> u64 {
    #[repr(C)]
    struct Header {
        version: u32,
        pid: i32,
    }
    #[repr(C)]
    #[derive(Default, Clone, Copy)]
    struct Data {
        effective: u32,
        permitted: u32,
        inheritable: u32,
    }
    let mut header = Header {
        version: 0x2008_0522, // _LINUX_CAPABILITY_VERSION_3
        pid: 0,
    };
    let mut data = [Data::default(); 2];
    // SAFETY: capget with a v3 header and room for its two data structs.
    let rc = unsafe { libc::syscall(libc::SYS_capget, &mut header, data.as_mut_ptr()) };
    if rc != 0 {
        return 0;
    }
    data[0].effective as u64 | ((data[1].effective as u64) << 32)
}

/// Whether eBPF memory is charged to the memory cgroup (Linux 5.11+) rather than to
/// RLIMIT_MEMLOCK, which raising needs CAP_SYS_RESOURCE.
fn memcg_accounted_bpf() -> bool {
    let mut uts: libc::utsname = unsafe { std::mem::zeroed() };
    // SAFETY: uname fills the struct it is given.
    if unsafe { libc::uname(&mut uts) } != 0 {
        return false;
    }
    let release: String = uts
        .release
        .iter()
        .take_while(|&&c| c != 0)
        .map(|&c| c as u8 as char)
        .collect();
    let mut parts = release.split(|c: char| !c.is_ascii_digit());
    let major: u32 = parts.next().and_then(|p| p.parse().ok()).unwrap_or(0);
    let minor: u32 = parts.next().and_then(|p| p.parse().ok()).unwrap_or(0);
    (major, minor) >= (5, 11)
}

/// Before Linux 5.11 the ring buffer and maps count against RLIMIT_MEMLOCK, whose default
/// (64 KiB to 8 MiB) is smaller than the ring: lift it (this is what CAP_SYS_RESOURCE is for).
/// A failure is left to the load to report, with its own error.
pub fn raise_memlock_limit() {
    if memcg_accounted_bpf() {
        return;
    }
    let unlimited = libc::rlimit {
        rlim_cur: libc::RLIM_INFINITY,
        rlim_max: libc::RLIM_INFINITY,
    };
    // SAFETY: setrlimit reads the struct it is given.
    if unsafe { libc::setrlimit(libc::RLIMIT_MEMLOCK, &unlimited) } != 0 {
        tracing::warn!(
            "could not lift RLIMIT_MEMLOCK (needs CAP_SYS_RESOURCE on kernels before 5.11): {}",
            std::io::Error::last_os_error()
        );
    } else {
        tracing::info!("RLIMIT_MEMLOCK lifted: this kernel counts eBPF memory against it");
    }
}

/// Fails with [`MissingPrivileges`] unless the process can load and attach the programs.
pub fn check() -> Result<(), MissingPrivileges> {
    let caps = effective_caps();
    let has = |cap: u32| caps & (1u64 << cap) != 0;
    // CAP_SYS_ADMIN implies the BPF and perf capabilities on every kernel. CAP_SYS_RESOURCE
    // only matters before 5.11, where eBPF memory counted against RLIMIT_MEMLOCK.
    if has(CAP_SYS_ADMIN) {
        return Ok(());
    }
    let mut required = vec![(CAP_BPF, "CAP_BPF"), (CAP_PERFMON, "CAP_PERFMON")];
    if !memcg_accounted_bpf() {
        required.push((CAP_SYS_RESOURCE, "CAP_SYS_RESOURCE"));
    }
    let missing: Vec<&str> = required
        .iter()
        .filter(|(cap, _)| !has(*cap))
        .map(|(_, name)| *name)
        .collect();
    if missing.is_empty() {
        Ok(())
    } else {
        Err(MissingPrivileges {
            missing: missing.join(", "),
        })
    }
}
