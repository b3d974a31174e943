//! The agent's events as the rules engine reads them: Falco's fields looked up on an enriched
//! [`Event`]. Values computed from several parts (command lines, rendered arguments) are built
//! on first use and kept for the rest of the event's evaluation.

use std::cell::OnceCell;
use std::sync::{Arc, OnceLock};

use sensor_rules::fields::{ArgSpec, FieldType, Shape};
use sensor_rules::{
    EventTypeId, FieldArg, FieldId, FieldRef, FieldRegistry, FieldValue, ValueList,
};

use crate::model::process::Process;
use crate::event::json::join_args;
use crate::model::{ArgValue, Bytes, Event, EventKind};

/// Ids of the fields the agent adds to the engine's registry.
struct AddedFields {
    exe_from_memfd: FieldId,
    fd_name: FieldId,
    container_full_id: FieldId,
    container_runtime: FieldId,
    tampered: FieldId,
}

static REGISTRY: OnceLock<(Arc<FieldRegistry>, AddedFields)> = OnceLock::new();

fn registry_and_ids() -> &'static (Arc<FieldRegistry>, AddedFields) {
    REGISTRY.get_or_init(|| {
        let mut registry = FieldRegistry::sensor_default();
        let ids = AddedFields {
            exe_from_memfd: registry.add_field(
                "proc.is_exe_from_memfd",
                FieldType::Bool,
                ArgSpec::NoArg,
                Shape::Scalar,
                "True if the process's executable is an anonymous memory file (memfd).",
            ),
            fd_name: registry.add_field(
                "fd.name",
                FieldType::String,
                ArgSpec::NoArg,
                Shape::Scalar,
                "For a call with an fd argument (fchmod, fsconfig...): the path the fd refers to.",
            ),
            container_full_id: registry.add_field(
                "container.full_id",
                FieldType::String,
                ArgSpec::NoArg,
                Shape::Scalar,
                "The full 64-hex-digit container id.",
            ),
            container_runtime: registry.add_field(
                "container.runtime",
                FieldType::String,
                ArgSpec::NoArg,
                Shape::Scalar,
                "The container runtime named by the cgroup (containerd, cri-o, docker, podman).",
            ),
            tampered: registry.add_field(
                "evt.tampered",
                FieldType::Bool,
                ArgSpec::NoArg,
                Shape::Scalar,
                "True if a string argument the kernel read from the caller's memory (a chmod path, a mount string) changed while the call ran, so the event may not show what the kernel acted on: a thread racing the call.",
            ),
        };
        (Arc::new(registry), ids)
    })
}

