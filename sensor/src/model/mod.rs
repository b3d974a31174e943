//! The data every stage reads and writes: the event, the process and its lineage, the
//! container and pod it runs in, the syscalls' definitions, and the one table of Falco fields
//! over them. It depends on no stage (probe, enrich, rules, sinks, profile, telemetry), and
//! every stage and output depends on it.

pub mod container;
pub mod event;
pub mod fields;
pub mod flags;
pub mod kernel_filter;
pub mod pod;
pub mod process;
pub mod socket;
pub mod syscall_set;
pub mod syscalls;

pub use event::{ArgValue, Bytes, Event, EventKind, ExePath, ExecDetails};
