//! Who the agent is, as the kernel numbers it.

use aya_ebpf::{
    helpers::bpf_get_current_pid_tgid,
    macros::{map, raw_tracepoint},
    maps::Array,
    programs::RawTracePointContext,
};

use crate::maps::SELF_TGID;

/// What `whoami` found, for the agent to read back (a raw tracepoint program's return value
/// does not reach `BPF_PROG_TEST_RUN`'s caller through aya's wrapper).
#[map]
static WHOAMI: Array<u32> = Array::with_max_entries(1, 0);

/// Never attached: the agent runs it through `BPF_PROG_TEST_RUN`, which runs a raw tracepoint
/// program in the calling thread. It stores the caller's thread group id as every program's
/// `bpf_get_current_pid_tgid` will see the agent.
#[raw_tracepoint(tracepoint = "sys_enter")]
pub fn whoami(_ctx: RawTracePointContext) -> i32 {
    let tgid = (bpf_get_current_pid_tgid() >> 32) as u32;
    // SAFETY: a plain u32 global; the agent runs this once, before any program is attached.
    unsafe { core::ptr::write_volatile(&raw mut SELF_TGID, tgid) };
    if let Some(slot) = WHOAMI.get_ptr_mut(0) {
        // SAFETY: the map's only slot; nothing else writes it.
        unsafe { *slot = tgid };
    }
    0
}
