//! Which syscalls are traced: a set of definitions of the syscall table, and the shared,
//! changeable choice the capture thread follows.
//!
//! A syscall that is not traced costs nothing: its tracepoints carry no program. So the
//! sensor traces what its consumers need: `sensor events` the families asked for, `sensor
//! run` what its rules are evaluated on (changing with each reload) plus the base families
//! the process table and the profile recorder read.

use std::collections::BTreeSet;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

use super::kernel_filter::KernelFilterTable;
use super::syscalls::{Family, SyscallDef, SYSCALLS};

/// Every family, with the name `--families` knows it by.
pub const FAMILIES: &[(&str, Family)] = &[
    ("exec", Family::Exec),
    ("chmod", Family::Chmod),
    ("mount", Family::Mount),
    ("setid", Family::SetId),
    ("file", Family::File),
    ("process", Family::Process),
    ("module", Family::Module),
    ("net", Family::Net),
    ("fd", Family::Fd),
    ("open", Family::Open),
];

/// The families `sensor run` always traces, whatever its rules: exec keeps the process
/// table's command lines and images current, and a successful mount tells the names cache
/// that a namespace's /etc/passwd may have changed.
pub const ALWAYS_FAMILIES: &[Family] = &[Family::Exec, Family::Mount];

/// The families a recording reads: its AppArmor profile is built from the exec, chmod,
/// mount, set*id and module events (a module load keeps `sys_module`). `sensor record`
/// traces them; `sensor run` adds them to what its rules want while a daemon-mode recording
/// runs. All are rare beside opens and sends.
pub const BASE_FAMILIES: &[Family] = &[
    Family::Exec,
    Family::Chmod,
    Family::Mount,
    Family::SetId,
    Family::Module,
];

/// A set of syscall definitions, by name (`evt.type`).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SyscallSet(BTreeSet<&'static str>);

impl SyscallSet {
    /// Every syscall of the table.
    pub fn all() -> Self {
        Self(SYSCALLS.iter().map(|s| s.name).collect())
    }

    /// Every syscall but the open family's: what is traced when nothing narrower is asked
    /// for (`sensor events`, `sensor record`). Opens are the machine's most frequent calls;
    /// they are traced when a rule or `--families open` asks for them.
    pub fn all_but_opens() -> Self {
        Self(
            SYSCALLS
                .iter()
                .filter(|s| s.family != Family::Open)
                .map(|s| s.name)
                .collect(),
        )
    }

    /// The syscalls of `families`.
    pub fn families(families: &[Family]) -> Self {
        Self(
            SYSCALLS
                .iter()
                .filter(|s| families.contains(&s.family))
                .map(|s| s.name)
                .collect(),
        )
    }

