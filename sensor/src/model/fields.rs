//! Falco's fields of an event, each defined once: its name, its type, how it is read from
//! the event, and whether `sensor events --json` shows it. The Falco JSON event output
//! (`event::json`), the rules adapter (`rules::fields`) and the gRPC message
//! (`sinks::record`) all read fields through this table, so they cannot disagree.
//!
//! A field is read on demand through a [`View`] of one event: values built from several
//! parts (command lines, rendered arguments, labels) are built on first use and kept for
//! the rest of the event's life, so a rule that reads three fields pays for three.

use std::cell::OnceCell;
use std::net::IpAddr;

use sensor_rules::fields::FieldType;
use sensor_rules::{FieldArg, FieldValue, ValueList};

use sensor_common::record::open::{FMODE_READ, FMODE_WRITE};
use sensor_common::syscall::SpecKind;

use super::flags;
use super::process::Process;
use super::socket::{Names, Role, Socket};
use super::syscalls::ArgType;
use super::{ArgValue, Bytes, Event, EventKind};

/// How a field's value is read from the event's view; `None` when the event has none.
pub type Read = for<'v, 'e> fn(&'v View<'e>, &FieldArg) -> Option<FieldValue<'v>>;

/// What the Falco JSON event output (`sensor events --json`) does with a field.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Json {
    /// Shown when the event has a value.
    Shown,
    /// Shown only when true (flags that are rare and false otherwise).
    IfTrue,
    /// Shown as `"<NA>"` for a container process whose pod is not known, as Falco does.
    OrNaInContainer,
    /// Every argument, as `evt.arg.NAME` (and `evt.rawarg.NAME` for named numbers).
    Arguments,
    /// A JSON object of the pod's labels.
    Labels,
    /// Not shown (lineage, annotations, per-key lookups): rules and templates read it.
    Hidden,
}

/// Whether the rules adapter supplies a field.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Rules {
    /// A field of the engine's registry; the adapter supplies it.
    Builtin,
    /// A field the sensor adds to the engine's registry, with its description.
    Added(&'static str),
    /// Derived by the engine from another field (`evt.res` from `evt.rawres`, `evt.time`
    /// from `evt.rawtime`), so the adapter does not build it per event; the agreement test
    /// checks the engine's derivation shows what this table does.
    Derived,
    /// Not a field of the rule language (the JSON output's own extras).
    No,
}

/// One Falco field.
pub struct Field {
    pub name: &'static str,
    pub ty: FieldType,
    pub read: Read,
    pub json: Json,
    pub rules: Rules,
}

impl Field {
    pub fn read<'v>(&self, view: &'v View<'_>) -> Option<FieldValue<'v>> {
        (self.read)(view, &FieldArg::None)
    }

    pub fn read_arg<'v>(&self, view: &'v View<'_>, arg: &FieldArg) -> Option<FieldValue<'v>> {
        (self.read)(view, arg)
    }
}

/// Which ancestor attribute a `proc.a*` list yields.
#[derive(Clone, Copy)]
enum Ancestry {
    Name,
    Pid,
    Exe,
    ExePath,
}

/// Every ancestor of a process (parent first) as one list value.
struct Ancestors<'a> {
    process: Option<&'a Process>,
    what: Ancestry,
}

impl ValueList for Ancestors<'_> {
    fn len(&self) -> usize {
        self.process
            .map_or(0, |p| p.ancestors().count().saturating_sub(1))
    }

    fn get(&self, index: usize) -> Option<FieldValue<'_>> {
        ancestor_value(self.process?.ancestor(index + 1)?, self.what)
    }
}

fn ancestor_value(p: &Process, what: Ancestry) -> Option<FieldValue<'_>> {
    Some(match what {
        Ancestry::Name => FieldValue::Str(&p.comm),
        Ancestry::Pid => FieldValue::I64(p.pid as i64),
        Ancestry::Exe => FieldValue::Str(&p.exe),
        Ancestry::ExePath => FieldValue::Str(&p.exepath),
    })
}

/// An address's host names: one name as a string, several as a list.
fn names_value(names: &Names) -> Option<FieldValue<'_>> {
    match &names.0[..] {
        [] => None,
        [one] => Some(FieldValue::Str(one.as_bytes())),
        _ => Some(FieldValue::List(names)),
    }
}

/// Addresses as one list value (both ends of a connection).
struct IpList(Vec<IpAddr>);

impl ValueList for IpList {
    fn len(&self) -> usize {
        self.0.len()
    }

    fn get(&self, index: usize) -> Option<FieldValue<'_>> {
        <[IpAddr]>::get(&self.0, index).map(|ip| FieldValue::Ip(*ip))
    }
}

/// `key:value` pairs as Falco lists labels.
struct Pairs(Vec<Vec<u8>>);

impl Pairs {
    fn of(pairs: &[(Box<str>, Box<str>)]) -> Self {
        Self(
            pairs
                .iter()
                .map(|(k, v)| format!("{k}:{v}").into_bytes())
                .collect(),
        )
    }
}

impl ValueList for Pairs {
    fn len(&self) -> usize {
        self.0.len()
    }

    fn get(&self, index: usize) -> Option<FieldValue<'_>> {
        <[Vec<u8>]>::get(&self.0, index).map(|v| FieldValue::Str(v))
    }
}

/// Joins argv the way /proc shows a command line: arguments separated by spaces.
pub fn join_args(args: &[Bytes]) -> Vec<u8> {
    let mut out = Vec::new();
    for (i, a) in args.iter().enumerate() {
        if i > 0 {
            out.push(b' ');
        }
        out.extend_from_slice(a);
    }
    out
}

