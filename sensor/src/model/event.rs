//! The typed event every stage after the probe works with.

use std::sync::Arc;

use sensor_common::record::open::{OpenedFile, FMODE_CREATED};
use sensor_common::{Creds, TaskInfo};

use super::container::Container;
use super::flags;
use super::pod::PodInfo;
use super::process::Process;
use super::socket::{self, Socket};
use super::syscalls::{ArgType, CapSet, FlagSet, OpenedField, SyscallDef};

/// A byte string from the kernel: paths and arguments need not be UTF-8.
pub type Bytes = Box<[u8]>;

/// What happened.
#[derive(Clone, Debug)]
pub enum EventKind {
    /// A traced syscall returned.
    Syscall(&'static SyscallDef),
    /// The process created a new process (`sched_process_fork`); reported as Falco's `clone`.
    Fork { child_pid: u32 },
    /// The process ended (its last thread exited); Falco's `procexit`.
    Exit { status: u32 },
}

/// What the exec family adds. For a successful exec all of it is what the kernel used, read
/// from its memory at `sched_process_exec`; for a failed one, the caller's filename and argv.
#[derive(Clone, Debug, Default)]
pub struct ExecDetails {
    pub filename: Bytes,
    pub argv: Vec<Bytes>,
    /// Set by `sched_process_exec` when the exec succeeded: the filename the kernel opened.
    pub image: Option<Bytes>,
    /// The executable's canonical path from the file the kernel mapped (Falco's
    /// `proc.exepath`), when the kernel side could walk it.
    pub exe: Option<ExePath>,
    /// The environment the kernel copied into the new image (NUL-separated `NAME=value`),
    /// for a successful exec (Falco's `proc.env`).
    pub env: Bytes,
}

/// The image's canonical path and whether it is a memory file (`memfd_create`), as the
/// probe assembled it from the kernel's walk (`probe::exe_path::assemble`).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ExePath {
    pub path: Bytes,
    pub memfd: bool,
    /// The file is in an overlayfs's upper layer (`exe_flags::UPPER_LAYER`).
    pub upper_layer: bool,
}

#[derive(Clone, Debug)]
pub struct Event {
    pub kind: EventKind,
    /// The syscall's return value (`-errno` on failure); the child pid for a fork.
    pub res: i64,
    /// CLOCK_MONOTONIC of the call's enter and of the record, in ns.
    pub enter_ns: u64,
    pub mono_ns: u64,
    /// Wall-clock time of the record, ns since the Unix epoch.
    pub wall_ns: u64,
    pub task: TaskInfo,
    /// The caller's credentials before the call (set*id family and capset).
    pub creds_before: Option<Creds>,
    pub raw_args: [u64; 6],
    /// The string arguments, by slot.
    pub strings: [Bytes; sensor_common::MAX_STRINGS],
    /// Which strings (by slot, plus argv) were cut at their bound.
    pub truncated: u16,
    /// Which strings (`sensor_common::record::string_bit`) may not be what the kernel acted
    /// on: the caller's memory changed during the call, or a new mount could not be told
    /// apart from another's.
    pub changed: u8,
    /// Which strings could not be checked for a change: the caller's memory could not be read
    /// at the call's enter (a page it had not touched yet), only at its exit.
    pub unverified: u8,
    /// Which strings were read from the kernel's own structures (a new mount's source and
    /// type) rather than from the caller's memory.
    pub from_kernel: u8,
    pub exec: Option<Box<ExecDetails>>,
    /// The process as the enrich stage knows it, after this event.
    pub process: Option<Arc<Process>>,
    /// The path of the call's file descriptor: for an open, the file the kernel opened
    /// (walked from the fd table, `probe::decode`) or, for a failed open, the path the caller
    /// passed made absolute; for an fd argument, the path it referred to, when the agent
    /// could resolve it.
    pub fd_path: Option<Bytes>,
    /// What the kernel side read about the file a successful open opened.
    pub opened: Option<OpenedFile>,
    /// A socket call's socket: its ends as the kernel holds them, or as the caller named
    /// them.
    pub socket: Option<Socket>,
    /// The container the process runs in; `None` on the host.
    pub container: Option<Arc<Container>>,
    /// The Kubernetes pod and container, from the node's pod cache.
    pub pod: Option<Arc<PodInfo>>,
    /// Names of the effective user and group and of the login user, in the process's root.
    pub user_name: Option<Arc<str>>,
    pub group_name: Option<Arc<str>>,
    pub login_name: Option<Arc<str>>,
}

