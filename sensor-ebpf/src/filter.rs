//! The kernel filter compiled from the rules (`sensor_common::filter`): at a native call's
//! exit, before anything is read for its record, whether some loaded rule could match it.
//! A call no rule can match is counted in `FILTERED` and dropped, so it costs neither the
//! record's reads nor the ring buffer nor the agent.
//!
//! Written for the verifier, which walks every literal of every clause on its own: the
//! operands are copied into a per-CPU map value once, so a literal reads its operand at a
//! variable offset instead of through a branch per argument, and comparisons are reduced to
//! an outcome bit tested against the literal's `accept` mask.

use aya_ebpf::{
    macros::map,
    maps::{Array, PerCpuArray},
};
use sensor_common::{
    arg_hash,
    filter::{literal, operand, FilterSpec, FILTER_ENTRIES, MAX_CLAUSES, MAX_LITERALS},
    syscall::NO_ARG,
    SyscallSpec, MAX_STRINGS, SYSCALL_TABLE_LEN,
};

use crate::{arg_check, maps::Pending, recorder};

/// Two tables of `SYSCALL_TABLE_LEN` entries; `FILTER_TABLE` says which is in use.
#[map]
pub static FILTERS: Array<FilterSpec> = Array::with_max_entries(FILTER_ENTRIES, 0);

/// 0 or 1: the table of `FILTERS` in use.
#[map]
pub static FILTER_TABLE: Array<u32> = Array::with_max_entries(1, 0);

/// Calls dropped by the filter, per syscall number, per CPU.
#[map]
pub static FILTERED: PerCpuArray<u64> = PerCpuArray::with_max_entries(SYSCALL_TABLE_LEN, 0);

/// This CPU's operands of the call being decided (`operand`): arguments, result, changed.
#[map]
static OPERANDS: PerCpuArray<[i64; operand::COUNT]> = PerCpuArray::with_max_entries(1, 0);

/// Whether a string argument changed since the call's enter, as the agent decides
/// `evt.tampered`: a string whose enter hash was taken and whose exit read differs or fails.
/// Only the first string slot is hashed again here (the chmod family and the opens have
/// one); a second checked string counts as changed, which keeps the call. With the kernel
/// diagnostics on, every checked string counts as changed: their code and this hash together
/// take the exit program past the verifier's budget, and the diagnostics flag is a load-time
/// constant the verifier prunes on.
#[inline(always)]
fn changed_since_enter(pending: &Pending, spec: &SyscallSpec) -> i64 {
    for slot in 1..MAX_STRINGS {
        if spec.str_args[slot] != NO_ARG && pending.str_hash[slot] != arg_hash::UNREADABLE {
            return 1;
        }
    }
    let arg = spec.str_args[0];
    if arg == NO_ARG || pending.str_hash[0] == arg_hash::UNREADABLE {
        return 0;
    }
    if crate::diag::enabled() {
        return 1;
    }
    i64::from(arg_check::hash_user_str(pending.arg(arg)) != pending.str_hash[0])
}

/// Whether the exit of native call `nr`, which returned `res`, is to be recorded.
#[inline(always)]
pub fn keeps(nr: u32, pending: &Pending, spec: &SyscallSpec, res: i64) -> bool {
    let table = FILTER_TABLE.get(0).copied().unwrap_or(0) & 1;
    let Some(f) = FILTERS.get(table * SYSCALL_TABLE_LEN + nr) else {
        return true;
    };
    if f.active == 0 {
        return true;
    }
    let Some(values) = OPERANDS.get_ptr_mut(0) else {
        return true;
    };
    // SAFETY: this CPU's value; no other program uses it while this one runs.
    let values = unsafe { &mut *values };
    for i in 0..6 {
        values[i] = pending.args[i] as i64;
    }
    values[operand::RES as usize] = res;
    values[operand::CHANGED as usize] = if f.reads_changed != 0 {
        changed_since_enter(pending, spec)
    } else {
        0
    };
    let clauses = f.clauses as usize;
    for c in 0..MAX_CLAUSES {
        if c >= clauses {
            break;
        }
        let mut holds = true;
        for i in 0..MAX_LITERALS {
            let l = &f.clause[c].literals[i];
            if l.kind == literal::UNUSED {
                continue;
            }
            let v = values[(l.operand as usize) & (operand::COUNT - 1)];
            let test = if l.kind == literal::ANY_BIT {
                v & l.value != 0
            } else {
                let outcome = if v < l.value {
                    sensor_common::filter::accept::LESS
                } else if v == l.value {
                    sensor_common::filter::accept::EQUAL
                } else {
                    sensor_common::filter::accept::GREATER
                };
                l.accept & outcome != 0
            };
            if test == (l.negated != 0) {
                holds = false;
                break;
            }
        }
        if holds {
            return true;
        }
    }
    if recorder::maybe_recorded() {
        return true;
    }
    if let Some(counter) = FILTERED.get_ptr_mut(nr) {
        // SAFETY: this CPU's slot; no other program writes it while this one runs.
        unsafe { *counter += 1 };
    }
    false
}
