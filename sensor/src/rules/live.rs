//! The ruleset in force, replaced whole on SIGHUP or when a rules file changes. A broken file
//! keeps the old ruleset running; the error is logged with its location and counted.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;

use sensor_rules::Ruleset;

use crate::model::kernel_filter::KernelFilterTable;
use crate::model::syscall_set::{SyscallSet, WantedSyscalls};

use super::sources::{RuleFiles, RulesError};

/// How often rule files are checked for changes.
const WATCH_INTERVAL: Duration = Duration::from_secs(1);

/// The syscalls `ruleset` is evaluated on, with `base`.
fn needed(ruleset: &Ruleset, base: &SyscallSet) -> SyscallSet {
    SyscallSet::named(ruleset.event_types()).union(base)
}

/// What the capture thread is to trace for `ruleset`, and, with `kernel_filter`, the filter
/// that drops in the kernel what no rule of it can match.
fn publish(wanted: &WantedSyscalls, ruleset: &Ruleset, base: &SyscallSet, kernel_filter: bool) {
    let set = needed(ruleset, base);
    let filter = match kernel_filter {
        true => super::kernel_filter::compile(ruleset, &set),
        false => KernelFilterTable::none(),
    };
    wanted.set_filtered(set, filter);
}

/// Reload counters, for logs and metrics.
#[derive(Debug, Default)]
pub struct ReloadMetrics {
    pub reloads: AtomicU64,
    pub failures: AtomicU64,
}

/// The current ruleset, shared between the reloader and the pipeline. Readers keep their own
/// `Arc` and look at `generation` (one atomic load) to learn of a new one, so evaluation never
/// waits for a reload and no event is dropped during one.
pub struct LiveRules {
    current: RwLock<Arc<Ruleset>>,
    generation: AtomicU64,
    pub metrics: ReloadMetrics,
    /// The syscalls the rules in force are evaluated on, plus a base the caller always wants
    /// traced, published for the capture thread at every replacement, with the kernel
    /// filter derived from the rules when it is on.
    wanted: Option<(Arc<WantedSyscalls>, Mutex<SyscallSet>, bool)>,
    /// Told of every ruleset that takes over (what it needs resolved, say).
    followers: Mutex<Vec<Follower>>,
}

/// Something that learns of each ruleset in force ([`LiveRules::follow`]).
pub type Follower = Box<dyn Fn(&Ruleset) + Send + Sync>;

impl LiveRules {
    pub fn new(ruleset: Arc<Ruleset>) -> Arc<Self> {
        Self::with_wanted(ruleset, None)
    }

    /// As [`LiveRules::new`], publishing in the returned [`WantedSyscalls`] the syscalls
    /// each ruleset in force is evaluated on, together with `base`: a reload that adds a rule
    /// on `symlinkat` has it traced, one that drops the last such rule lets it go.
    /// With `kernel_filter`, the kernel filter derived from each ruleset is published with it
    /// (`kernel_filter.rs`).
    pub fn tracing(
        ruleset: Arc<Ruleset>,
        base: SyscallSet,
        kernel_filter: bool,
    ) -> (Arc<Self>, Arc<WantedSyscalls>) {
        let wanted = WantedSyscalls::new(SyscallSet::default());
        publish(&wanted, &ruleset, &base, kernel_filter);
        (
            Self::with_wanted(
                ruleset,
                Some((wanted.clone(), Mutex::new(base), kernel_filter)),
            ),
            wanted,
        )
    }

    fn with_wanted(
        ruleset: Arc<Ruleset>,
        wanted: Option<(Arc<WantedSyscalls>, Mutex<SyscallSet>, bool)>,
    ) -> Arc<Self> {
        Arc::new(Self {
            current: RwLock::new(ruleset),
            generation: AtomicU64::new(0),
            metrics: ReloadMetrics::default(),
            wanted,
            followers: Mutex::new(Vec::new()),
        })
    }

    /// Traces `base` from now on besides what the rules want (a recording's families while
    /// one runs), with the kernel filter derived again for the new set.
    pub fn set_base(&self, new_base: SyscallSet) {
        if let Some((wanted, base, kernel_filter)) = &self.wanted {
            let mut base = base
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            *base = new_base;
            publish(wanted, &self.current(), &base, *kernel_filter);
        }
    }

    /// Calls `follower` with the ruleset in force now and with every one that replaces it.
    pub fn follow(&self, follower: Follower) {
        follower(&self.current());
        self.followers
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .push(follower);
    }

    pub fn generation(&self) -> u64 {
        self.generation.load(Ordering::Acquire)
    }

    pub fn current(&self) -> Arc<Ruleset> {
        self.current
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone()
    }

