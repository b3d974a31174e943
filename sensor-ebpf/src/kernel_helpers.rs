//! Helpers the programs use where the kernel has them, with a fallback where it does not
//! (`sensor_common::kernel_helpers`). `KERNEL_HELPERS` is a read-only global (`.rodata`,
//! frozen by the loader), so the verifier knows its value and never walks the branch not
//! taken: a helper this kernel lacks sits in dead code, which it accepts.

use aya_ebpf::helpers::{
    bpf_get_current_task,
    generated::{self, bpf_get_current_task_btf, bpf_task_pt_regs},
};
use sensor_common::{kernel_helpers, KernelOffsets};

/// Set by the agent (`EbpfLoader::override_global`): the helpers this kernel has.
#[unsafe(no_mangle)]
pub static KERNEL_HELPERS: u32 = 0;

#[inline(always)]
fn has(bit: u32) -> bool {
    // SAFETY: a plain u32 global; volatile so the compiler does not fold the build-time zero.
    unsafe { core::ptr::read_volatile(&raw const KERNEL_HELPERS) & bit != 0 }
}

/// Whether `current_task()` is typed: its fields (and those of the kernel structures reached
/// from it through typed loads) may be loaded directly.
#[inline(always)]
pub fn typed_task() -> bool {
    has(kernel_helpers::TASK_BTF)
}

/// The current `task_struct`.
#[inline(always)]
pub fn current_task() -> *const u8 {
    if typed_task() {
        unsafe { bpf_get_current_task_btf() as *const u8 }
    } else {
        unsafe { bpf_get_current_task() as *const u8 }
    }
}

/// A `T` at `base + offset` of a kernel structure reached from `current_task()`: a direct
/// load where the task is typed, a probe read otherwise; a NULL base or a fault reads as
/// `T::default()`.
#[inline(always)]
pub unsafe fn load<T: Copy + Default>(base: *const u8, offset: u32) -> T {
    if base.is_null() || offset == KernelOffsets::MISSING {
        return T::default();
    }
    let at = unsafe { base.add(offset as usize) } as *const T;
    if typed_task() {
        unsafe { core::ptr::read_volatile(at) }
    } else {
        unsafe { probe_read(at) }
    }
}

/// A probe read without a branch on its result: the helper zeroes the destination when the
/// read faults. A branch per read, multiplied over the walks of a program, took the verifier
/// past its budget.
#[inline(always)]
pub unsafe fn probe_read<T: Copy + Default>(at: *const T) -> T {
    let mut value = T::default();
    unsafe {
        generated::bpf_probe_read_kernel(
            &mut value as *mut T as *mut _,
            core::mem::size_of::<T>() as u32,
            at as *const _,
        )
    };
    value
}

/// The current task's registers saved at syscall entry.
pub struct SavedRegs {
    base: *const u8,
    /// From `bpf_task_pt_regs`: a typed pointer, loaded from directly.
    typed: bool,
}

impl SavedRegs {
    #[inline(always)]
    pub fn current(o: &KernelOffsets) -> Self {
        if has(kernel_helpers::TASK_PT_REGS) {
            // 5.15 and later, which have `bpf_get_current_task_btf` too.
            let task = unsafe { bpf_get_current_task_btf() };
            return Self {
                base: unsafe { bpf_task_pt_regs(task) } as *const u8,
                typed: true,
            };
        }
        // What the kernel's `task_pt_regs()` computes: they sit at the top of the task's
        // kernel stack. Read with a probe read, whatever the task's pointer: `stack` is a
        // `void *`, which no typed load follows.
        let mut base = core::ptr::null();
        if o.task_stack != KernelOffsets::MISSING && o.pt_regs_in_stack != KernelOffsets::MISSING {
            let at = unsafe { current_task().add(o.task_stack as usize) } as *const u64;
            let stack = unsafe { probe_read(at) };
            if stack != 0 {
                base = (stack + o.pt_regs_in_stack as u64) as *const u8;
            }
        }
        Self { base, typed: false }
    }

    /// The register at `offset` in `struct pt_regs`; 0 if unknown.
    #[inline(always)]
    pub fn reg(&self, offset: u32) -> u64 {
        self.read::<u64>(offset)
    }

    /// The low 32 bits of the field at `offset` (little-endian): a field the kernel declares
    /// 32 bits wide (arm64's `syscallno`), which the verifier lets no wider load reach.
    #[inline(always)]
    pub fn reg32(&self, offset: u32) -> u32 {
        self.read::<u32>(offset)
    }

    #[inline(always)]
    fn read<T: Copy + Default>(&self, offset: u32) -> T {
        if self.base.is_null() || offset == KernelOffsets::MISSING {
            return T::default();
        }
        let at = unsafe { self.base.add(offset as usize) } as *const T;
        if self.typed {
            unsafe { core::ptr::read_volatile(at) }
        } else {
            unsafe { probe_read(at) }
        }
    }
}
