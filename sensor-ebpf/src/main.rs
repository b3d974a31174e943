//! The sensor's eBPF programs.
//!
//! Two generic programs trace every syscall of the execve, chmod, mount and set*id families: one
//! attached to each `syscalls:sys_enter_<name>` tracepoint saves the arguments, one attached to
//! each `sys_exit_<name>` joins them with the result and writes one record. Which syscalls, and
//! which of their arguments are strings, comes from the `SYSCALLS` map the agent fills, so this
//! code knows no syscall numbers. 32-bit compat calls, which those tracepoints skip, go
//! through `compat.rs` on the `raw_syscalls` raw tracepoints while a 32-bit process exists.
//! Three `sched` tracepoints report process lifecycle, and
//! the recorder (`recorder.rs`) keeps a per-cgroup bitmap of syscalls for security profiles.
#![cfg_attr(target_arch = "bpf", no_std)]
#![cfg_attr(target_arch = "bpf", no_main)]

#[cfg(target_arch = "bpf")]
mod arg_check;
#[cfg(target_arch = "bpf")]
mod compat;
#[cfg(target_arch = "bpf")]
mod diag;
#[cfg(target_arch = "bpf")]
mod exe_path;
#[cfg(target_arch = "bpf")]
mod exec;
#[cfg(target_arch = "bpf")]
mod filter;
#[cfg(target_arch = "bpf")]
mod kernel_helpers;
#[cfg(target_arch = "bpf")]
mod lifecycle;
#[cfg(target_arch = "bpf")]
mod maps;
#[cfg(target_arch = "bpf")]
mod new_mount;
#[cfg(target_arch = "bpf")]
mod open;
#[cfg(target_arch = "bpf")]
mod record;
#[cfg(target_arch = "bpf")]
mod recorder;
#[cfg(target_arch = "bpf")]
mod self_id;
#[cfg(target_arch = "bpf")]
mod socket;
#[cfg(target_arch = "bpf")]
mod syscall;
#[cfg(target_arch = "bpf")]
mod task;

#[cfg(target_arch = "bpf")]
#[panic_handler]
fn panic(_info: &core::panic::PanicInfo) -> ! {
    // The verifier rejects programs that can reach a real panic; this is never called.
    loop {}
}

#[cfg(target_arch = "bpf")]
#[unsafe(link_section = "license")]
#[unsafe(no_mangle)]
static LICENSE: [u8; 13] = *b"Dual MIT/GPL\0";

// Lets `cargo clippy` and `cargo check` on the host build this crate.
#[cfg(not(target_arch = "bpf"))]
fn main() {}
