//! The fields the sensor supplies, with Falco's names and types.

use std::borrow::Cow;

use super::field_def::{ArgSpec, FieldDef, FieldId, FieldType, Shape};

const NO_ARG: ArgSpec = ArgSpec::NoArg;
const OPTIONAL_INDEX: ArgSpec = ArgSpec::Index { required: false };
const REQUIRED_DOTTED_KEY: ArgSpec = ArgSpec::Key {
    required: true,
    dotted: true,
};
const REQUIRED_INDEX_OR_DOTTED_KEY: ArgSpec = ArgSpec::IndexOrKey {
    required: true,
    dotted: true,
};

macro_rules! sensor_fields {
    ($($constant:ident = $id:literal, $name:literal, $field_type:ident, $arg:expr, $shape:ident, $description:literal;)*) => {
        impl FieldId {
            $(
                #[doc = $description]
                pub const $constant: FieldId = FieldId($id);
            )*
        }

        /// Number of built-in fields; ids of added fields start here.
        pub(crate) const BUILTIN_FIELD_COUNT: u16 = [$($id),*].len() as u16;

        pub(crate) fn builtin_fields() -> Vec<FieldDef> {
            vec![$(
                FieldDef {
                    id: FieldId($id),
                    name: Cow::Borrowed($name),
                    field_type: FieldType::$field_type,
                    arg: $arg,
                    shape: Shape::$shape,
                    description: Cow::Borrowed($description),
                },
            )*]
        }
    };
}

