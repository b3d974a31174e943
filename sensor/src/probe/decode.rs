//! Turning ring buffer records into [`Event`]s, joining the exec family's records.

use sensor_common::arg_hash;
use sensor_common::record::{abi, exe_flags, open::OpenedFile, socket::SocketInfo, string_bit};
use sensor_common::syscall::SpecKind;
use sensor_common::{RecordHeader, RecordKind};

use super::compat_syscalls;
use super::exe_path;
use super::syscalls::{self, Family, SyscallDef};
use crate::enrich::lru::LruMap;
use crate::model::socket::{Role, Socket};
use crate::model::{Bytes, Event, EventKind, ExecDetails};

/// Exec images waiting for their syscall's exit. The exit record follows its image within
/// the same call, so only a few (one a CPU) wait at a time; the rest lost their exit (a full
/// ring, an exec whose syscall was not traced: a 32-bit task's while the compat programs are
/// detached). Each holds up to `ARGV_MAX` plus two `PATH_MAX` bytes, so this many stay
/// under 16 MiB however many such execs a process makes; past it the oldest goes.
pub const MAX_PENDING_EXECS: usize = 1024;
/// A pending exec image older than this lost its exit record and is dropped.
const PENDING_EXEC_TTL_NS: u64 = 5_000_000_000;

/// A record split into its header and strings.
pub struct Record<'a> {
    pub header: RecordHeader,
    pub strings: [&'a [u8]; sensor_common::MAX_STRINGS],
}

/// Splits `bytes`; `None` if the record is shorter than its header says.
pub fn parse(bytes: &[u8]) -> Option<Record<'_>> {
    if bytes.len() < RecordHeader::SIZE {
        return None;
    }
    // SAFETY: length checked; the header is plain data, read unaligned.
    let header = unsafe { std::ptr::read_unaligned(bytes.as_ptr() as *const RecordHeader) };
    let mut strings = [&[][..]; sensor_common::MAX_STRINGS];
    let mut offset = RecordHeader::SIZE;
    for (slot, len) in header.str_len.iter().enumerate() {
        let end = offset + *len as usize;
        strings[slot] = bytes.get(offset..end)?;
        offset = end;
    }
    Some(Record { header, strings })
}

/// The bytes of a record as the kernel side writes them: `header` with each string's
/// length set, then the strings. For tests and benchmarks that feed the decoder.
#[doc(hidden)]
pub fn encode(mut header: RecordHeader, strings: &[&[u8]]) -> Vec<u8> {
    header.str_len = [0; sensor_common::MAX_STRINGS];
    for (len, s) in header.str_len.iter_mut().zip(strings) {
        *len = s.len() as u16;
    }
    let mut bytes = vec![0u8; RecordHeader::SIZE];
    // SAFETY: the buffer holds a header's size; plain data, written unaligned.
    unsafe { std::ptr::write_unaligned(bytes.as_mut_ptr() as *mut RecordHeader, header) };
    for s in strings.iter().take(sensor_common::MAX_STRINGS) {
        bytes.extend_from_slice(s);
    }
    bytes
}

/// A record header of `kind` for task `pid` (its only thread), all else zero.
#[doc(hidden)]
pub fn header(kind: RecordKind, pid: u32, ts_ns: u64) -> RecordHeader {
    // SAFETY: every field is an integer or an array of them; zero is a valid value of each.
    let mut h: RecordHeader = unsafe { std::mem::zeroed() };
    h.kind = kind as u8;
    h.ts_ns = ts_ns;
    h.enter_ns = ts_ns;
    h.task.pid = pid;
    h.task.tid = pid;
    h.task.loginuid = u32::MAX;
    h
}

struct PendingExec {
    details: ExecDetails,
    truncated: u16,
    enter_ns: u64,
}

/// Decodes records in ring order. Holds a successful exec's image (`sched_process_exec`) until
/// the syscall's exit arrives.
pub struct Decoder {
    /// CLOCK_REALTIME minus CLOCK_MONOTONIC, to put wall time on kernel timestamps.
    wall_offset_ns: i128,
    pending_exec: LruMap<u32, PendingExec>,
    /// Exec images dropped without their exit (aged out or pushed out at the bound).
    pub exec_images_dropped: u64,
    /// Records that could not be decoded (a kernel/agent mismatch; never expected).
    pub malformed: u64,
}

impl Default for Decoder {
    fn default() -> Self {
        Self::new()
    }
}

