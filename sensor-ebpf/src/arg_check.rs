//! Strings the kernel reads from the caller's memory, checked for a change during the call.
//!
//! For chmod-family paths and mount strings no tracepoint reaches the kernel's own copy (it is
//! freed before `sys_exit`), so the strings are read twice: hashed here at enter, and read
//! into the record at exit, which carries the enter's hashes. The agent hashes what the exit
//! read and compares (`sensor_common::arg_hash`): a second thread that rewrote the buffer
//! between the two reads (to show one path to the sensor while the kernel acts on another)
//! marks the event. Hashing at exit in the kernel as well would put a loop over every string
//! in the exit program, past the verifier's budget. The window that stays open is a rewrite
//! undone again before the exit: README, *What a watched process can still bend*.

use aya_ebpf::helpers::generated::bpf_probe_read_user_str;
use sensor_common::{arg_hash, syscall::NO_ARG, RecordHeader, MAX_STRINGS, PATH_MAX};

use crate::maps::{Pending, SCRATCH};

/// The hash of the user string at `src`, read into this CPU's scratch buffer (no record is
/// being built while a syscall enters), whose string area is 8-byte aligned.
#[inline(always)]
pub fn hash_user_str(src: u64) -> u32 {
    if src == 0 {
        return arg_hash::UNREADABLE;
    }
    let Some(scratch) = SCRATCH.get_ptr_mut(0) else {
        return arg_hash::UNREADABLE;
    };
    let buf = unsafe { (scratch as *mut u8).add(RecordHeader::SIZE) };
    let ret = unsafe { bpf_probe_read_user_str(buf as *mut _, PATH_MAX as u32, src as *const _) };
    if ret <= 0 {
        return arg_hash::UNREADABLE;
    }
    // Without the NUL, and masked so the verifier can bound the reads below.
    let len = (ret as usize - 1) & (PATH_MAX - 1);
    let words = len / 8;
    let mut h = arg_hash::start(len);
    for i in 0..PATH_MAX / 8 {
        if i >= words {
            break;
        }
        let w = unsafe { core::ptr::read_volatile(buf.add(i * 8) as *const u64) };
        h = arg_hash::step(h, w);
    }
    let rest = len % 8;
    if rest != 0 {
        // The bytes after the string are whatever an earlier read left there: zero them, as
        // `arg_hash::of` pads.
        let w = unsafe { core::ptr::read_volatile(buf.add(words * 8) as *const u64) };
        h = arg_hash::step(h, w & ((1u64 << (rest * 8)) - 1));
    }
    arg_hash::finish(h)
}

/// At enter: the hash of each string argument.
#[inline(always)]
pub fn hash_at_enter(pending: &mut Pending, str_args: &[u8; MAX_STRINGS]) {
    for slot in 0..MAX_STRINGS {
        let arg = str_args[slot];
        pending.str_hash[slot] = if arg == NO_ARG {
            arg_hash::UNREADABLE
        } else {
            hash_user_str(pending.arg(arg))
        };
    }
}
