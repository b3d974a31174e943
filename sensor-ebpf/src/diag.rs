//! Kernel-side diagnostics: why an event is missing or incomplete, written with aya-log for the
//! agent to log (`--kernel-diagnostics`, `probe.kernel_diagnostics`).
//!
//! Only the rare paths log, and only when the agent set [`KERNEL_DIAGNOSTICS`] at load. The
//! global is read-only (`.rodata`, frozen by the loader), so the verifier knows its value:
//! with it 0 every branch below is dead and pruned, and the programs verify as if this file
//! were not there. Each helper is a function of its own (a BPF subprogram), so a program that
//! reaches one from several places carries its code once. aya-log's ring (`AYA_LOGS`) drops a
//! record when it is full: a flood of failures costs the kernel a failed reserve each.

use aya_ebpf::helpers::bpf_get_current_pid_tgid;
use aya_log_ebpf::{info, warn};

/// Set to 1 by the agent (`EbpfLoader::override_global`) to turn the diagnostics on.
#[unsafe(no_mangle)]
pub static KERNEL_DIAGNOSTICS: u8 = 0;

#[inline(always)]
pub fn enabled() -> bool {
    // SAFETY: a plain u8 global; volatile so the compiler does not fold the build-time zero
    // (the verifier folds the loaded value instead).
    let on = unsafe { core::ptr::read_volatile(&raw const KERNEL_DIAGNOSTICS) };
    on != 0
}

#[inline(always)]
fn ids() -> (u32, u32) {
    let pid_tgid = bpf_get_current_pid_tgid();
    ((pid_tgid >> 32) as u32, pid_tgid as u32)
}

/// A record of `kind` (`RecordKind`) for syscall `nr` did not fit in the ring buffer.
#[inline(never)]
pub fn ring_full(kind: u8, nr: u32) {
    if !enabled() {
        return;
    }
    let (pid, tid) = ids();
    warn!(
        &(),
        "record lost: ring buffer full (record kind {}, syscall {}, pid {}, tid {})",
        kind,
        nr,
        pid,
        tid
    );
}

/// String `slot` of syscall `nr` could not be read from the caller's memory at `addr`: the
/// helper returned `ret` (a negative errno, -14 EFAULT for an unmapped address).
#[inline(never)]
pub fn user_str_failed(nr: u32, abi: u8, slot: u8, addr: u64, ret: i64) {
    if !enabled() {
        return;
    }
    let (pid, tid) = ids();
    info!(
        &(),
        "user string read failed: syscall {} (abi {}) string {} at 0x{:x}, error {} (pid {}, tid {})",
        nr,
        abi,
        slot,
        addr,
        ret,
        pid,
        tid
    );
}

/// The exit of syscall `nr` found no saved enter; `saved_nr` is the enter found instead
/// (`u32::MAX`: none at all, the pending map was full or the call began before attaching).
#[inline(never)]
pub fn missing_enter(nr: u32, abi: u8, saved_nr: u32) {
    if !enabled() {
        return;
    }
    let (pid, tid) = ids();
    if saved_nr == u32::MAX {
        warn!(
            &(),
            "exit without its enter: syscall {} (abi {}), no saved enter (pid {}, tid {})",
            nr,
            abi,
            pid,
            tid
        );
    } else {
        warn!(
            &(),
            "exit without its enter: syscall {} (abi {}), the saved enter is syscall {}'s (pid {}, tid {})",
            nr,
            abi,
            saved_nr,
            pid,
            tid
        );
    }
}

/// Process `tgid` exec'd a 32-bit image while the compat programs were detached, and
/// `bpf_send_signal(SIGSTOP)` returned `ret`: its first 32-bit calls may go unseen.
#[inline(never)]
pub fn compat_unstopped(tgid: u32, ret: i64) {
    if !enabled() {
        return;
    }
    let (_, tid) = ids();
    warn!(
        &(),
        "32-bit exec not stopped: bpf_send_signal(SIGSTOP) returned {} (pid {}, tid {})",
        ret,
        tgid,
        tid
    );
}