fn clock_ns(clock: libc::clockid_t) -> i128 {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: valid clock id and out pointer.
    unsafe { libc::clock_gettime(clock, &mut ts) };
    ts.tv_sec as i128 * 1_000_000_000 + ts.tv_nsec as i128
}

/// Splits NUL-separated argv bytes.
fn split_argv(bytes: &[u8]) -> Vec<Bytes> {
    let bytes = bytes.strip_suffix(&[0]).unwrap_or(bytes);
    if bytes.is_empty() {
        return Vec::new();
    }
    bytes.split(|&b| b == 0).map(Bytes::from).collect()
}

impl Decoder {
    pub fn new() -> Self {
        Self {
            wall_offset_ns: clock_ns(libc::CLOCK_REALTIME) - clock_ns(libc::CLOCK_MONOTONIC),
            pending_exec: LruMap::new(MAX_PENDING_EXECS),
            exec_images_dropped: 0,
            malformed: 0,
        }
    }

    pub fn wall_ns(&self, mono_ns: u64) -> u64 {
        (mono_ns as i128 + self.wall_offset_ns).max(0) as u64
    }

    /// Decodes one record. `None` for records that only feed a later event, or are malformed.
    pub fn decode(&mut self, bytes: &[u8]) -> Option<Event> {
        let Some(record) = parse(bytes) else {
            self.malformed += 1;
            return None;
        };
        let mut h = record.header;
        if h.abi == abi::COMPAT {
            // Arguments of a 32-bit call in its 64-bit twin's meaning.
            compat_syscalls::normalize_args(u32::from(h.abi_nr), &mut h.args);
        }
        let record = Record {
            header: h,
            ..record
        };
        let Some(kind) = RecordKind::from_u8(h.kind) else {
            self.malformed += 1;
            return None;
        };
        match kind {
            // Written by earlier versions of the kernel side only.
            RecordKind::ExecArgs => None,
            RecordKind::ExecImage => {
                self.remember_exec(&record);
                None
            }
            RecordKind::Syscall => {
                let Some(def) = syscalls::by_nr(h.syscall_nr) else {
                    self.malformed += 1;
                    return None;
                };
                let mut event = self.event(EventKind::Syscall(def), &record);
                if def.family == Family::Exec {
                    if let Some(pending) = self.pending_exec.remove(&h.task.tid) {
                        event.truncated |= pending.truncated;
                        event.exec = Some(Box::new(pending.details));
                    } else if h.res < 0 {
                        // A failed exec: the caller's filename and argv, read at the exit.
                        event.exec = Some(Box::new(ExecDetails {
                            filename: record.strings[0].into(),
                            argv: split_argv(record.strings[1]),
                            ..ExecDetails::default()
                        }));
                    }
                }
                if def.kind.captures_creds() {
                    event.creds_before = Some(h.creds_before);
                }
                if def.kind.checks_strings() {
                    let (changed, unverified) = compare_strings(def, &record);
                    event.changed |= changed;
                    event.unverified = unverified;
                }
                if matches!(def.kind, SpecKind::Open | SpecKind::Dup) {
                    opened(def, &mut event, &record);
                } else if def.kind == SpecKind::Socket {
                    socket(def, &mut event, &record);
                }
                Some(event)
            }
            RecordKind::Fork => {
                let child_pid = h.args[0] as u32;
                let mut event = self.event(EventKind::Fork { child_pid }, &record);
                event.res = child_pid as i64;
                Some(event)
            }
            RecordKind::Exit => {
                // An image whose exit never came dies with its process.
                for tid in [h.task.tid, h.task.pid] {
                    if self.pending_exec.remove(&tid).is_some() {
                        self.exec_images_dropped += 1;
                    }
                }
                Some(self.event(
                    EventKind::Exit {
                        status: h.args[0] as u32,
                    },
                    &record,
                ))
            }
        }
    }