/// One event as its fields are read: the event and the values built from it so far.
pub struct View<'e> {
    pub event: &'e Event,
    ancestors: [Ancestors<'e>; 4],
    time: OnceCell<String>,
    result: OnceCell<String>,
    cmdline: OnceCell<Vec<u8>>,
    args_joined: OnceCell<Vec<u8>>,
    parent_cmdline: OnceCell<Vec<u8>>,
    ancestor_cmdlines: OnceCell<Vec<Vec<u8>>>,
    rendered_args: OnceCell<Vec<(&'static str, Vec<u8>)>>,
    all_args: OnceCell<Vec<u8>>,
    labels: OnceCell<Pairs>,
    annotations: OnceCell<Pairs>,
    /// `thread.cap_*` as text: inheritable, permitted, effective.
    capabilities: [OnceCell<Vec<u8>>; 3],
    /// A socket call's client and server addresses (`fd.ip`, `fd.net`).
    socket_ends: OnceCell<IpList>,
    /// `proc.env` with its entries separated by spaces.
    env: OnceCell<Vec<u8>>,
}

impl<'e> View<'e> {
    pub fn new(event: &'e Event) -> Self {
        let process = event.process.as_deref();
        let list = |what| Ancestors { process, what };
        Self {
            event,
            ancestors: [
                list(Ancestry::Name),
                list(Ancestry::Pid),
                list(Ancestry::Exe),
                list(Ancestry::ExePath),
            ],
            time: OnceCell::new(),
            result: OnceCell::new(),
            cmdline: OnceCell::new(),
            args_joined: OnceCell::new(),
            parent_cmdline: OnceCell::new(),
            ancestor_cmdlines: OnceCell::new(),
            rendered_args: OnceCell::new(),
            all_args: OnceCell::new(),
            labels: OnceCell::new(),
            annotations: OnceCell::new(),
            capabilities: Default::default(),
            socket_ends: OnceCell::new(),
            env: OnceCell::new(),
        }
    }

    /// Capability set `which` of `TaskInfo::caps` as Falco's `thread.cap_*` show it: names
    /// separated by spaces.
    fn capabilities(&self, which: usize) -> &[u8] {
        let set = self.event.task.caps.get(which).copied().unwrap_or(0);
        self.capabilities[which % 3]
            .get_or_init(|| flags::capabilities_joined(set, " ").into_bytes())
    }

    /// The event, if it is an open's.
    fn open(&self) -> Option<&'e Event> {
        self.event
            .syscall()
            .is_some_and(|d| d.kind == SpecKind::Open)
            .then_some(self.event)
    }

    /// An open's flags and mode as the caller passed them (creat's are implied).
    fn open_flags_and_mode(&self) -> Option<(u64, u64)> {
        let event = self.open()?;
        let def = event.syscall()?;
        let arg = |name| {
            def.arg(name)
                .map(|a| event.raw_args[a.index as usize] & 0xffff_ffff)
        };
        // creat(path, mode) is open(path, O_CREAT|O_WRONLY|O_TRUNC, mode).
        let flags = arg("flags").unwrap_or(O_CREAT | O_TRUNC | 1);
        Some((flags, arg("mode").unwrap_or(0)))
    }

    /// What kind of file the call's fd is: from the kernel's inode (and a socket's family)
    /// when the kernel side read the file (an open's or a dup's), from `O_DIRECTORY` for an
    /// open that opened nothing.
    fn fd_kind(&self) -> Option<FdKind> {
        if let Some(socket) = &self.event.socket {
            return Some(FdKind::of(S_IFSOCK, socket.family));
        }
        if let Some(file) = self.event.opened {
            return Some(FdKind::of(file.i_mode, file.sock_family));
        }
        Some(if self.open_flags_and_mode()?.0 & O_DIRECTORY != 0 {
            FdKind::Directory
        } else {
            FdKind::File
        })
    }

    fn is_directory(&self) -> bool {
        self.fd_kind() == Some(FdKind::Directory)
    }

    /// Whether an open reads and writes: from the kernel's file mode when it opened a file
    /// (the access it got, whatever a racing thread did to openat2's flags), else from the
    /// flags' access mode.
    fn open_access(&self) -> Option<(bool, bool)> {
        if let Some(file) = self.open()?.opened {
            return Some((
                file.f_mode & FMODE_READ != 0,
                file.f_mode & FMODE_WRITE != 0,
            ));
        }
        let access = self.open_flags_and_mode()?.0 & 0o3;
        Some((access == 0 || access == 2, access == 1 || access == 2))
    }

    /// Both ends' addresses of a socket call, as one list value; none if neither is known.
    fn socket_ends(&self) -> Option<FieldValue<'_>> {
        let ends = self.socket_ends.get_or_init(|| {
            IpList(
                self.socket()
                    .map(|s| {
                        [s.client(), s.server()]
                            .iter()
                            .flatten()
                            .map(|e| e.ip)
                            .collect()
                    })
                    .unwrap_or_default(),
            )
        });
        (!ends.0.is_empty()).then_some(FieldValue::List(ends))
    }

    /// A socket call's socket, if it was an IP one or the caller named an address.
    fn socket(&self) -> Option<&'e Socket> {
        self.event.socket.as_ref()
    }

    fn process(&self) -> Option<&'e Process> {
        self.event.process.as_deref()
    }

    fn parent(&self) -> Option<&'e Process> {
        self.process()?.parent.as_deref()
    }

    /// The syscall result, for the events that have one (clone's is the child's pid).
    fn res(&self) -> Option<i64> {
        matches!(
            self.event.kind,
            EventKind::Syscall(_) | EventKind::Fork { .. }
        )
        .then_some(self.event.res)
    }

    /// Arguments rendered as Falco prints them (`evt.arg.mode` is `S_IXUSR|...`).
    fn rendered_args(&self) -> &[(&'static str, Vec<u8>)] {
        self.rendered_args.get_or_init(|| {
            self.event
                .args()
                .into_iter()
                .map(|(name, value)| (name, rendered_arg(value)))
                .collect()
        })
    }

    fn ancestor_list(&self, what: Ancestry, arg: &FieldArg) -> Option<FieldValue<'_>> {
        match arg {
            FieldArg::Index(n) => ancestor_value(self.process()?.ancestor(*n as usize)?, what),
            _ => Some(FieldValue::List(&self.ancestors[what as usize])),
        }
    }

    fn ancestor_cmdline(&self, arg: &FieldArg) -> Option<FieldValue<'_>> {
        let all = self.ancestor_cmdlines.get_or_init(|| {
            self.process()
                .map(|p| p.ancestors().map(Process::cmdline).collect())
                .unwrap_or_default()
        });
        match arg {
            FieldArg::Index(n) => <[Vec<u8>]>::get(all, *n as usize).map(|c| FieldValue::Str(c)),
            // Without an index, Falco's proc.acmdline means the parent's.
            _ => <[Vec<u8>]>::get(all, 1).map(|c| FieldValue::Str(c)),
        }
    }

    /// A field's value as text, as the gRPC message carries it (invalid UTF-8 replaced, as
    /// Falco's gRPC output and the alert's `output_fields` do).
    pub fn text(&self, field: &Field) -> Option<String> {
        value_text(&field.read(self)?)
    }

    pub fn int(&self, field: &Field) -> Option<i64> {
        match field.read(self)? {
            FieldValue::I64(v) => Some(v),
            FieldValue::U64(v) => i64::try_from(v).ok(),
            _ => None,
        }
    }

    pub fn uint(&self, field: &Field) -> Option<u64> {
        match field.read(self)? {
            FieldValue::U64(v) => Some(v),
            FieldValue::I64(v) => u64::try_from(v).ok(),
            _ => None,
        }
    }
}

