//! Who did it: the process table, the container from the cgroup, user and group names.

pub mod container;
pub mod fd;
pub mod pods;
pub mod process_table;
pub mod root_files;
pub mod users;

pub use process_table::ProcessTable;

/// Transitional: the process moved to `crate::model::process`; this keeps code written
/// against the old path (other branches in flight) compiling.
pub use crate::model::process;

use crate::model::syscalls::ArgType;
use crate::model::Event;

/// How long an event from a container whose pod is not in the cache yet is held, waiting for
/// the pod's update (the container may have started a moment before its status arrived).
const POD_WAIT: std::time::Duration = std::time::Duration::from_millis(200);
/// After a fruitless wait, the container is not waited for again for this long.
const POD_WAIT_AGAIN_AFTER: std::time::Duration = std::time::Duration::from_secs(10);

/// The enrich stage: everything the agent knows about the actor, attached to each event.
pub struct Enricher {
    pub processes: ProcessTable,
    containers: container::ContainerCache,
    names: users::UserNames,
    pods: pods::PodCache,
    waited: std::collections::HashMap<std::sync::Arc<str>, std::time::Instant>,
    /// The pod found for each cgroup, valid while the cache's generation stays the same: one
    /// integer-keyed lookup per event instead of the cache's lock and string hash.
    pod_by_cgroup: std::collections::HashMap<u64, (u64, Option<std::sync::Arc<pods::PodInfo>>)>,
}

impl Enricher {
    /// Seeds the process table from /proc: call after the programs are attached, so that no
    /// process can start in between unseen. Host mode: no pod metadata.
    pub fn new() -> Self {
        Self::with_pods(pods::PodCache::host())
    }

    /// As [`Enricher::new`], with the node's pod cache.
    pub fn with_pods(pods: pods::PodCache) -> Self {
        Self {
            processes: ProcessTable::from_proc(),
            containers: Default::default(),
            names: Default::default(),
            pods,
            waited: Default::default(),
            pod_by_cgroup: Default::default(),
        }
    }

    pub fn pods(&self) -> &pods::PodCache {
        &self.pods
    }

    /// The pod of a container. A container unknown to a synced cache may have started a moment
    /// before its pod's status arrived: wait for it briefly, once per container in a while, so
    /// its first events are not reported without their pod.
    fn pod_of(
        &mut self,
        container: &container::Container,
    ) -> Option<std::sync::Arc<pods::PodInfo>> {
        if let Some(info) = self.pods.lookup(&container.full_id) {
            return Some(info);
        }
        if self.pods.is_host_mode() || !self.pods.is_synced() {
            return None;
        }
        let key: std::sync::Arc<str> = container.full_id.as_str().into();
        if self
            .waited
            .get(&key)
            .is_some_and(|t| t.elapsed() < POD_WAIT_AGAIN_AFTER)
        {
            return None;
        }
        let found = self.pods.wait_for_blocking(&container.full_id, POD_WAIT);
        if found.is_none() {
            if self.waited.len() > 4096 {
                self.waited.clear();
            }
            self.waited.insert(key, std::time::Instant::now());
        }
        found
    }

    pub fn enrich(&mut self, event: &mut Event) {
        self.processes.enrich(event);
        let t = &event.task;
        event.container = self.containers.lookup(t.cgroup_id, t.pid);
        event.pod = match event.container.clone() {
            Some(c) => {
                let generation = self.pods.generation();
                match self.pod_by_cgroup.get(&t.cgroup_id) {
                    Some((g, pod)) if *g == generation && pod.is_some() => pod.clone(),
                    _ => {
                        let cgroup_id = t.cgroup_id;
                        let pod = self.pod_of(&c);
                        if self.pod_by_cgroup.len() > 65536 {
                            self.pod_by_cgroup.clear();
                        }
                        // Read the generation again: a wait may have seen the pod arrive.
                        let generation = self.pods.generation();
                        self.pod_by_cgroup
                            .insert(cgroup_id, (generation, pod.clone()));
                        pod
                    }
                }
            }
            None => None,
        };
        let t = &event.task;
        if event
            .syscall()
            .is_some_and(|s| s.family == crate::model::syscalls::Family::Mount && event.res >= 0)
        {
            self.names.forget(t.mnt_ns);
        }
        let names = self.names.names(t.pid, t.mnt_ns);
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