    /// Keeps a successful exec's image until its syscall's exit record, under the thread id
    /// the exit will carry (the leader's, if a non-leader thread exec'd).
    fn remember_exec(&mut self, record: &Record<'_>) {
        let h = &record.header;
        // Entries are never used before their removal, so the least recently used is the
        // oldest: aging is a look at one end.
        while self
            .pending_exec
            .oldest()
            .is_some_and(|(_, p)| h.ts_ns.saturating_sub(p.enter_ns) >= PENDING_EXEC_TTL_NS)
        {
            self.pending_exec.pop_oldest();
            self.exec_images_dropped += 1;
        }
        let flags = h.args[1];
        let exe = (flags & exe_flags::NO_IMAGE == 0)
            .then(|| exe_path::assemble(record.strings[2], flags));
        // String 1 is argv, then the environment (`args[2]` bytes of argv).
        let (argv, env) =
            record.strings[1].split_at((h.args[2] as usize).min(record.strings[1].len()));
        let env = env.strip_suffix(&[0]).unwrap_or(env);
        let pushed_out = self.pending_exec.insert(
            h.task.tid,
            PendingExec {
                details: ExecDetails {
                    filename: record.strings[0].into(),
                    argv: split_argv(argv),
                    image: Some(record.strings[0].into()),
                    exe,
                    env: env.into(),
                },
                truncated: h.truncated,
                enter_ns: h.ts_ns,
            },
        );
        if pushed_out.is_some() {
            self.exec_images_dropped += 1;
        }
    }

    /// Exec images waiting for their syscall's exit now.
    pub fn pending_execs(&self) -> usize {
        self.pending_exec.len()
    }

    fn event(&self, kind: EventKind, record: &Record<'_>) -> Event {
        let h = &record.header;
        Event {
            res: h.res,
            enter_ns: h.enter_ns,
            mono_ns: h.ts_ns,
            wall_ns: self.wall_ns(h.ts_ns),
            task: h.task,
            raw_args: h.args,
            strings: record.strings.map(Bytes::from),
            truncated: h.truncated,
            changed: h.changed,
            from_kernel: h.from_kernel,
            ..Event::bare(kind)
        }
    }
}

/// An open's or dup's file as the kernel side read it from the fd table (strings 1 and 2,
/// `sensor_common::record::open`) into `fd_path` (not for a socket, which has no path) and
/// `opened`; those strings are no arguments and go. The mode an open without `O_CREAT` or
/// `O_TMPFILE` passes means nothing (the kernel ignores it) and reads 0, as in Falco.
fn opened(def: &SyscallDef, event: &mut Event, record: &Record<'_>) {
    const CREATES: u64 = 0o100 | 0o20000000;
    if let (Some(flags), Some(mode)) = (def.arg("flags"), def.arg("mode")) {
        if event.raw_args[flags.index as usize] & CREATES == 0 {
            event.raw_args[mode.index as usize] = 0;
        }
    }
    let blob = record.strings[2];
    if event.res >= 0 && blob.len() == OpenedFile::SIZE {
        // SAFETY: length checked; plain data, read unaligned.
        let file = unsafe { std::ptr::read_unaligned(blob.as_ptr() as *const OpenedFile) };
        if file.i_mode & S_IFMT != S_IFSOCK {
            let path = exe_path::assemble(record.strings[1], u64::from(file.path_flags));
            event.fd_path = Some(path.path);
        } else if record.strings[1].len() == SocketInfo::SIZE {
            // A dup'd socket: its ends, as the kernel holds them. Which end is the process's
            // role is not in the socket; a connection dup'd over stdio is taken as the
            // client's (a reverse shell's), as connect would have named it.
            // SAFETY: length checked; plain data, read unaligned.
            let info = unsafe {
                std::ptr::read_unaligned(record.strings[1].as_ptr() as *const SocketInfo)
            };
            set_socket(event, Socket::new(Some(info), &[], Role::Client));
        }
        event.opened = Some(file);
    }
    event.strings[1] = Bytes::default();
    event.strings[2] = Bytes::default();
}

/// A socket call's socket (`sensor_common::record::socket`): string 1 stays, the caller's
/// address, for its argument; the kernel's socket (string 2) goes into `socket`, and an IP
/// socket's `client->server` into `fd_path` (Falco's `fd.name`).
fn socket(def: &SyscallDef, event: &mut Event, record: &Record<'_>) {
    let blob = record.strings[2];
    let kernel = (blob.len() == SocketInfo::SIZE).then(|| {
        // SAFETY: length checked; plain data, read unaligned.
        unsafe { std::ptr::read_unaligned(blob.as_ptr() as *const SocketInfo) }
    });
    let role = if matches!(def.name, "accept" | "accept4" | "bind" | "listen") {
        Role::Server
    } else {
        Role::Client
    };
    set_socket(event, Socket::new(kernel, record.strings[1], role));
    event.strings[2] = Bytes::default();
}