/// An argument as `evt.arg.NAME` reads: its text.
pub fn rendered_arg(value: ArgValue<'_>) -> Vec<u8> {
    match value {
        ArgValue::Bytes(b) => b.to_vec(),
        ArgValue::Int(i) => i.to_string().into_bytes(),
        ArgValue::Named { text, .. } => text.into_bytes(),
        ArgValue::Text(text) => text.into_bytes(),
    }
}

/// A scalar value as text (lists have none).
pub fn value_text(value: &FieldValue<'_>) -> Option<String> {
    Some(match value {
        FieldValue::Str(b) => String::from_utf8_lossy(b).into_owned(),
        FieldValue::I64(v) => v.to_string(),
        FieldValue::U64(v) => v.to_string(),
        FieldValue::Bool(v) => v.to_string(),
        FieldValue::Ip(ip) => ip.to_string(),
        FieldValue::List(_) => return None,
    })
}

/// Falco's `user.loginuid`: -1 when unset (`(uid_t)-1`), else the uid as it is. (A cast
/// through `i32` would show uids above 2^31 as negative numbers.)
pub fn loginuid(raw: u32) -> i64 {
    if raw == u32::MAX {
        -1
    } else {
        i64::from(raw)
    }
}

/// `dirname` and `basename` of an absolute path (`/etc/shadow`: `/etc`, `shadow`; `/x`:
/// `/`, `x`).
fn split_path(path: &[u8]) -> (&[u8], &[u8]) {
    match path.iter().rposition(|&b| b == b'/') {
        Some(0) => (&path[..1], &path[1..]),
        Some(i) => (&path[..i], &path[i + 1..]),
        None => (&path[..0], path),
    }
}

/// A file descriptor's type, as Falco's `fd.type` and `fd.typechar` name it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum FdKind {
    File,
    Directory,
    Ipv4,
    Ipv6,
    Unix,
    Netlink,
    Pipe,
    Unknown,
}

impl FdKind {
    fn of(i_mode: u32, sock_family: u16) -> Self {
        const AF_UNIX: u16 = 1;
        const AF_INET: u16 = 2;
        const AF_INET6: u16 = 10;
        const AF_NETLINK: u16 = 16;
        match i_mode & S_IFMT {
            S_IFDIR => Self::Directory,
            S_IFSOCK => match sock_family {
                AF_INET => Self::Ipv4,
                AF_INET6 => Self::Ipv6,
                AF_UNIX => Self::Unix,
                AF_NETLINK => Self::Netlink,
                _ => Self::Unknown,
            },
            S_IFIFO => Self::Pipe,
            // Anonymous inodes (eventfd, epoll, ...) have no type bits.
            0 => Self::Unknown,
            _ => Self::File,
        }
    }

    fn name(self) -> &'static [u8] {
        match self {
            Self::File => b"file",
            Self::Directory => b"directory",
            Self::Ipv4 => b"ipv4",
            Self::Ipv6 => b"ipv6",
            Self::Unix => b"unix",
            Self::Netlink => b"netlink",
            Self::Pipe => b"pipe",
            Self::Unknown => b"unknown",
        }
    }

    fn letter(self) -> &'static [u8] {
        match self {
            Self::File => b"f",
            Self::Directory => b"d",
            Self::Ipv4 => b"4",
            Self::Ipv6 => b"6",
            Self::Unix => b"u",
            Self::Netlink => b"n",
            Self::Pipe => b"p",
            Self::Unknown => b"o",
        }
    }
}

const O_CREAT: u64 = 0o100;
const O_TRUNC: u64 = 0o1000;
const O_DIRECTORY: u64 = 0o200000;
/// `__O_TMPFILE`.
const O_TMPFILE: u64 = 0o20000000;
const S_IFMT: u32 = 0o170000;
const S_IFDIR: u32 = 0o040000;
const S_IFSOCK: u32 = 0o140000;
const S_IFIFO: u32 = 0o010000;

use FieldType::{Bool, Int64, Ip, IpNet, String as Text, Uint64};
use FieldValue as V;

const fn field(name: &'static str, ty: FieldType, read: Read, json: Json, rules: Rules) -> Field {
    Field {
        name,
        ty,
        read,
        json,
        rules,
    }
}

const SHOWN: Json = Json::Shown;
const HIDDEN: Json = Json::Hidden;
const BUILTIN: Rules = Rules::Builtin;

