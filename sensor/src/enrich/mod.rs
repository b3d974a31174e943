//! Who did it: the process table, the container from the cgroup, user and group names.

pub mod container;
pub mod fd;
pub mod pods;
pub mod process;
pub mod process_table;
pub mod users;

pub use process_table::ProcessTable;

use crate::event::Event;
use crate::probe::syscalls::ArgType;

/// The enrich stage: everything the agent knows about the actor, attached to each event.
pub struct Enricher {
    pub processes: ProcessTable,
    containers: container::ContainerCache,
    names: users::UserNames,
}

impl Enricher {
    /// Seeds the process table from /proc: call after the programs are attached, so that no
    /// process can start in between unseen.
    pub fn new() -> Self {
        Self {
            processes: ProcessTable::from_proc(),
            containers: Default::default(),
            names: Default::default(),
        }
    }

    pub fn enrich(&mut self, event: &mut Event) {
        self.processes.enrich(event);
        let t = &event.task;
        event.container = self.containers.lookup(t.cgroup_id, t.pid);
        let names = self.names.names(t.pid, t.mnt_ns, event.container.is_some());
        event.user_name = names.user(t.creds.euid);
        event.group_name = names.group(t.creds.egid);
        if t.loginuid != u32::MAX {
            event.login_name = names.user(t.loginuid);
        }
        if let Some(def) = event.syscall() {
            if let Some(arg) = def.args.iter().find(|a| a.ty == ArgType::Fd) {
                let fd_number = event.raw_args[arg.index as usize] as u32 as i32 as i64;
                event.fd_path = fd::resolve(event.task.pid, fd_number);
            }
        }
    }
}

impl Default for Enricher {
    fn default() -> Self {
        Self::new()
    }
}