/// A device number as user space (and Falco's `dev`) encodes it, from the kernel's
/// `MKDEV` form (`major << 20 | minor`): `new_encode_dev`, as `stat`'s `st_dev`.
pub fn user_dev(kernel_dev: u32) -> u32 {
    let (major, minor) = (kernel_dev >> 20, kernel_dev & 0xf_ffff);
    (minor & 0xff) | (major << 8) | ((minor & !0xff) << 12)
}

/// One argument, rendered.
#[derive(Clone, Debug, PartialEq)]
pub enum ArgValue<'a> {
    /// A string from the caller's memory.
    Bytes(&'a [u8]),
    /// A number shown as a number (fds, ids).
    Int(i64),
    /// A number with a textual rendering (mode, flags): `evt.arg` shows the text and
    /// `evt.rawarg` the number.
    Named { text: String, raw: u64 },
    /// Text the agent built (an address, a connection's tuple).
    Text(String),
}

impl Event {
    /// An event of `kind` that carries nothing else yet.
    pub fn bare(kind: EventKind) -> Self {
        Event {
            kind,
            res: 0,
            enter_ns: 0,
            mono_ns: 0,
            wall_ns: 0,
            task: TaskInfo::default(),
            creds_before: None,
            raw_args: [0; 6],
            strings: Default::default(),
            truncated: 0,
            changed: 0,
            unverified: 0,
            from_kernel: 0,
            exec: None,
            process: None,
            fd_path: None,
            opened: None,
            socket: None,
            container: None,
            pod: None,
            user_name: None,
            group_name: None,
            login_name: None,
        }
    }