pub static EVT_TIME: Field = field(
    "evt.time",
    Text,
    |v, _| {
        let wall = std::time::UNIX_EPOCH + std::time::Duration::from_nanos(v.event.wall_ns);
        let text = v
            .time
            .get_or_init(|| humantime::format_rfc3339_nanos(wall).to_string());
        Some(V::str(text))
    },
    SHOWN,
    Rules::Derived,
);
pub static EVT_RAWTIME: Field = field(
    "evt.rawtime",
    Uint64,
    |v, _| Some(V::U64(v.event.wall_ns)),
    SHOWN,
    BUILTIN,
);
pub static EVT_MONOTIME: Field = field(
    "evt.monotime",
    Uint64,
    |v, _| Some(V::U64(v.event.mono_ns)),
    SHOWN,
    Rules::No,
);
pub static EVT_TYPE: Field = field(
    "evt.type",
    Text,
    |v, _| Some(V::str(v.event.evt_type())),
    SHOWN,
    Rules::Derived,
);
pub static EVT_DIR: Field = field(
    "evt.dir",
    Text,
    |_, _| Some(V::str("<")),
    SHOWN,
    Rules::Derived,
);
pub static EVT_LATENCY: Field = field(
    "evt.latency",
    Uint64,
    // Known only where an enter program ran (exec, set*id, capset).
    |v, _| {
        let e = v.event;
        v.event.syscall()?;
        (e.enter_ns != 0).then(|| V::U64(e.mono_ns.saturating_sub(e.enter_ns)))
    },
    SHOWN,
    Rules::No,
);
pub static EVT_RES: Field = field(
    "evt.res",
    Text,
    |v, _| {
        let res = v.res()?;
        Some(V::str(v.result.get_or_init(|| flags::result(res))))
    },
    SHOWN,
    Rules::Derived,
);
pub static EVT_RAWRES: Field = field(
    "evt.rawres",
    Int64,
    |v, _| Some(V::I64(v.res()?)),
    SHOWN,
    BUILTIN,
);
pub static EVT_FAILED: Field = field(
    "evt.failed",
    Bool,
    |v, _| Some(V::Bool(v.res()? < 0)),
    SHOWN,
    Rules::Derived,
);
pub static EVT_ARG: Field = field(
    "evt.arg",
    Text,
    |v, arg| {
        let args = v.rendered_args();
        let found = match arg {
            FieldArg::Key(name) => args.iter().find(|(n, _)| *n == &**name),
            FieldArg::Index(i) => args.get(*i as usize),
            FieldArg::None => None,
        };
        Some(V::Str(&found?.1))
    },
    Json::Arguments,
    BUILTIN,
);
pub static EVT_ARGS: Field = field(
    "evt.args",
    Text,
    |v, _| {
        Some(V::Str(v.all_args.get_or_init(|| {
            let mut out = Vec::new();
            for (i, (name, value)) in v.rendered_args().iter().enumerate() {
                if i > 0 {
                    out.push(b' ');
                }
                out.extend_from_slice(name.as_bytes());
                out.push(b'=');
                out.extend_from_slice(value);
            }
            out
        })))
    },
    HIDDEN,
    BUILTIN,
);
pub static FD_NAME: Field = field(
    "fd.name",
    Text,
    |v, _| Some(V::Str(v.event.fd_path.as_deref()?)),
    SHOWN,
    Rules::Added(
        "For an open: the file the kernel opened, absolute, as it resolved it (symlinks and `..` followed); for a failed open the requested path made absolute; for a call with an fd argument (fchmod, fsconfig...): the path the fd refers to.",
    ),
);
pub static FD_NAMERAW: Field = field(
    "fd.nameraw",
    Text,
    |v, _| Some(V::Str(&v.open()?.strings[0])),
    SHOWN,
    Rules::Added(
        "For an open: the path as the caller passed it (`fd.name` is the file the kernel opened).",
    ),
);
pub static FD_DIRECTORY: Field = field(
    "fd.directory",
    Text,
    |v, _| {
        let name = v.event.fd_path.as_deref()?;
        if v.is_directory() {
            return Some(V::Str(name));
        }
        Some(V::Str(split_path(name).0))
    },
    HIDDEN,
    Rules::Added("The directory of `fd.name` (`fd.name` itself for a directory)."),
);
pub static FD_FILENAME: Field = field(
    "fd.filename",
    Text,
    |v, _| {
        if v.is_directory() {
            return None;
        }
        Some(V::Str(split_path(v.event.fd_path.as_deref()?).1))
    },
    HIDDEN,
    Rules::Added("The last component of `fd.name` (none for a directory)."),
);
pub static FD_TYPECHAR: Field = field(
    "fd.typechar",
    Text,
    |v, _| Some(V::Str(v.fd_kind()?.letter())),
    SHOWN,
    Rules::Added("For an open or a dup: Falco's letter for the fd's type (`f` file, `d` directory, `4` IPv4 socket, `6` IPv6, `u` Unix, `p` pipe, `n` netlink, `o` other)."),
);
pub static FD_TYPE: Field = field(
    "fd.type",
    Text,
    |v, _| Some(V::Str(v.fd_kind()?.name())),
    HIDDEN,
    Rules::Added("For an open or a dup: the fd's type as Falco names it (`file`, `directory`, `ipv4`, `ipv6`, `unix`, `pipe`, `netlink`, `unknown`)."),
);
pub static FD_NUM: Field = field(
    "fd.num",
    Int64,
    |v, _| {
        let def = v.event.syscall()?;
        if def.args.iter().any(|a| a.ty == ArgType::Res) {
            // An open's or accept's result; a failed one's is -1, as in Falco
            // (`open_file_failed`: `fd.num=-1`).
            return Some(V::I64(v.event.res.max(-1)));
        }
        let arg = def.args.iter().find(|a| a.ty == ArgType::Fd)?;
        Some(V::I64(
            v.event.raw_args[arg.index as usize] as u32 as i32 as i64,
        ))
    },
    SHOWN,
    Rules::Added(
        "The call's file descriptor: an open's result (-1 if it failed), or the fd argument.",
    ),
);
pub static FD_L4PROTO: Field = field(
    "fd.l4proto",
    Text,
    |v, _| Some(V::str(v.socket()?.l4proto())),
    HIDDEN,
    Rules::Added("For a socket call: `tcp`, `udp`, `icmp` or `raw`, from the kernel's socket."),
);
pub static FD_SOCKFAMILY: Field = field(
    "fd.sockfamily",
    Text,
    |v, _| Some(V::str(v.socket()?.family_name()?)),
    HIDDEN,
    Rules::Added("For a socket call: `ip` or `unix`."),
);
pub static FD_CONNECTED: Field = field(
    "fd.connected",
    Bool,
    |v, _| Some(V::Bool(v.socket()?.connected)),
    HIDDEN,
    Rules::Added("For a socket call: whether the kernel's socket has a peer after the call."),
);
pub static FD_NAME_CHANGED: Field = field(
    "fd.name_changed",
    Bool,
    |v, _| Some(V::Bool(v.socket()?.per_call_remote)),
    HIDDEN,
    Rules::Added("For a socket call: whether the remote end is the address this call named (a send on an unconnected socket) rather than the socket's peer."),
);
pub static FD_IS_SERVER: Field = field(
    "fd.is_server",
    Bool,
    |v, _| Some(V::Bool(v.socket()?.role == Role::Server)),
    HIDDEN,
    Rules::Added(
        "For a socket call: whether the process is the server end (accept, bind, listen).",
    ),
);
pub static FD_SPORT: Field = field(
    "fd.sport",
    Uint64,
    |v, _| Some(V::U64(u64::from(v.socket()?.server()?.port))),
    HIDDEN,
    Rules::Added("For a socket call: the server end's port."),
);
pub static FD_CPORT: Field = field(
    "fd.cport",
    Uint64,
    |v, _| Some(V::U64(u64::from(v.socket()?.client()?.port))),
    HIDDEN,
    Rules::Added("For a socket call: the client end's port."),
);
pub static FD_LPORT: Field = field(
    "fd.lport",
    Uint64,
    |v, _| Some(V::U64(u64::from(v.socket()?.local?.port))),
    HIDDEN,
    Rules::Added("For a socket call: the local port."),
);
pub static FD_RPORT: Field = field(
    "fd.rport",
    Uint64,
    |v, _| Some(V::U64(u64::from(v.socket()?.remote?.port))),
    HIDDEN,
    Rules::Added("For a socket call: the remote port."),
);
pub static FD_PORT: Field = field(
    "fd.port",
    Uint64,
    |v, _| Some(V::U64(u64::from(v.socket()?.server()?.port))),
    HIDDEN,
    Rules::Added("For a socket call: the server end's port (Falco matches either end's; rules use it for the service port)."),
);
pub static FD_SIP: Field = field(
    "fd.sip",
    Ip,
    |v, _| Some(V::Ip(v.socket()?.server()?.ip)),
    HIDDEN,
    Rules::Added("For a socket call: the server end's IP address."),
);
pub static FD_CIP: Field = field(
    "fd.cip",
    Ip,
    |v, _| Some(V::Ip(v.socket()?.client()?.ip)),
    HIDDEN,
    Rules::Added("For a socket call: the client end's IP address."),
);
pub static FD_LIP: Field = field(
    "fd.lip",
    Ip,
    |v, _| Some(V::Ip(v.socket()?.local?.ip)),
    HIDDEN,
    Rules::Added("For a socket call: the local IP address."),
);
pub static FD_RIP: Field = field(
    "fd.rip",
    Ip,
    |v, _| Some(V::Ip(v.socket()?.remote?.ip)),
    HIDDEN,
    Rules::Added("For a socket call: the remote IP address."),
);
pub static FD_IP: Field = field(
    "fd.ip",
    Ip,
    |v, _| v.socket_ends(),
    HIDDEN,
    Rules::Added("For a socket call: both ends' IP addresses, as Falco matches them (`fd.ip = X` if either end is X, `fd.ip != X` if neither is)."),
);
pub static FD_NET: Field = field(
    "fd.net",
    IpNet,
    |v, _| v.socket_ends(),
    HIDDEN,
    Rules::Added("For a socket call: both ends' addresses, compared with networks (`fd.net != 127.0.0.0/8` if neither end is in it)."),
);
pub static FD_SNET: Field = field(
    "fd.snet",
    IpNet,
    |v, _| Some(V::Ip(v.socket()?.server()?.ip)),
    HIDDEN,
    Rules::Added("For a socket call: the server end's address, compared with networks."),
);
pub static FD_CNET: Field = field(
    "fd.cnet",
    IpNet,
    |v, _| Some(V::Ip(v.socket()?.client()?.ip)),
    HIDDEN,
    Rules::Added("For a socket call: the client end's address, compared with networks."),
);
pub static FD_LNET: Field = field(
    "fd.lnet",
    IpNet,
    |v, _| Some(V::Ip(v.socket()?.local?.ip)),
    HIDDEN,
    Rules::Added("For a socket call: the local address, compared with networks."),
);
pub static FD_RNET: Field = field(
    "fd.rnet",
    IpNet,
    |v, _| Some(V::Ip(v.socket()?.remote?.ip)),
    HIDDEN,
    Rules::Added("For a socket call: the remote address, compared with networks."),
);
pub static FD_SIP_NAME: Field = field(
    "fd.sip.name",
    Text,
    |v, _| names_value(v.socket()?.server_names()?),
    HIDDEN,
    Rules::Added("For a socket call: the host names (of those the loaded rules compare this field with, resolved ahead of time as Falco does) the server's address belongs to."),
);
pub static FD_CIP_NAME: Field = field(
    "fd.cip.name",
    Text,
    |v, _| names_value(v.socket()?.client_names()?),
    HIDDEN,
    Rules::Added(
        "For a socket call: the host names the client's address belongs to (as `fd.sip.name`).",
    ),
);
pub static FD_LIP_NAME: Field = field(
    "fd.lip.name",
    Text,
    |v, _| names_value(v.socket()?.local_names.as_ref()?),
    HIDDEN,
    Rules::Added(
        "For a socket call: the host names the local address belongs to (as `fd.sip.name`).",
    ),
);
pub static FD_RIP_NAME: Field = field(
    "fd.rip.name",
    Text,
    |v, _| names_value(v.socket()?.remote_names.as_ref()?),
    HIDDEN,
    Rules::Added(
        "For a socket call: the host names the remote address belongs to (as `fd.sip.name`).",
    ),
);
pub static FD_DEV: Field = field(
    "fd.dev",
    Uint64,
    |v, _| {
        Some(V::U64(u64::from(super::event::user_dev(
            v.event.opened?.dev,
        ))))
    },
    HIDDEN,
    Rules::Added("For an open: the device number of the file's filesystem."),
);
pub static FD_INO: Field = field(
    "fd.ino",
    Uint64,
    |v, _| Some(V::U64(v.event.opened?.ino)),
    HIDDEN,
    Rules::Added("For an open: the file's inode number."),
);
pub static EVT_IS_OPEN_READ: Field = field(
    "evt.is_open_read",
    Bool,
    |v, _| Some(V::Bool(v.open_access()?.0)),
    HIDDEN,
    Rules::Added("For an open: whether the file was opened for reading (the kernel's file mode after a successful open, the flags otherwise)."),
);
pub static EVT_IS_OPEN_WRITE: Field = field(
    "evt.is_open_write",
    Bool,
    |v, _| Some(V::Bool(v.open_access()?.1)),
    HIDDEN,
    Rules::Added("For an open: whether the file was opened for writing."),
);
pub static EVT_IS_OPEN_EXEC: Field = field(
    "evt.is_open_exec",
    Bool,
    |v, _| {
        let (flags, mode) = v.open_flags_and_mode()?;
        Some(V::Bool(
            flags & (O_CREAT | O_TMPFILE) != 0 && mode & 0o111 != 0,
        ))
    },
    HIDDEN,
    Rules::Added("For an open: whether it creates a file with an execute bit in its mode."),
);
pub static PROC_DURATION: Field = field(
    "proc.duration",
    Uint64,
    |v, _| {
        let start = v.event.task.start_ns;
        (start != 0).then(|| V::U64(v.event.mono_ns.saturating_sub(start)))
    },
    HIDDEN,
    Rules::Added("Nanoseconds since the process started."),
);
pub static CALLER_RUID: Field = field(
    "caller.ruid",
    Uint64,
    |v, _| Some(V::U64(v.event.creds_before?.uid as u64)),
    SHOWN,
    BUILTIN,
);
pub static CALLER_EUID: Field = field(
    "caller.euid",
    Uint64,
    |v, _| Some(V::U64(v.event.creds_before?.euid as u64)),
    SHOWN,
    BUILTIN,
);
pub static CALLER_SUID: Field = field(
    "caller.suid",
    Uint64,
    |v, _| Some(V::U64(v.event.creds_before?.suid as u64)),
    SHOWN,
    BUILTIN,
);
pub static CALLER_FSUID: Field = field(
    "caller.fsuid",
    Uint64,
    |v, _| Some(V::U64(v.event.creds_before?.fsuid as u64)),
    SHOWN,
    BUILTIN,
);
pub static CALLER_RGID: Field = field(
    "caller.rgid",
    Uint64,
    |v, _| Some(V::U64(v.event.creds_before?.gid as u64)),
    SHOWN,
    BUILTIN,
);
pub static CALLER_EGID: Field = field(
    "caller.egid",
    Uint64,
    |v, _| Some(V::U64(v.event.creds_before?.egid as u64)),
    SHOWN,
    BUILTIN,
);
pub static CALLER_SGID: Field = field(
    "caller.sgid",
    Uint64,
    |v, _| Some(V::U64(v.event.creds_before?.sgid as u64)),
    SHOWN,
    BUILTIN,
);
pub static CALLER_FSGID: Field = field(
    "caller.fsgid",
    Uint64,
    |v, _| Some(V::U64(v.event.creds_before?.fsgid as u64)),
    SHOWN,
    BUILTIN,
);
pub static PROC_PID: Field = field(
    "proc.pid",
    Int64,
    |v, _| Some(V::I64(v.event.task.pid as i64)),
    SHOWN,
    BUILTIN,
);
pub static THREAD_TID: Field = field(
    "thread.tid",
    Int64,
    |v, _| Some(V::I64(v.event.task.tid as i64)),
    SHOWN,
    BUILTIN,
);
pub static PROC_PPID: Field = field(
    "proc.ppid",
    Int64,
    |v, _| Some(V::I64(v.event.task.ppid as i64)),
    SHOWN,
    BUILTIN,
);
pub static PROC_VPID: Field = field(
    "proc.vpid",
    Int64,
    |v, _| Some(V::I64(v.event.task.vpid as i64)),
    SHOWN,
    BUILTIN,
);
pub static PROC_SID: Field = field(
    "proc.sid",
    Int64,
    |v, _| Some(V::I64(v.event.task.sid as i64)),
    SHOWN,
    BUILTIN,
);
pub static PROC_TTY: Field = field(
    "proc.tty",
    Uint64,
    |v, _| Some(V::U64(v.event.task.tty as u64)),
    SHOWN,
    BUILTIN,
);
/// The kernel's comm of the calling task (not the process table's copy, which an exec or
/// `PR_SET_NAME` since may have left behind).
pub static PROC_NAME: Field = field(
    "proc.name",
    Text,
    |v, _| Some(V::Str(v.event.comm())),
    SHOWN,
    BUILTIN,
);
pub static PROC_EXE: Field = field(
    "proc.exe",
    Text,
    |v, _| Some(V::Str(&v.process()?.exe)),
    SHOWN,
    BUILTIN,
);
pub static PROC_EXEPATH: Field = field(
    "proc.exepath",
    Text,
    |v, _| Some(V::Str(&v.process()?.exepath)),
    SHOWN,
    BUILTIN,
);
pub static PROC_CWD: Field = field(
    "proc.cwd",
    Text,
    |v, _| Some(V::Str(v.process()?.cwd.as_deref()?)),
    SHOWN,
    BUILTIN,
);
pub static PROC_IS_EXE_FROM_MEMFD: Field = field(
    "proc.is_exe_from_memfd",
    Bool,
    |v, _| Some(V::Bool(v.process()?.exe_from_memfd)),
    Json::IfTrue,
    Rules::Added("True if the process's executable is an anonymous memory file (memfd)."),
);
pub static PROC_IS_EXE_UPPER_LAYER: Field = field(
    "proc.is_exe_upper_layer",
    Bool,
    |v, _| Some(V::Bool(v.process()?.exe_upper_layer)),
    Json::IfTrue,
    Rules::Added("True if the process's executable is a file of an overlayfs's upper layer (written into the container, not from its image), as the kernel saw it at the exec."),
);
pub static PROC_ENTERED_FROM_HOST: Field = field(
    "proc.entered_from_host",
    Bool,
    |v, _| {
        let host = v.process()?.exec_in_host_mnt_ns;
        Some(V::Bool(
            host.is_some_and(|host| v.event.task.mnt_ns as u64 != host),
        ))
    },
    Json::IfTrue,
    Rules::Added("True if the process runs in another mount namespace than the host's but exec'd its program in the host's: it entered the namespace after its exec, as a container runtime's init (runc's) does before it execs the entrypoint. A process a container starts exec'd inside it: false, whatever it names itself."),
);
pub static PROC_ENV: Field = field(
    "proc.env",
    Text,
    |v, _| {
        let env = &v.event.exec.as_ref()?.env;
        Some(V::Str(v.env.get_or_init(|| {
            env.iter().map(|&b| if b == 0 { b' ' } else { b }).collect()
        })))
    },
    HIDDEN,
    Rules::Added("For an exec: the environment the kernel copied into the new image, `NAME=value` entries separated by spaces (first 4 KiB; not in the JSON output, where it could leak secrets)."),
);
pub static PROC_CMDLINE: Field = field(
    "proc.cmdline",
    Text,
    |v, _| {
        Some(V::Str(v.cmdline.get_or_init(|| {
            v.process()
                .map_or_else(|| v.event.comm().to_vec(), Process::cmdline)
        })))
    },
    SHOWN,
    BUILTIN,
);
pub static PROC_ARGS: Field = field(
    "proc.args",
    Text,
    |v, arg| {
        let p = v.process()?;
        Some(match arg {
            FieldArg::Index(i) => V::Str(<[Bytes]>::get(&p.args, *i as usize)?),
            _ => V::Str(v.args_joined.get_or_init(|| join_args(&p.args))),
        })
    },
    SHOWN,
    BUILTIN,
);
pub static PROC_PNAME: Field = field(
    "proc.pname",
    Text,
    |v, _| Some(V::Str(&v.parent()?.comm)),
    SHOWN,
    BUILTIN,
);
pub static USER_UID: Field = field(
    "user.uid",
    Uint64,
    // Falco's user.uid and group.gid are the effective ids; the real ones are shown beside.
    |v, _| Some(V::U64(v.event.task.creds.euid as u64)),
    SHOWN,
    BUILTIN,
);
pub static USER_RUID: Field = field(
    "user.ruid",
    Uint64,
    |v, _| Some(V::U64(v.event.task.creds.uid as u64)),
    SHOWN,
    Rules::No,
);
pub static USER_NAME: Field = field(
    "user.name",
    Text,
    |v, _| Some(V::str(v.event.user_name.as_deref()?)),
    SHOWN,
    BUILTIN,
);
pub static USER_LOGINUID: Field = field(
    "user.loginuid",
    Int64,
    |v, _| Some(V::I64(loginuid(v.event.task.loginuid))),
    SHOWN,
    BUILTIN,
);
pub static USER_LOGINNAME: Field = field(
    "user.loginname",
    Text,
    |v, _| Some(V::str(v.event.login_name.as_deref()?)),
    SHOWN,
    BUILTIN,
);
pub static GROUP_GID: Field = field(
    "group.gid",
    Uint64,
    |v, _| Some(V::U64(v.event.task.creds.egid as u64)),
    SHOWN,
    BUILTIN,
);
pub static GROUP_RGID: Field = field(
    "group.rgid",
    Uint64,
    |v, _| Some(V::U64(v.event.task.creds.gid as u64)),
    SHOWN,
    Rules::No,
);
pub static GROUP_NAME: Field = field(
    "group.name",
    Text,
    |v, _| Some(V::str(v.event.group_name.as_deref()?)),
    SHOWN,
    BUILTIN,
);
pub static CONTAINER_ID: Field = field(
    "container.id",
    Text,
    |v, _| {
        Some(V::str(
            v.event.container.as_deref().map_or("host", |c| c.id()),
        ))
    },
    SHOWN,
    BUILTIN,
);
pub static CONTAINER_FULL_ID: Field = field(
    "container.full_id",
    Text,
    |v, _| Some(V::str(&v.event.container.as_deref()?.full_id)),
    SHOWN,
    Rules::Added("The full 64-hex-digit container id."),
);
pub static CONTAINER_RUNTIME: Field = field(
    "container.runtime",
    Text,
    |v, _| Some(V::str(v.event.container.as_deref()?.runtime.name())),
    SHOWN,
    Rules::Added("The container runtime named by the cgroup (containerd, cri-o, docker, podman)."),
);
pub static CONTAINER_NAME: Field = field(
    "container.name",
    Text,
    |v, _| Some(V::str(&v.event.pod.as_deref()?.container_name)),
    SHOWN,
    BUILTIN,
);
pub static CONTAINER_IMAGE: Field = field(
    "container.image",
    Text,
    |v, _| Some(V::str(&v.event.pod.as_deref()?.image)),
    SHOWN,
    BUILTIN,
);
pub static CONTAINER_IMAGE_REPOSITORY: Field = field(
    "container.image.repository",
    Text,
    |v, _| Some(V::str(&v.event.pod.as_deref()?.image_repository)),
    SHOWN,
    BUILTIN,
);
pub static CONTAINER_IMAGE_TAG: Field = field(
    "container.image.tag",
    Text,
    |v, _| Some(V::str(v.event.pod.as_deref()?.image_tag.as_deref()?)),
    SHOWN,
    BUILTIN,
);
pub static CONTAINER_PRIVILEGED: Field = field(
    "container.privileged",
    Bool,
    // From the pod spec the sensor watches; for a container it knows no pod of, from the
    // runtime's spec of the container.
    |v, _| match v.event.pod.as_deref() {
        Some(pod) => Some(V::Bool(pod.privileged)),
        None => Some(V::Bool(v.event.container.as_deref()?.privileged?)),
    },
    Json::IfTrue,
    Rules::Added("True if the container runs privileged: `securityContext.privileged` in its pod's spec, or, for a container without a known pod, its runtime's OCI spec (every capability, no masked paths); no value where neither is known."),
);
pub static K8S_POD_NAME: Field = field(
    "k8s.pod.name",
    Text,
    |v, _| Some(V::str(&v.event.pod.as_deref()?.pod.name)),
    Json::OrNaInContainer,
    BUILTIN,
);
pub static K8S_NS_NAME: Field = field(
    "k8s.ns.name",
    Text,
    |v, _| Some(V::str(&v.event.pod.as_deref()?.pod.namespace)),
    Json::OrNaInContainer,
    BUILTIN,
);
pub static K8S_POD_UID: Field = field(
    "k8s.pod.uid",
    Text,
    |v, _| Some(V::str(&v.event.pod.as_deref()?.pod.uid)),
    SHOWN,
    BUILTIN,
);
pub static K8S_POD_LABELS: Field = field(
    "k8s.pod.labels",
    Text,
    |v, _| {
        let pod = &v.event.pod.as_deref()?.pod;
        Some(V::List(v.labels.get_or_init(|| Pairs::of(&pod.labels))))
    },
    Json::Labels,
    BUILTIN,
);
pub static K8S_WORKLOAD_KIND: Field = field(
    "k8s.workload.kind",
    Text,
    |v, _| Some(V::str(&v.event.pod.as_deref()?.pod.workload.kind)),
    SHOWN,
    BUILTIN,
);
pub static K8S_WORKLOAD_NAME: Field = field(
    "k8s.workload.name",
    Text,
    |v, _| Some(V::str(&v.event.pod.as_deref()?.pod.workload.name)),
    SHOWN,
    BUILTIN,
);
pub static PROC_CGROUP_ID: Field = field(
    "proc.cgroup_id",
    Uint64,
    |v, _| Some(V::U64(v.event.task.cgroup_id)),
    SHOWN,
    Rules::No,
);
pub static PROC_MNT_NS: Field = field(
    "proc.mnt_ns",
    Uint64,
    |v, _| Some(V::U64(v.event.task.mnt_ns as u64)),
    SHOWN,
    Rules::No,
);
pub static PROC_PID_NS: Field = field(
    "proc.pid_ns",
    Uint64,
    |v, _| Some(V::U64(v.event.task.pid_ns as u64)),
    SHOWN,
    Rules::No,
);
pub static EVT_TAMPERED: Field = field(
    "evt.tampered",
    Bool,
    |v, _| {
        v.event.syscall()?;
        Some(V::Bool(v.event.changed != 0))
    },
    Json::IfTrue,
    Rules::Added("True if a string argument the kernel read from the caller's memory (a chmod path, a mount string) changed while the call ran, so the event may not show what the kernel acted on: a thread racing the call."),
);

