//! Security profiles from observed behaviour: what is the least this workload needs.
//!
//! The kernel's recorder (`sensor-ebpf/src/recorder.rs`) sets one bit per syscall entered by a
//! task of a recorded cgroup; [`Recordings`] controls it (attaching it per syscall, and
//! detaching each syscall's program once the recordings have made it) and collects, from the events the
//! pipeline already sees, what an AppArmor profile needs (executed binaries, mounts, set*id and
//! capability use, chmod targets). A finished [`Recording`] becomes an OCI seccomp profile
//! ([`seccomp`]), Security Profiles Operator manifests ([`spo`]) and an AppArmor profile
//! ([`apparmor`]); [`verify`] runs a command under a seccomp profile to prove it works.

pub mod apparmor;
pub mod arch;
pub mod base;
pub mod cgroup;
pub mod name;
pub mod recorder;
pub mod recorder_links;
pub mod recording;
pub mod seccomp;
pub mod session;
pub mod spo;
pub mod verify;

pub use recorder::{RecordOptions, RecorderError, Recordings};
pub use recorder_links::RecorderStrategy;
pub use recording::{AppArmorObservations, Recording};
pub use seccomp::SeccompProfile;
