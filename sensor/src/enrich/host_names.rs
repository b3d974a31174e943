//! Host names the rules compare connections with (Falco's `fd.sip.name`, `fd.cip.name`,
//! `fd.rip.name`, `fd.lip.name`), resolved to addresses ahead of time.
//!
//! Falco does not look a connection's address up in DNS when an event comes: it resolves the
//! names its rules mention and matches an address against what they resolved to. The same
//! here: every loaded ruleset says which names it compares those fields with
//! (`Ruleset::constants_compared_with`), a thread of its own resolves them (the system's
//! resolver: /etc/hosts, DNS) and refreshes them every [`REFRESH`], and the enrich stage
//! attaches to a socket event the names its ends' addresses belong to. Nothing on the capture
//! thread waits for a lookup; a name that does not resolve matches nothing.

use std::collections::{BTreeSet, HashMap};
use std::net::{IpAddr, ToSocketAddrs};
use std::sync::{Arc, Condvar, Mutex, PoisonError, RwLock};
use std::time::Duration;

/// How often the names are resolved again (addresses behind a name change: a Service's
/// ClusterIP is stable, a pool's DNS round-robin is not).
pub const REFRESH: Duration = Duration::from_secs(30);

/// The fields whose constants are host names.
pub const NAME_FIELDS: &[&str] = &["fd.sip.name", "fd.cip.name", "fd.rip.name", "fd.lip.name"];

pub use crate::model::socket::Names;

#[derive(Default)]
struct Wanted {
    names: BTreeSet<String>,
    /// Bumped by every change, so the thread resolves at once.
    generation: u64,
    stop: bool,
}

/// The names to resolve and what they resolved to, shared by the rules (which set the
/// names), the resolving thread and the enrich stage (which reads addresses).
#[derive(Default)]
pub struct HostNames {
    wanted: Mutex<Wanted>,
    changed: Condvar,
    by_address: RwLock<Arc<HashMap<IpAddr, Names>>>,
}

impl HostNames {
    pub fn new() -> Arc<Self> {
        Arc::new(Self::default())
    }

    /// Resolves `names` from now on (instead of the ones before).
    pub fn want(&self, names: BTreeSet<String>) {
        let mut wanted = self.wanted.lock().unwrap_or_else(PoisonError::into_inner);
        if wanted.names != names {
            wanted.names = names;
            wanted.generation += 1;
            self.changed.notify_all();
        }
    }

    /// The names wanted now.
    pub fn wanted(&self) -> BTreeSet<String> {
        self.wanted
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .names
            .clone()
    }

    /// The names `ip` belongs to, as last resolved.
    pub fn names_of(&self, ip: IpAddr) -> Option<Names> {
        let table = self
            .by_address
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .clone();
        table.get(&ip.to_canonical()).cloned()
    }

    /// Starts the resolving thread; it stops when the returned guard is dropped.
    pub fn start(self: &Arc<Self>) -> std::io::Result<Resolving> {
        let this = self.clone();
        let thread = std::thread::Builder::new()
            .name("host-names".into())
            .spawn(move || this.run())?;
        Ok(Resolving {
            names: self.clone(),
            thread: Some(thread),
        })
    }

    fn run(&self) {
        let mut seen = u64::MAX;
        loop {
            let names = {
                let mut wanted = self.wanted.lock().unwrap_or_else(PoisonError::into_inner);
                if seen == wanted.generation {
                    wanted = self
                        .changed
                        .wait_timeout(wanted, REFRESH)
                        .unwrap_or_else(PoisonError::into_inner)
                        .0;
                }
                if wanted.stop {
                    return;
                }
                seen = wanted.generation;
                wanted.names.clone()
            };
            let table = resolve_all(&names);
            *self
                .by_address
                .write()
                .unwrap_or_else(PoisonError::into_inner) = Arc::new(table);
        }
    }
}

/// The running resolver thread; dropping it stops the thread.
pub struct Resolving {
    names: Arc<HostNames>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Drop for Resolving {
    fn drop(&mut self) {
        self.names
            .wanted
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .stop = true;
        self.names.changed.notify_all();
        // A lookup in flight may take the resolver's timeout; the thread is not waited for.
        drop(self.thread.take());
    }
}

/// Every address of every name, as the system's resolver answers now.
fn resolve_all(names: &BTreeSet<String>) -> HashMap<IpAddr, Names> {
    let mut by_address: HashMap<IpAddr, Vec<Arc<str>>> = HashMap::new();
    for name in names {
        // Only what can be a host name: rules compare these fields with names, but a typo
        // or a pattern must not become a lookup of arbitrary text.
        if !is_host_name(name) {
            continue;
        }
        let name: Arc<str> = name.as_str().into();
        match (name.as_ref(), 0u16).to_socket_addrs() {
            Ok(addrs) => {
                for addr in addrs {
                    let list = by_address.entry(addr.ip().to_canonical()).or_default();
                    if !list.contains(&name) {
                        list.push(name.clone());
                    }
                }
            }
            Err(e) => tracing::debug!(%name, "host name of a rule does not resolve: {e}"),
        }
    }
    by_address
        .into_iter()
        .map(|(ip, names)| (ip, Names(names.into())))
        .collect()
}

/// Letters, digits, `-`, `_` and dots, 253 bytes at most, no empty label.
fn is_host_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 253
        && name.split('.').all(|label| {
            !label.is_empty()
                && label.len() <= 63
                && label
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_host_names_are_looked_up() {
        assert!(is_host_name("kubernetes.default.svc.cluster.local"));
        assert!(is_host_name("localhost"));
        assert!(!is_host_name("*.pool.example"));
        assert!(!is_host_name("a..b"));
        assert!(!is_host_name(""));
        assert!(!is_host_name("a b"));
    }

    #[test]
    fn localhost_resolves_and_is_found_by_address() {
        let names = HostNames::new();
        names.want(["localhost".to_string(), "no-such-host.invalid".to_string()].into());
        let _resolving = names.start().expect("thread");
        let loopback: IpAddr = "127.0.0.1".parse().unwrap();
        let deadline = std::time::Instant::now() + Duration::from_secs(10);
        while names.names_of(loopback).is_none() && std::time::Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(20));
        }
        let found = names.names_of(loopback).expect("localhost resolved");
        assert_eq!(&*found.0[0], "localhost");
        // An IPv4-mapped address is the IPv4 one.
        assert!(names
            .names_of("::ffff:127.0.0.1".parse().unwrap())
            .is_some());
    }
}