    /// The syscalls among `event_types` (other event types, `clone` and `procexit`, are
    /// always captured).
    pub fn named<'a>(event_types: impl IntoIterator<Item = &'a str>) -> Self {
        let wanted: BTreeSet<&str> = event_types.into_iter().collect();
        Self(
            SYSCALLS
                .iter()
                .filter(|s| wanted.contains(s.name))
                .map(|s| s.name)
                .collect(),
        )
    }

    /// Parses a `--families` list (`exec,file,net`), naming what is wrong in an error.
    pub fn parse_families(list: &str) -> Result<Self, String> {
        let mut families = Vec::new();
        for name in list.split(',').map(str::trim).filter(|n| !n.is_empty()) {
            if name == "all" {
                return Ok(Self::all());
            }
            let Some((_, family)) = FAMILIES.iter().find(|(n, _)| *n == name) else {
                let known: Vec<&str> = FAMILIES.iter().map(|(n, _)| *n).collect();
                return Err(format!(
                    "unknown syscall family `{name}`: use {} or all",
                    known.join(", ")
                ));
            };
            families.push(*family);
        }
        if families.is_empty() {
            return Err("no syscall family given: use e.g. exec,file,net, or all".to_string());
        }
        Ok(Self::families(&families))
    }

    pub fn union(mut self, other: &Self) -> Self {
        self.0.extend(other.0.iter().copied());
        self
    }

    pub fn contains(&self, def: &SyscallDef) -> bool {
        self.0.contains(def.name)
    }

    /// The definitions in the set, in the table's order.
    pub fn defs(&self) -> impl Iterator<Item = &'static SyscallDef> + '_ {
        SYSCALLS.iter().filter(|s| self.0.contains(s.name))
    }

    pub fn len(&self) -> usize {
        self.0.len()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

/// The set some consumer wants traced now, and the kernel filter to install with it: written
/// from any thread (the rules' reloader), read by the capture thread, which looks at
/// `generation` (one atomic load) each round and applies what changed.
#[derive(Debug, Default)]
pub struct WantedSyscalls {
    generation: AtomicU64,
    /// The generation the capture thread has put in force.
    applied: AtomicU64,
    wanted: Mutex<(SyscallSet, Arc<KernelFilterTable>)>,
}

impl WantedSyscalls {
    pub fn new(set: SyscallSet) -> Arc<Self> {
        Self::filtered(set, KernelFilterTable::none())
    }

    /// `set`, with `filter` installed in the kernel.
    pub fn filtered(set: SyscallSet, filter: KernelFilterTable) -> Arc<Self> {
        Arc::new(Self {
            generation: AtomicU64::new(0),
            applied: AtomicU64::new(0),
            wanted: Mutex::new((set, Arc::new(filter))),
        })
    }

    pub fn generation(&self) -> u64 {
        self.generation.load(Ordering::Acquire)
    }

    /// Called by the capture thread once `generation` is in force.
    pub fn applied(&self, generation: u64) {
        self.applied.fetch_max(generation, Ordering::AcqRel);
    }

    /// Waits until what is wanted now is in force, at most `limit`; whether it is.
    pub fn wait_applied(&self, limit: std::time::Duration) -> bool {
        let wanted = self.generation();
        let deadline = std::time::Instant::now() + limit;
        while self.applied.load(Ordering::Acquire) < wanted {
            if std::time::Instant::now() >= deadline {
                return false;
            }
            std::thread::sleep(std::time::Duration::from_millis(1));
        }
        true
    }

    pub fn get(&self) -> SyscallSet {
        self.lock().0.clone()
    }

    /// The kernel filter wanted with the set.
    pub fn filter(&self) -> Arc<KernelFilterTable> {
        self.lock().1.clone()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, (SyscallSet, Arc<KernelFilterTable>)> {
        self.wanted.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Wants `set` from now on; a change bumps the generation.
    pub fn set(&self, set: SyscallSet) {
        let mut current = self.lock();
        if current.0 != set {
            current.0 = set;
            self.generation.fetch_add(1, Ordering::AcqRel);
        }
    }

    /// Wants `set` and `filter` from now on; a change of either bumps the generation.
    pub fn set_filtered(&self, set: SyscallSet, filter: KernelFilterTable) {
        let mut current = self.lock();
        if current.0 != set || *current.1 != filter {
            *current = (set, Arc::new(filter));
            self.generation.fetch_add(1, Ordering::AcqRel);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn families_parse_and_name_the_unknown_one() {
        let set = SyscallSet::parse_families("exec, file").expect("valid");
        assert!(set.defs().any(|d| d.name == "execve"));
        assert!(set.defs().any(|d| d.name == "unlinkat"));
        assert!(!set.defs().any(|d| d.name == "fchmodat"));
        assert_eq!(
            SyscallSet::parse_families("all").expect("all"),
            SyscallSet::all()
        );
        let error = SyscallSet::parse_families("exec,files").unwrap_err();
        assert!(
            error.contains("`files`") && error.contains("file,"),
            "{error}"
        );
        assert!(SyscallSet::parse_families(",").is_err());
    }

    #[test]
    fn every_family_has_a_name_and_a_syscall() {
        for def in SYSCALLS {
            assert!(
                FAMILIES.iter().any(|(_, f)| *f == def.family),
                "{}",
                def.name
            );
        }
        for (name, family) in FAMILIES {
            assert!(!SyscallSet::families(&[*family]).is_empty(), "{name}");
        }
    }

    #[test]
    fn a_changed_set_bumps_the_generation_once() {
        let wanted = WantedSyscalls::new(SyscallSet::families(BASE_FAMILIES));
        wanted.set(SyscallSet::families(BASE_FAMILIES));
        assert_eq!(wanted.generation(), 0);
        wanted.set(SyscallSet::named(["symlinkat", "clone"]));
        assert_eq!(wanted.generation(), 1);
        assert_eq!(wanted.get().len(), 1);
    }
}