// Read by rules and output templates; not in the JSON event output.
pub static PROC_TID: Field = field(
    "proc.tid",
    Int64,
    |v, _| Some(V::I64(v.event.task.tid as i64)),
    HIDDEN,
    BUILTIN,
);
pub static PROC_PEXE: Field = field(
    "proc.pexe",
    Text,
    |v, _| Some(V::Str(&v.parent()?.exe)),
    HIDDEN,
    BUILTIN,
);
pub static PROC_PEXEPATH: Field = field(
    "proc.pexepath",
    Text,
    |v, _| Some(V::Str(&v.parent()?.exepath)),
    HIDDEN,
    BUILTIN,
);
pub static PROC_PCMDLINE: Field = field(
    "proc.pcmdline",
    Text,
    |v, _| {
        let parent = v.parent()?;
        Some(V::Str(v.parent_cmdline.get_or_init(|| parent.cmdline())))
    },
    HIDDEN,
    BUILTIN,
);
pub static PROC_ANAME: Field = field(
    "proc.aname",
    Text,
    |v, arg| v.ancestor_list(Ancestry::Name, arg),
    HIDDEN,
    BUILTIN,
);
pub static PROC_APID: Field = field(
    "proc.apid",
    Int64,
    |v, arg| v.ancestor_list(Ancestry::Pid, arg),
    HIDDEN,
    BUILTIN,
);
pub static PROC_AEXE: Field = field(
    "proc.aexe",
    Text,
    |v, arg| v.ancestor_list(Ancestry::Exe, arg),
    HIDDEN,
    BUILTIN,
);
pub static PROC_AEXEPATH: Field = field(
    "proc.aexepath",
    Text,
    |v, arg| v.ancestor_list(Ancestry::ExePath, arg),
    HIDDEN,
    BUILTIN,
);
pub static PROC_ACMDLINE: Field = field(
    "proc.acmdline",
    Text,
    |v, arg| v.ancestor_cmdline(arg),
    HIDDEN,
    BUILTIN,
);
pub static K8S_POD_ANNOTATIONS: Field = field(
    "k8s.pod.annotations",
    Text,
    |v, _| {
        let pod = &v.event.pod.as_deref()?.pod;
        Some(V::List(
            v.annotations.get_or_init(|| Pairs::of(&pod.annotations)),
        ))
    },
    HIDDEN,
    BUILTIN,
);
pub static K8S_POD_LABEL: Field = field(
    "k8s.pod.label",
    Text,
    |v, arg| match arg {
        FieldArg::Key(key) => Some(V::str(v.event.pod.as_deref()?.pod.label(key)?)),
        _ => None,
    },
    HIDDEN,
    BUILTIN,
);
pub static K8S_POD_ANNOTATION: Field = field(
    "k8s.pod.annotation",
    Text,
    |v, arg| match arg {
        FieldArg::Key(key) => Some(V::str(v.event.pod.as_deref()?.pod.annotation(key)?)),
        _ => None,
    },
    HIDDEN,
    BUILTIN,
);
pub static THREAD_CAP_EFFECTIVE: Field = field(
    "thread.cap_effective",
    Text,
    |v, _| Some(V::Str(v.capabilities(2))),
    HIDDEN,
    Rules::Added("The thread's effective capabilities, as Falco names them, space-separated (`CAP_CHOWN CAP_SYS_ADMIN`)."),
);
pub static THREAD_CAP_PERMITTED: Field = field(
    "thread.cap_permitted",
    Text,
    |v, _| Some(V::Str(v.capabilities(1))),
    HIDDEN,
    Rules::Added("The thread's permitted capabilities, space-separated."),
);
pub static THREAD_CAP_INHERITABLE: Field = field(
    "thread.cap_inheritable",
    Text,
    |v, _| Some(V::Str(v.capabilities(0))),
    HIDDEN,
    Rules::Added("The thread's inheritable capabilities, space-separated."),
);