/// `socket` as the event's, and an IP socket's `client->server` as its `fd_path` (Falco's
/// `fd.name`).
fn set_socket(event: &mut Event, socket: Option<Socket>) {
    event.fd_path = socket
        .as_ref()
        .and_then(Socket::name)
        .map(|n| n.into_bytes().into());
    event.socket = socket;
}

const S_IFMT: u32 = 0o170000;
const S_IFSOCK: u32 = 0o140000;

/// Which strings of a `Checked`/`Mount` call differ from what the caller's memory held at
/// the call's enter (`sensor_common::arg_hash`), and which could not be compared because the
/// enter could not read them. A page the caller never touched is not in memory yet, and the
/// kernel side cannot fault it in (the kernel's own copy does, during the call): that is an
/// ordinary program's string literal as often as an attacker's trick, so it is not a change,
/// only unverified. A string the kernel side read from the kernel's structures is compared too,
/// unless the caller gave none: a NULL mount source is "none" to the kernel, and nothing the
/// caller could have swapped.
fn compare_strings(def: &SyscallDef, record: &Record<'_>) -> (u8, u8) {
    let h = &record.header;
    let mut changed = 0;
    let mut unverified = 0;
    for slot in 0..sensor_common::MAX_STRINGS {
        if def.string_arg(slot as u8).is_none() {
            continue;
        }
        let bit = string_bit(slot);
        let at_enter = h.enter_hash[slot];
        if at_enter == arg_hash::UNREADABLE {
            // Read at exit only (unreadable at both ends is a NULL or unmapped pointer).
            if h.from_kernel & bit == 0 && h.unreadable & bit == 0 {
                unverified |= bit;
            }
            continue;
        }
        let at_exit = if h.unreadable & bit != 0 {
            arg_hash::UNREADABLE
        } else {
            arg_hash::of(record.strings[slot])
        };
        if at_exit != at_enter {
            changed |= bit;
        }
    }
    (changed, unverified)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn argv_splits_on_nul() {
        let argv = split_argv(b"/bin/true\0a\0b\0");
        assert_eq!(
            argv,
            vec![
                Bytes::from(&b"/bin/true"[..]),
                b"a"[..].into(),
                b"b"[..].into()
            ]
        );
        assert!(split_argv(b"").is_empty());
        assert_eq!(split_argv(b"x\0\0y\0").len(), 3);
    }

    /// Execs whose syscall exit never comes (as a 32-bit task's while the compat programs are
    /// detached): their images are bounded, aged, and dropped at their process's exit.
    #[test]
    fn exec_images_without_their_exit_do_not_pile_up() {
        let mut decoder = Decoder::new();
        let image = |pid: u32, ts: u64| {
            encode(
                header(RecordKind::ExecImage, pid, ts),
                &[b"/usr/bin/true", b"true\0", b""],
            )
        };
        // Many more than the bound within the age limit: the oldest are pushed out.
        for pid in 0..(MAX_PENDING_EXECS as u32 * 4) {
            assert!(decoder
                .decode(&image(pid + 1, 1_000 + pid as u64))
                .is_none());
        }
        assert_eq!(decoder.pending_execs(), MAX_PENDING_EXECS);
        assert_eq!(decoder.exec_images_dropped, 3 * MAX_PENDING_EXECS as u64);
        // The newest one is still joined with its exit.
        let newest = MAX_PENDING_EXECS as u32 * 4;
        let exit = encode(header(RecordKind::Exit, newest, 2_000_000), &[]);
        decoder.decode(&exit).expect("an exit event");
        assert_eq!(decoder.pending_execs(), MAX_PENDING_EXECS - 1);
        // Past the age limit, the next image clears every stale one.
        decoder.decode(&image(1, PENDING_EXEC_TTL_NS + 1_000_000_000));
        assert_eq!(decoder.pending_execs(), 1);
    }

    #[test]
    fn short_records_are_rejected() {
        assert!(parse(&[0u8; 8]).is_none());
        let mut bytes = vec![0u8; RecordHeader::SIZE];
        // str_len[0] claims 10 bytes that are not there.
        let str_len_offset = std::mem::offset_of!(RecordHeader, str_len);
        bytes[str_len_offset] = 10;
        assert!(parse(&bytes).is_none());
        bytes.extend_from_slice(b"0123456789");
        assert_eq!(parse(&bytes).unwrap().strings[0], b"0123456789");
    }
}