    fn replace(&self, ruleset: Arc<Ruleset>) {
        // The base stays locked until the new ruleset is current, so that a `set_base` in
        // between publishes for the new one, not the old.
        let base = self.wanted.as_ref().map(|(_, base, _)| {
            base.lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner)
        });
        if let (Some((wanted, _, kernel_filter)), Some(base)) = (&self.wanted, &base) {
            publish(wanted, &ruleset, base, *kernel_filter);
        }
        for follower in self
            .followers
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .iter()
        {
            follower(&ruleset);
        }
        *self
            .current
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = ruleset;
        self.generation.fetch_add(1, Ordering::AcqRel);
        drop(base);
    }

    /// Loads `files` again; on success the new ruleset takes over, on error the old one stays.
    pub fn reload(&self, files: &RuleFiles) -> bool {
        match files.load() {
            Ok((ruleset, report)) => {
                for line in report.to_string().lines().filter(|l| l.contains("warning")) {
                    tracing::warn!("{line}");
                }
                let count = ruleset.rules().len();
                self.replace(ruleset);
                self.metrics.reloads.fetch_add(1, Ordering::Relaxed);
                tracing::info!(rules = count, "rules reloaded");
                true
            }
            Err(e) => {
                self.metrics.failures.fetch_add(1, Ordering::Relaxed);
                // One line, so log collectors keep the location with the message.
                let problems = match &e {
                    RulesError::Invalid(report) => report
                        .to_string()
                        .lines()
                        .filter(|l| l.contains(": error:"))
                        .collect::<Vec<_>>()
                        .join("; "),
                    other => other.to_string(),
                };
                tracing::error!(
                    "rules reload failed, the previous rules stay in force: {problems}"
                );
                false
            }
        }
    }

    /// Watches for SIGHUP (`hup` set by a signal handler) and, when `files_too`, for changed
    /// rule files, and reloads; returns when `stop` is set.
    pub fn watch(
        self: Arc<Self>,
        files: RuleFiles,
        hup: Arc<AtomicBool>,
        stop: Arc<AtomicBool>,
        files_too: bool,
    ) {
        let mut seen = files.fingerprint();
        while !stop.load(Ordering::Relaxed) {
            std::thread::sleep(WATCH_INTERVAL.min(Duration::from_millis(200)));
            let signalled = hup.swap(false, Ordering::AcqRel);
            let now = if files_too {
                files.fingerprint()
            } else {
                seen.clone()
            };
            let changed = now != seen;
            if signalled || changed {
                if changed {
                    tracing::info!("rules files changed; reloading");
                } else {
                    tracing::info!("SIGHUP; reloading rules");
                }
                seen = now;
                self.reload(&files);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::syscall_set;
    use sensor_rules::{RuleSource, RulesetBuilder};

    #[test]
    fn the_families_recordings_read_are_traced_only_while_the_base_asks_for_them() {
        let compiled = RulesetBuilder::new()
            .registry(crate::rules::fields::registry())
            .captured_event_types(crate::model::syscalls::SYSCALLS.iter().map(|s| s.name))
            .source(RuleSource::new(
                "r.yaml",
                "- rule: r\n  desc: d\n  condition: evt.type = symlinkat\n  output: o\n  priority: WARNING\n",
            ))
            .build();
        assert_eq!(compiled.report.compiled(), 1, "{}", compiled.report);
        let (live, wanted) = LiveRules::tracing(
            Arc::new(compiled.ruleset),
            SyscallSet::families(syscall_set::ALWAYS_FAMILIES),
            true,
        );
        let traced = |name: &str| wanted.get().defs().any(|d| d.name == name);
        let names: Vec<&str> = wanted.get().defs().map(|d| d.name).collect();
        assert!(
            traced("symlinkat") && traced("execve") && traced("mount"),
            "{names:?}"
        );
        assert!(!traced("fchmodat") && !traced("setuid"));
        let before = wanted.generation();
        live.set_base(SyscallSet::families(syscall_set::BASE_FAMILIES));
        assert!(wanted.generation() > before);
        assert!(traced("fchmodat") && traced("setuid") && traced("symlinkat"));
        // Traced for the recording, read by no rule: the kernel filter keeps none of it
        // (a recorded cgroup's calls are kept by the kernel side itself).
        let nr = crate::model::syscalls::by_name("fchmodat")
            .and_then(|d| d.nr())
            .expect("fchmodat has a number here");
        let spec = wanted.filter().specs.get(&nr).copied().expect("filtered");
        assert_eq!((spec.active, spec.clauses), (1, 0));
        live.set_base(SyscallSet::families(syscall_set::ALWAYS_FAMILIES));
        assert!(!traced("fchmodat"));
    }
}