/// The field registry of this sensor: the engine's defaults plus the fields the agent adds.
pub fn registry() -> Arc<FieldRegistry> {
    registry_and_ids().0.clone()
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

/// One event seen through Falco's field names.
pub struct RuleEvent<'a> {
    event: &'a Event,
    number: u64,
    hostname: &'a str,
    type_id: Option<EventTypeId>,
    ancestors: [Ancestors<'a>; 4],
    cmdline: OnceCell<Vec<u8>>,
    args_joined: OnceCell<Vec<u8>>,
    parent_cmdline: OnceCell<Vec<u8>>,
    ancestor_cmdlines: OnceCell<Vec<Vec<u8>>>,
    rendered_args: OnceCell<Vec<(&'static str, Vec<u8>)>>,
    all_args: OnceCell<Vec<u8>>,
    labels: OnceCell<Pairs>,
    annotations: OnceCell<Pairs>,
}

impl<'a> RuleEvent<'a> {
    /// `number` is Falco's `evt.num` (from 1).
    pub fn new(event: &'a Event, number: u64, hostname: &'a str) -> Self {
        let process = event.process.as_deref();
        let list = |what| Ancestors { process, what };
        Self {
            event,
            number,
            hostname,
            type_id: EventTypeId::from_name(event.evt_type()),
            ancestors: [
                list(Ancestry::Name),
                list(Ancestry::Pid),
                list(Ancestry::Exe),
                list(Ancestry::ExePath),
            ],
            cmdline: OnceCell::new(),
            args_joined: OnceCell::new(),
            parent_cmdline: OnceCell::new(),
            ancestor_cmdlines: OnceCell::new(),
            rendered_args: OnceCell::new(),
            all_args: OnceCell::new(),
            labels: OnceCell::new(),
            annotations: OnceCell::new(),
        }
    }

    fn process(&self) -> Option<&'a Process> {
        self.event.process.as_deref()
    }

    fn parent(&self) -> Option<&'a Process> {
        self.process()?.parent.as_deref()
    }

    /// Arguments rendered as Falco prints them (`evt.arg.mode` is `S_IXUSR|...`).
    fn rendered_args(&self) -> &[(&'static str, Vec<u8>)] {
        self.rendered_args.get_or_init(|| {
            self.event
                .args()
                .into_iter()
                .map(|(name, value)| {
                    let bytes = match value {
                        ArgValue::Bytes(b) => b.to_vec(),
                        ArgValue::Int(i) => i.to_string().into_bytes(),
                        ArgValue::Named { text, .. } => text.into_bytes(),
                    };
                    (name, bytes)
                })
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
}

impl sensor_rules::Event for RuleEvent<'_> {
    fn event_type(&self) -> &str {
        self.event.evt_type()
    }

    fn event_type_id(&self) -> Option<EventTypeId> {
        self.type_id
    }

    fn field(&self, field: &FieldRef) -> Option<FieldValue<'_>> {
        let e = self.event;
        let t = &e.task;
        let added = &registry_and_ids().1;
        let id = field.id;
        let value = match id {
            FieldId::EVT_RAWRES => FieldValue::I64(e.res),
            FieldId::EVT_RAWTIME => FieldValue::U64(e.wall_ns),
            FieldId::EVT_NUM => FieldValue::U64(self.number),
            FieldId::EVT_HOSTNAME => FieldValue::str(self.hostname),
            FieldId::EVT_ARGS => FieldValue::Str(self.all_args.get_or_init(|| {
                let mut out = Vec::new();
                for (i, (name, value)) in self.rendered_args().iter().enumerate() {
                    if i > 0 {
                        out.push(b' ');
                    }
                    out.extend_from_slice(name.as_bytes());
                    out.push(b'=');
                    out.extend_from_slice(value);
                }
                out
            })),
            FieldId::EVT_ARG => {
                let args = self.rendered_args();
                let found = match &field.arg {
                    FieldArg::Key(name) => args.iter().find(|(n, _)| *n == &**name),
                    FieldArg::Index(i) => args.get(*i as usize),
                    FieldArg::None => None,
                };
                FieldValue::Str(&found?.1)
            }
            FieldId::PROC_PID => FieldValue::I64(t.pid as i64),
            FieldId::PROC_PPID => FieldValue::I64(t.ppid as i64),
            FieldId::PROC_VPID => FieldValue::I64(t.vpid as i64),
            FieldId::PROC_TID | FieldId::THREAD_TID => FieldValue::I64(t.tid as i64),
            FieldId::PROC_SID => FieldValue::I64(t.sid as i64),
            FieldId::PROC_TTY => FieldValue::U64(t.tty as u64),
            FieldId::PROC_CWD => FieldValue::Str(self.process()?.cwd.as_deref()?),
            FieldId::PROC_NAME => FieldValue::Str(e.comm()),
            FieldId::PROC_EXE => FieldValue::Str(&self.process()?.exe),
            FieldId::PROC_EXEPATH => FieldValue::Str(&self.process()?.exepath),
            FieldId::PROC_CMDLINE => FieldValue::Str(self.cmdline.get_or_init(|| {
                self.process()
                    .map_or_else(|| e.comm().to_vec(), Process::cmdline)
            })),
            FieldId::PROC_ARGS => {
                let p = self.process()?;
                match &field.arg {
                    FieldArg::Index(i) => FieldValue::Str(<[Bytes]>::get(&p.args, *i as usize)?),
                    _ => FieldValue::Str(self.args_joined.get_or_init(|| join_args(&p.args))),
                }
            }
            FieldId::PROC_PNAME => FieldValue::Str(&self.parent()?.comm),
            FieldId::PROC_PEXE => FieldValue::Str(&self.parent()?.exe),
            FieldId::PROC_PEXEPATH => FieldValue::Str(&self.parent()?.exepath),
            FieldId::PROC_PCMDLINE => {
                let parent = self.parent()?;
                FieldValue::Str(self.parent_cmdline.get_or_init(|| parent.cmdline()))
            }
            FieldId::PROC_ANAME => return self.ancestor_list(Ancestry::Name, &field.arg),
            FieldId::PROC_APID => return self.ancestor_list(Ancestry::Pid, &field.arg),
            FieldId::PROC_AEXE => return self.ancestor_list(Ancestry::Exe, &field.arg),
            FieldId::PROC_AEXEPATH => return self.ancestor_list(Ancestry::ExePath, &field.arg),
            FieldId::PROC_ACMDLINE => return self.ancestor_cmdline(&field.arg),
            FieldId::USER_UID => FieldValue::U64(t.creds.euid as u64),
            FieldId::USER_NAME => FieldValue::str(e.user_name.as_deref()?),
            FieldId::USER_LOGINUID => FieldValue::I64(t.loginuid as i32 as i64),
            FieldId::USER_LOGINNAME => FieldValue::str(e.login_name.as_deref()?),
            FieldId::GROUP_GID => FieldValue::U64(t.creds.egid as u64),
            FieldId::GROUP_NAME => FieldValue::str(e.group_name.as_deref()?),
            FieldId::CONTAINER_ID => {
                FieldValue::str(e.container.as_deref().map_or("host", |c| c.id()))
            }
            FieldId::CONTAINER_NAME => FieldValue::str(&e.pod.as_deref()?.container_name),
            FieldId::CONTAINER_IMAGE => FieldValue::str(&e.pod.as_deref()?.image),
            FieldId::CONTAINER_IMAGE_REPOSITORY => {
                FieldValue::str(&e.pod.as_deref()?.image_repository)
            }
            FieldId::CONTAINER_IMAGE_TAG => {
                FieldValue::str(e.pod.as_deref()?.image_tag.as_deref()?)
            }
            FieldId::K8S_POD_NAME => FieldValue::str(&e.pod.as_deref()?.pod.name),
            FieldId::K8S_NS_NAME => FieldValue::str(&e.pod.as_deref()?.pod.namespace),
            FieldId::K8S_POD_UID => FieldValue::str(&e.pod.as_deref()?.pod.uid),
            FieldId::K8S_POD_LABELS => {
                let pod = &e.pod.as_deref()?.pod;
                FieldValue::List(self.labels.get_or_init(|| Pairs::of(&pod.labels)))
            }
            FieldId::K8S_POD_ANNOTATIONS => {
                let pod = &e.pod.as_deref()?.pod;
                FieldValue::List(self.annotations.get_or_init(|| Pairs::of(&pod.annotations)))
            }
            FieldId::K8S_POD_LABEL => match &field.arg {
                FieldArg::Key(key) => FieldValue::str(e.pod.as_deref()?.pod.label(key)?),
                _ => return None,
            },
            FieldId::K8S_POD_ANNOTATION => match &field.arg {
                FieldArg::Key(key) => FieldValue::str(e.pod.as_deref()?.pod.annotation(key)?),
                _ => return None,
            },
            FieldId::K8S_WORKLOAD_KIND => FieldValue::str(&e.pod.as_deref()?.pod.workload.kind),
            FieldId::K8S_WORKLOAD_NAME => FieldValue::str(&e.pod.as_deref()?.pod.workload.name),
            FieldId::CALLER_RUID => FieldValue::U64(e.creds_before?.uid as u64),
            FieldId::CALLER_EUID => FieldValue::U64(e.creds_before?.euid as u64),
            FieldId::CALLER_SUID => FieldValue::U64(e.creds_before?.suid as u64),
            FieldId::CALLER_FSUID => FieldValue::U64(e.creds_before?.fsuid as u64),
            FieldId::CALLER_RGID => FieldValue::U64(e.creds_before?.gid as u64),
            FieldId::CALLER_EGID => FieldValue::U64(e.creds_before?.egid as u64),
            FieldId::CALLER_SGID => FieldValue::U64(e.creds_before?.sgid as u64),
            FieldId::CALLER_FSGID => FieldValue::U64(e.creds_before?.fsgid as u64),
            _ if id == added.exe_from_memfd => FieldValue::Bool(self.process()?.exe_from_memfd),
            _ if id == added.fd_name => FieldValue::Str(e.fd_path.as_deref()?),
            _ if id == added.container_full_id => FieldValue::str(&e.container.as_deref()?.full_id),
            _ if id == added.container_runtime => {
                FieldValue::str(e.container.as_deref()?.runtime.name())
            }
            _ if id == added.tampered => {
                e.syscall()?;
                FieldValue::Bool(e.changed != 0)
            }
            // Fields this sensor does not fill (proc.loginshellid, ...) are missing, as in Falco
            // without that metadata.
            _ => return None,
        };
        // clone/procexit have no syscall result of their own.
        if id == FieldId::EVT_RAWRES
            && !matches!(e.kind, EventKind::Syscall(_) | EventKind::Fork { .. })
        {
            return None;
        }
        Some(value)
    }
}
