//! Assembling a record in the per-CPU scratch buffer and handing it to the ring buffer.

use aya_ebpf::{
    bindings::{BPF_RB_AVAIL_DATA, BPF_RB_FORCE_WAKEUP, BPF_RB_NO_WAKEUP},
    helpers::{bpf_ktime_get_ns, generated::bpf_probe_read_user_str},
};
use sensor_common::{
    loss, record::truncated_bit, RecordHeader, PATH_MAX, WAKEUP_CHECK_EVERY, WAKEUP_THRESHOLD_BYTES,
};

use crate::{
    maps::{count_loss, Scratch, EVENTS, SCRATCH, SCRATCH_BYTES, STRINGS_SPAN},
    task::fill_task_info,
};

/// A record being built: the header at the start of the scratch buffer, strings after it.
pub struct Builder {
    scratch: *mut Scratch,
    /// Bytes of strings written so far.
    strings: usize,
}

impl Builder {
    /// Starts a record of `kind` for the current task. `None` if the scratch map is missing,
    /// which the verifier requires us to handle.
    #[inline(always)]
    pub fn new(kind: u8, syscall_nr: u32, enter_ns: u64) -> Option<Self> {
        let scratch = SCRATCH.get_ptr_mut(0)?;
        let h = unsafe { &mut *(scratch as *mut RecordHeader) };
        h.kind = kind;
        h.abi = 0;
        h.truncated = 0;
        h.syscall_nr = syscall_nr;
        h.str_len = [0; sensor_common::MAX_STRINGS];
        h.abi_nr = 0;
        h.enter_ns = enter_ns;
        h.res = 0;
        h.args = [0; 6];
        h.creds_before = Default::default();
        h.changed = 0;
        h.from_kernel = 0;
        h.unreadable = 0;
        h._pad = 0;
        h.enter_hash = [0; sensor_common::MAX_STRINGS];
        h.task._pad = 0;
        h.task.sid = 0;
        h.task.tty = 0;
        fill_task_info(&mut h.task);
        Some(Self {
            scratch,
            strings: 0,
        })
    }

    #[inline(always)]
    pub fn header(&mut self) -> &mut RecordHeader {
        unsafe { &mut *(self.scratch as *mut RecordHeader) }
    }

    /// Pointer to where the next string byte goes, with the offset masked so the verifier can
    /// prove that a PATH_MAX write from there stays inside the scratch buffer.
    #[inline(always)]
    pub fn cursor(&self) -> *mut u8 {
        let offset = self.strings & (STRINGS_SPAN - 1);
        unsafe { (self.scratch as *mut u8).add(RecordHeader::SIZE + offset) }
    }

    /// Records that `len` more string bytes were written at the cursor.
    #[inline(always)]
    pub fn advance(&mut self, len: usize) {
        self.strings += len;
    }

    /// Takes back the last `len` string bytes.
    #[inline(always)]
    pub fn retreat(&mut self, len: usize) {
        self.strings = self.strings.saturating_sub(len);
    }

    /// Appends the NUL-terminated user string at `src` as string `slot`, at most PATH_MAX - 1
    /// bytes; longer strings are cut and marked truncated. Returns its length, `None` if it
    /// could not be read.
    #[inline(always)]
    pub fn push_user_str(&mut self, slot: usize, src: u64) -> Option<usize> {
        if src == 0 || slot >= sensor_common::MAX_STRINGS {
            return None;
        }
        let ret = unsafe {
            bpf_probe_read_user_str(self.cursor() as *mut _, PATH_MAX as u32, src as *const _)
        };
        if ret <= 0 {
            let h = self.header();
            crate::diag::user_str_failed(h.syscall_nr, h.abi, slot as u8, src, ret);
            return None;
        }
        // `ret` counts the NUL; a full buffer means the string may have gone on.
        let len = (ret as usize - 1) & (PATH_MAX - 1);
        if ret as usize >= PATH_MAX {
            self.header().truncated |= truncated_bit(slot);
        }
        self.header().str_len[slot] = len as u16;
        self.advance(len);
        Some(len)
    }

    /// Leaves the record in the scratch buffer for a tail program (`resume`) to finish.
    #[inline(always)]
    pub fn suspend(self) {
        // SAFETY: this CPU's scratch; the tail program runs next on this CPU.
        unsafe { (*self.scratch).suspended_strings = self.strings as u64 };
    }

    /// Takes up the record a program before this one left with `suspend`.
    #[inline(always)]
    pub fn resume() -> Option<Self> {
        let scratch = SCRATCH.get_ptr_mut(0)?;
        let strings = unsafe { (*scratch).suspended_strings } as usize & (STRINGS_SPAN - 1);
        Some(Self { scratch, strings })
    }

    /// Copies the record into the ring buffer. Wakes the reader only once enough data is
    /// waiting: a wakeup per record halves throughput, and the reader also polls on a timer.
    #[inline(always)]
    pub fn submit(mut self) {
        self.header().ts_ns = unsafe { bpf_ktime_get_ns() };
        let mut size = RecordHeader::SIZE + self.strings;
        if size > SCRATCH_BYTES {
            size = SCRATCH_BYTES;
        }
        // Wake the reader only when a backlog has built up, and look at the backlog only on
        // every WAKEUP_CHECK_EVERY-th record of a CPU: a forced wakeup costs ~1 µs and reading
        // the consumer position a cache miss, each a large part of a record's cost. The reader
        // also polls on a short timer, so quiet periods are covered.
        let scratch = unsafe { &mut *self.scratch };
        scratch.records = scratch.records.wrapping_add(1);
        let flags = if scratch.records % WAKEUP_CHECK_EVERY == 0
            && EVENTS.query(BPF_RB_AVAIL_DATA as u64) >= WAKEUP_THRESHOLD_BYTES
        {
            BPF_RB_FORCE_WAKEUP
        } else {
            BPF_RB_NO_WAKEUP
        } as u64;
        let data = unsafe { core::slice::from_raw_parts(self.scratch as *const u8, size) };
        if EVENTS.output::<[u8]>(data, flags).is_err() {
            count_loss(loss::RING_FULL);
            let h = self.header();
            crate::diag::ring_full(h.kind, h.syscall_nr);
        }
    }
}