/// Every field, in the order the JSON event output writes them.
pub static FIELDS: &[&Field] = &[
    &EVT_TIME,
    &EVT_RAWTIME,
    &EVT_MONOTIME,
    &EVT_TYPE,
    &EVT_DIR,
    &EVT_LATENCY,
    &EVT_RES,
    &EVT_RAWRES,
    &EVT_FAILED,
    &EVT_ARG,
    &FD_NAME,
    &FD_NAMERAW,
    &FD_TYPECHAR,
    &FD_NUM,
    &CALLER_RUID,
    &CALLER_EUID,
    &CALLER_SUID,
    &CALLER_FSUID,
    &CALLER_RGID,
    &CALLER_EGID,
    &CALLER_SGID,
    &CALLER_FSGID,
    &PROC_PID,
    &THREAD_TID,
    &PROC_PPID,
    &PROC_VPID,
    &PROC_SID,
    &PROC_TTY,
    &PROC_NAME,
    &PROC_EXE,
    &PROC_EXEPATH,
    &PROC_CWD,
    &PROC_IS_EXE_FROM_MEMFD,
    &PROC_IS_EXE_UPPER_LAYER,
    &PROC_ENTERED_FROM_HOST,
    &PROC_ENV,
    &PROC_CMDLINE,
    &PROC_ARGS,
    &PROC_PNAME,
    &USER_UID,
    &USER_RUID,
    &USER_NAME,
    &USER_LOGINUID,
    &USER_LOGINNAME,
    &GROUP_GID,
    &GROUP_RGID,
    &GROUP_NAME,
    &CONTAINER_ID,
    &CONTAINER_FULL_ID,
    &CONTAINER_RUNTIME,
    &CONTAINER_NAME,
    &CONTAINER_IMAGE,
    &CONTAINER_IMAGE_REPOSITORY,
    &CONTAINER_IMAGE_TAG,
    &CONTAINER_PRIVILEGED,
    &K8S_POD_NAME,
    &K8S_NS_NAME,
    &K8S_POD_UID,
    &K8S_POD_LABELS,
    &K8S_WORKLOAD_KIND,
    &K8S_WORKLOAD_NAME,
    &PROC_CGROUP_ID,
    &PROC_MNT_NS,
    &PROC_PID_NS,
    &EVT_TAMPERED,
    &PROC_TID,
    &EVT_ARGS,
    &PROC_PEXE,
    &PROC_PEXEPATH,
    &PROC_PCMDLINE,
    &PROC_ANAME,
    &PROC_APID,
    &PROC_AEXE,
    &PROC_AEXEPATH,
    &PROC_ACMDLINE,
    &K8S_POD_ANNOTATIONS,
    &K8S_POD_LABEL,
    &K8S_POD_ANNOTATION,
    &THREAD_CAP_EFFECTIVE,
    &THREAD_CAP_PERMITTED,
    &THREAD_CAP_INHERITABLE,
    &FD_DIRECTORY,
    &FD_FILENAME,
    &FD_TYPE,
    &FD_DEV,
    &FD_INO,
    &EVT_IS_OPEN_READ,
    &EVT_IS_OPEN_WRITE,
    &EVT_IS_OPEN_EXEC,
    &PROC_DURATION,
    &FD_L4PROTO,
    &FD_SOCKFAMILY,
    &FD_CONNECTED,
    &FD_NAME_CHANGED,
    &FD_IS_SERVER,
    &FD_SPORT,
    &FD_CPORT,
    &FD_LPORT,
    &FD_RPORT,
    &FD_PORT,
    &FD_SIP,
    &FD_CIP,
    &FD_LIP,
    &FD_RIP,
    &FD_IP,
    &FD_NET,
    &FD_SNET,
    &FD_CNET,
    &FD_LNET,
    &FD_RNET,
    &FD_SIP_NAME,
    &FD_CIP_NAME,
    &FD_LIP_NAME,
    &FD_RIP_NAME,
];

/// The field named `name`.
pub fn by_name(name: &str) -> Option<&'static Field> {
    FIELDS.iter().copied().find(|f| f.name == name)
}