sensor_fields! {
    EVT_TYPE = 0, "evt.type", String, NO_ARG, Scalar, "Event type (`execve`, `chmod`, ...). Computed by the engine from `Event::event_type`.";
    EVT_DIR = 1, "evt.dir", String, NO_ARG, Scalar, "Event direction; always `<` (exit events). Computed by the engine.";
    EVT_RES = 2, "evt.res", String, NO_ARG, Scalar, "`SUCCESS` or the errno name (`ENOENT`). Derived from `evt.rawres` when the event does not supply it.";
    EVT_RAWRES = 3, "evt.rawres", Int64, NO_ARG, Scalar, "Raw syscall return value.";
    EVT_FAILED = 4, "evt.failed", Bool, NO_ARG, Scalar, "True if the syscall failed. Derived from `evt.rawres` when not supplied.";
    EVT_TIME = 5, "evt.time", String, NO_ARG, Scalar, "Event time `HH:MM:SS.nnnnnnnnn` (UTC). Computed from `evt.rawtime`.";
    EVT_TIME_S = 6, "evt.time.s", String, NO_ARG, Scalar, "Event time `HH:MM:SS` (UTC). Computed from `evt.rawtime`.";
    EVT_TIME_ISO8601 = 7, "evt.time.iso8601", String, NO_ARG, Scalar, "Event time in ISO 8601 with nanoseconds (UTC). Computed from `evt.rawtime`.";
    EVT_RAWTIME = 8, "evt.rawtime", AbsTime, NO_ARG, Scalar, "Event time in nanoseconds since the epoch.";
    EVT_DATETIME = 9, "evt.datetime", String, NO_ARG, Scalar, "Event date and time `YYYY-MM-DD HH:MM:SS.nnnnnnnnn` (UTC). Computed from `evt.rawtime`.";
    EVT_NUM = 10, "evt.num", Uint64, NO_ARG, Scalar, "Event sequence number, starting at 1.";
    EVT_ARGS = 11, "evt.args", String, NO_ARG, Scalar, "All event arguments as `name=value name=value`.";
    EVT_ARG = 12, "evt.arg", String, REQUIRED_INDEX_OR_DOTTED_KEY, Scalar, "One event argument by Falco name (`evt.arg.mode`) or position (`evt.arg[1]`), rendered as Falco does (flags as `S_ISUID|S_IRWXU`, uids resolved to names).";
    EVT_HOSTNAME = 13, "evt.hostname", String, NO_ARG, Scalar, "Host name of the node.";
    EVT_SOURCE = 14, "evt.source", String, NO_ARG, Scalar, "Event source; always `syscall`. Computed by the engine.";
    SYSCALL_TYPE = 15, "syscall.type", String, NO_ARG, Scalar, "System call name; same as `evt.type` for the events the sensor captures. Computed by the engine.";
    PROC_PID = 16, "proc.pid", Int64, NO_ARG, Scalar, "Process id (host pid namespace).";
    PROC_PPID = 17, "proc.ppid", Int64, NO_ARG, Scalar, "Parent process id.";
    PROC_VPID = 18, "proc.vpid", Int64, NO_ARG, Scalar, "Process id as seen in its own pid namespace.";
    PROC_TID = 19, "proc.tid", Int64, NO_ARG, Scalar, "Thread id (sensor extension; Falco spells it `thread.tid`).";
    PROC_NAME = 20, "proc.name", String, NO_ARG, Scalar, "Process name (comm, at most 16 characters).";
    PROC_EXE = 21, "proc.exe", String, NO_ARG, Scalar, "`argv[0]` of the process.";
    PROC_EXEPATH = 22, "proc.exepath", String, NO_ARG, Scalar, "Full path of the executable.";
    PROC_CMDLINE = 23, "proc.cmdline", String, NO_ARG, Scalar, "`proc.name` followed by the arguments.";
    PROC_ARGS = 24, "proc.args", String, OPTIONAL_INDEX, Scalar, "Arguments without `argv[0]`, space separated; `proc.args[N]` is one argument.";
    PROC_CWD = 25, "proc.cwd", String, NO_ARG, Scalar, "Current working directory.";
    PROC_TTY = 26, "proc.tty", Uint64, NO_ARG, Scalar, "Controlling terminal; 0 when the process has none.";
    PROC_SID = 27, "proc.sid", Int64, NO_ARG, Scalar, "Session id.";
    PROC_PNAME = 28, "proc.pname", String, NO_ARG, Scalar, "Name of the parent process.";
    PROC_PEXE = 29, "proc.pexe", String, NO_ARG, Scalar, "`argv[0]` of the parent process.";
    PROC_PEXEPATH = 30, "proc.pexepath", String, NO_ARG, Scalar, "Executable path of the parent process.";
    PROC_PCMDLINE = 31, "proc.pcmdline", String, NO_ARG, Scalar, "Command line of the parent process.";
    PROC_ANAME = 32, "proc.aname", String, OPTIONAL_INDEX, Ancestors, "Name of an ancestor: `proc.aname[1]` is the parent, `[0]` the process itself; without index, any ancestor.";
    PROC_APID = 33, "proc.apid", Int64, OPTIONAL_INDEX, Ancestors, "Pid of an ancestor (`proc.apid[N]`); without index, any ancestor.";
    PROC_AEXE = 34, "proc.aexe", String, OPTIONAL_INDEX, Ancestors, "`argv[0]` of an ancestor (`proc.aexe[N]`); without index, any ancestor.";
    PROC_AEXEPATH = 35, "proc.aexepath", String, OPTIONAL_INDEX, Ancestors, "Executable path of an ancestor (`proc.aexepath[N]`); without index, any ancestor.";
    PROC_ACMDLINE = 36, "proc.acmdline", String, OPTIONAL_INDEX, Ancestors, "Command line of an ancestor (`proc.acmdline[N]`); without index, any ancestor.";
    PROC_LOGINSHELLID = 37, "proc.loginshellid", Int64, NO_ARG, Scalar, "Pid of the oldest shell among the ancestors.";
    THREAD_TID = 38, "thread.tid", Int64, NO_ARG, Scalar, "Thread id.";
    USER_UID = 39, "user.uid", Uint64, NO_ARG, Scalar, "Effective user id.";
    USER_NAME = 40, "user.name", String, NO_ARG, Scalar, "Effective user name.";
    USER_LOGINUID = 41, "user.loginuid", Int64, NO_ARG, Scalar, "Audit login user id; -1 when unset.";
    USER_LOGINNAME = 42, "user.loginname", String, NO_ARG, Scalar, "Audit login user name.";
    GROUP_GID = 43, "group.gid", Uint64, NO_ARG, Scalar, "Effective group id.";
    GROUP_NAME = 44, "group.name", String, NO_ARG, Scalar, "Effective group name.";
    CONTAINER_ID = 45, "container.id", String, NO_ARG, Scalar, "Short container id (12 characters), `host` outside containers.";
    CONTAINER_NAME = 46, "container.name", String, NO_ARG, Scalar, "Container name, `host` outside containers.";
    CONTAINER_IMAGE = 47, "container.image", String, NO_ARG, Scalar, "Container image reference.";
    CONTAINER_IMAGE_REPOSITORY = 48, "container.image.repository", String, NO_ARG, Scalar, "Container image repository.";
    CONTAINER_IMAGE_TAG = 49, "container.image.tag", String, NO_ARG, Scalar, "Container image tag.";
    K8S_POD_NAME = 50, "k8s.pod.name", String, NO_ARG, Scalar, "Kubernetes pod name.";
    K8S_NS_NAME = 51, "k8s.ns.name", String, NO_ARG, Scalar, "Kubernetes namespace.";
    K8S_POD_UID = 52, "k8s.pod.uid", String, NO_ARG, Scalar, "Kubernetes pod UID.";
    K8S_POD_LABELS = 53, "k8s.pod.labels", String, NO_ARG, List, "Pod labels as a list of `key:value`.";
    K8S_POD_LABEL = 54, "k8s.pod.label", String, REQUIRED_DOTTED_KEY, Scalar, "One pod label: `k8s.pod.label[app]` or `k8s.pod.label.app`.";
    K8S_POD_ANNOTATIONS = 55, "k8s.pod.annotations", String, NO_ARG, List, "Pod annotations as a list of `key:value`.";
    K8S_POD_ANNOTATION = 56, "k8s.pod.annotation", String, REQUIRED_DOTTED_KEY, Scalar, "One pod annotation: `k8s.pod.annotation[key]`.";
    K8S_WORKLOAD_KIND = 57, "k8s.workload.kind", String, NO_ARG, Scalar, "Kind of the pod's owning workload (Deployment, DaemonSet, ...).";
    K8S_WORKLOAD_NAME = 58, "k8s.workload.name", String, NO_ARG, Scalar, "Name of the pod's owning workload.";
    CALLER_RUID = 59, "caller.ruid", Uint64, NO_ARG, Scalar, "Sensor field: the caller's real uid before an exec or set*id call (`user.uid` is the effective uid after it).";
    CALLER_EUID = 60, "caller.euid", Uint64, NO_ARG, Scalar, "Sensor field: the caller's effective uid before an exec or set*id call.";
    CALLER_SUID = 61, "caller.suid", Uint64, NO_ARG, Scalar, "Sensor field: the caller's saved uid before an exec or set*id call.";
    CALLER_FSUID = 62, "caller.fsuid", Uint64, NO_ARG, Scalar, "Sensor field: the caller's filesystem uid before an exec or set*id call.";
    CALLER_RGID = 63, "caller.rgid", Uint64, NO_ARG, Scalar, "Sensor field: the caller's real gid before an exec or set*id call.";
    CALLER_EGID = 64, "caller.egid", Uint64, NO_ARG, Scalar, "Sensor field: the caller's effective gid before an exec or set*id call.";
    CALLER_SGID = 65, "caller.sgid", Uint64, NO_ARG, Scalar, "Sensor field: the caller's saved gid before an exec or set*id call.";
    CALLER_FSGID = 66, "caller.fsgid", Uint64, NO_ARG, Scalar, "Sensor field: the caller's filesystem gid before an exec or set*id call.";
}

/// Argument names the sensor reports for syscalls Falco only knows as generic events
/// (`fsopen`, `fsmount`, `move_mount`, `open_tree`, `mount_setattr`, `fsconfig`), accepted in
/// `evt.arg.NAME` besides Falco's own names.
pub const SENSOR_EVENT_ARGUMENTS: &[&str] = &[
    "attr_flags",
    "from_dirfd",
    "from_path",
    "fsname",
    "to_dirfd",
    "to_path",
    "value",
];