    /// Falco's `evt.type`.
    pub fn evt_type(&self) -> &'static str {
        match &self.kind {
            EventKind::Syscall(def) => def.name,
            EventKind::Fork { .. } => "clone",
            EventKind::Exit { .. } => "procexit",
        }
    }

    pub fn syscall(&self) -> Option<&'static SyscallDef> {
        match self.kind {
            EventKind::Syscall(def) => Some(def),
            _ => None,
        }
    }

    /// The event's arguments with Falco's names, in the syscall's order.
    pub fn args(&self) -> Vec<(&'static str, ArgValue<'_>)> {
        match &self.kind {
            EventKind::Syscall(def) => {
                let mut out: Vec<(&'static str, ArgValue<'_>)> = def
                    .args
                    .iter()
                    .map(|a| (a.name, self.arg_value(a.ty, a.index)))
                    .collect();
                if let Some(exec) = &self.exec {
                    if def.name == "execveat" {
                        if let Some(image) = &exec.image {
                            out.push(("filename", ArgValue::Bytes(image)));
                        }
                    }
                }
                out
            }
            EventKind::Fork { child_pid } => vec![("pid", ArgValue::Int(*child_pid as i64))],
            EventKind::Exit { status } => vec![("status", ArgValue::Int(*status as i64))],
        }
    }

    fn arg_value(&self, ty: ArgType, index: u8) -> ArgValue<'_> {
        let raw = self.raw_args[index as usize];
        match ty {
            ArgType::Str(slot) => match &self.exec {
                // The exec family carries its filename in the exec details.
                Some(exec) if slot == 0 => ArgValue::Bytes(&exec.filename),
                _ => ArgValue::Bytes(&self.strings[slot as usize]),
            },
            // `int` arguments sit in 8-byte slots: cast through i32 so AT_FDCWD reads -100.
            ArgType::Fd | ArgType::Dirfd => ArgValue::Int(raw as u32 as i32 as i64),
            ArgType::Id | ArgType::Int => ArgValue::Int(raw as u32 as i32 as i64),
            ArgType::Num => ArgValue::Int(raw as i64),
            ArgType::Hex => ArgValue::Named {
                text: flags::hex(raw & 0xffff_ffff),
                raw: raw & 0xffff_ffff,
            },
            ArgType::Enum(set) => {
                // Every enumerated argument is an `int` or narrower in an 8-byte slot.
                let raw = raw & 0xffff_ffff;
                ArgValue::Named {
                    text: flags::enum_name(set, raw),
                    raw,
                }
            }
            ArgType::Mode => ArgValue::Named {
                text: flags::mode(raw & 0o7777),
                raw: raw & 0o7777,
            },
            ArgType::Flags(FlagSet::Open) => {
                // Flags are an `int`; whether the open created the file is the kernel's word.
                let mut raw = raw & 0xffff_ffff;
                if self.opened.is_some_and(|o| o.f_mode & FMODE_CREATED != 0) {
                    raw |= flags::O_F_CREATED;
                }
                ArgValue::Named {
                    text: flags::flags(FlagSet::Open, raw),
                    raw,
                }
            }
            ArgType::Flags(set) => ArgValue::Named {
                text: flags::flags(set, raw),
                raw,
            },
            ArgType::Res => ArgValue::Int(self.res),
            ArgType::SockAddr | ArgType::MsgAddr => {
                ArgValue::Text(socket::sockaddr_text(&self.strings[1]))
            }
            ArgType::Tuple => ArgValue::Text(
                self.socket
                    .as_ref()
                    .and_then(Socket::name)
                    .unwrap_or_default(),
            ),
            ArgType::Oct => ArgValue::Named {
                text: flags::octal(raw & 0o7777),
                raw: raw & 0o7777,
            },
            ArgType::Opened(field) => match (field, self.opened) {
                (OpenedField::Dev, Some(o)) => ArgValue::Named {
                    text: flags::hex(u64::from(user_dev(o.dev))),
                    raw: u64::from(user_dev(o.dev)),
                },
                (OpenedField::Ino, Some(o)) => ArgValue::Int(o.ino as i64),
                // A failed open has neither, as in Falco's (which shows 0).
                (OpenedField::Dev, None) => ArgValue::Named {
                    text: "0".to_string(),
                    raw: 0,
                },
                (OpenedField::Ino, None) => ArgValue::Int(0),
            },
            ArgType::CapSet(which) => {
                let set = self.capability_set(which);
                ArgValue::Named {
                    text: flags::capabilities(set),
                    raw: set,
                }
            }
        }
    }

    /// capset's data: two `{effective, permitted, inheritable}` u32 triples, low then high.
    fn capability_set(&self, which: CapSet) -> u64 {
        let data = &self.strings[0];
        let word = |i: usize| -> u64 {
            data.get(i * 4..i * 4 + 4)
                .map_or(0, |b| u32::from_ne_bytes([b[0], b[1], b[2], b[3]]) as u64)
        };
        let i = match which {
            CapSet::Effective => 0,
            CapSet::Permitted => 1,
            CapSet::Inheritable => 2,
        };
        word(i) | (word(i + 3) << 32)
    }

    /// The process name (`proc.name`): the kernel's comm.
    pub fn comm(&self) -> &[u8] {
        let end = self
            .task
            .comm
            .iter()
            .position(|&b| b == 0)
            .unwrap_or(self.task.comm.len());
        &self.task.comm[..end]
    }

    /// Names of the arguments (`evt.arg.<name>`) the caller's memory changed during the call.
    pub fn tampered_fields(&self) -> Vec<String> {
        self.string_args(self.changed)
    }

    /// Names of the arguments that could not be checked for a change (see `unverified`).
    pub fn unverified_fields(&self) -> Vec<String> {
        self.string_args(self.unverified)
    }

    /// Names of the arguments read from the kernel's structures (`evt.arg.<name>`).
    pub fn kernel_fields(&self) -> Vec<String> {
        self.string_args(self.from_kernel)
    }

    /// `evt.arg.<name>` of the string arguments whose `string_bit`s are set in `bits`.
    fn string_args(&self, bits: u8) -> Vec<String> {
        let Some(def) = self.syscall() else {
            return Vec::new();
        };
        (0..sensor_common::MAX_STRINGS as u8)
            .filter(|&slot| bits & sensor_common::record::string_bit(slot as usize) != 0)
            .filter_map(|slot| def.string_arg(slot))
            .map(|arg| format!("evt.arg.{}", arg.name))
            .collect()
    }

    /// Names of fields whose value was cut at its bound.
    pub fn truncated_fields(&self) -> Vec<String> {
        let mut out = Vec::new();
        if let Some(def) = self.syscall() {
            for slot in 0..sensor_common::MAX_STRINGS as u8 {
                if self.truncated & sensor_common::record::truncated_bit(slot as usize) != 0 {
                    match (slot, self.exec.is_some()) {
                        (1, true) => out.push("proc.cmdline".to_string()),
                        (2, true) => out.push("proc.exepath".to_string()),
                        _ => {
                            if let Some(arg) = def.string_arg(slot) {
                                out.push(format!("evt.arg.{}", arg.name));
                            }
                        }
                    }
                }
            }
            if self.truncated & sensor_common::record::TRUNCATED_ARGV_COUNT != 0
                && !out.iter().any(|f| f == "proc.cmdline")
            {
                out.push("proc.cmdline".to_string());
            }
            if self.truncated & sensor_common::record::TRUNCATED_ENV != 0 {
                out.push("proc.env".to_string());
            }
        }
        out
    }
}
