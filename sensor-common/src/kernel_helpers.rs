//! eBPF helpers newer than the oldest kernel the sensor runs on (5.10), as bits of the
//! programs' read-only `KERNEL_HELPERS` global: the agent sets the bit of each helper the
//! running kernel has (its BTF's `enum bpf_func_id` names them), and the programs take the
//! fallback where a bit is clear.

/// `bpf_get_current_task_btf` (5.11): the current task as a typed pointer, so that its
/// fields load directly; without it the task is a plain address and every field a probe read.
pub const TASK_BTF: u32 = 1 << 0;
/// `bpf_task_pt_regs` (5.15): the registers saved at syscall entry; without it they are found
/// at the top of the task's kernel stack (`KernelOffsets::pt_regs_in_stack`).
pub const TASK_PT_REGS: u32 = 1 << 1;

/// A helper the programs prefer, and what they do on a kernel without it.
pub struct Helper {
    pub bit: u32,
    /// Its name in `enum bpf_func_id`, without `BPF_FUNC_`.
    pub name: &'static str,
    /// What the programs do instead, as the agent's start-up log says it.
    pub fallback: &'static str,
}

pub const ALL: [Helper; 2] = [
    Helper {
        bit: TASK_BTF,
        name: "get_current_task_btf",
        fallback: "task fields read with probe reads",
    },
    Helper {
        bit: TASK_PT_REGS,
        name: "task_pt_regs",
        fallback: "saved registers found at the top of the kernel stack",
    },
];
