//! The sensor's counters, shared by the pipeline thread (which writes them) and the gRPC
//! `Status` call and the metrics endpoint (which read them). The pipeline publishes its own
//! statistics in batches, so no lock is taken per event.

pub mod health;
pub mod histogram;
pub mod log_filter;
pub mod prometheus;
pub mod stall_hook;

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Instant, SystemTime};

use sensor_rules::Priority;

use crate::pipeline::Stats;

pub use histogram::Histogram;

/// Rule evaluation time buckets, in seconds: 250 ns to 1 ms.
const EVAL_BUCKETS: [f64; 10] = [
    250e-9, 500e-9, 1e-6, 2.5e-6, 5e-6, 10e-6, 25e-6, 100e-6, 250e-6, 1e-3,
];

pub struct Telemetry {
    pub started: SystemTime,
    started_mono: Instant,
    pipeline: Mutex<Stats>,
    alerts: Mutex<BTreeMap<(String, Priority), u64>>,
    pub alerts_total: AtomicU64,
    pub alerts_deduplicated: AtomicU64,
    pub alerts_rate_limited: AtomicU64,
    /// Time to evaluate the rules against one event.
    pub rule_eval: Histogram,
    /// What readiness and the metrics look at beyond the counters, set once as the sensor
    /// starts.
    pub parts: std::sync::OnceLock<Parts>,
    /// The eBPF programs are attached (cleared when they are detached at shutdown).
    pub attached: std::sync::atomic::AtomicBool,
    /// When the pipeline last finished a round of reading (ms since the start).
    progress_ms: AtomicU64,
}

/// The sensor's components, as the health endpoint and metrics see them.
pub struct Parts {
    pub rules: Arc<crate::rules::LiveRules>,
    pub hub: Option<Arc<crate::sinks::hub::AlertHub>>,
    pub pods: crate::enrich::pods::PodCacheView,
    /// Each output's name, queue policy and figures.
    pub outputs: Vec<(
        &'static str,
        crate::sinks::queue::WhenFull,
        Arc<crate::sinks::output::OutputCounters>,
    )>,
    pub program_ids: Vec<u32>,
    /// Whether records wait in the ring buffer, for `/healthz`.
    pub ring: Option<crate::probe::RingWatch>,
    /// `health.stall_after`.
    pub stall_after: std::time::Duration,
}

impl Default for Telemetry {
    fn default() -> Self {
        Self {
            started: SystemTime::now(),
            started_mono: Instant::now(),
            pipeline: Mutex::default(),
            alerts: Mutex::default(),
            alerts_total: AtomicU64::new(0),
            alerts_deduplicated: AtomicU64::new(0),
            alerts_rate_limited: AtomicU64::new(0),
            rule_eval: Histogram::new(&EVAL_BUCKETS),
            parts: std::sync::OnceLock::new(),
            attached: std::sync::atomic::AtomicBool::new(false),
            progress_ms: AtomicU64::new(0),
        }
    }
}

impl Telemetry {
    pub fn new() -> Arc<Self> {
        Arc::new(Self::default())
    }

    /// Why the sensor is not ready, or `None` when it is: programs attached, rules loaded,
    /// and the pod cache synced when Kubernetes is configured.
    pub fn not_ready(&self) -> Option<String> {
        let Some(parts) = self.parts.get() else {
            return Some("starting".into());
        };
        if !self.attached.load(Ordering::Acquire) {
            return Some("eBPF programs not attached".into());
        }
        if parts.rules.current().is_empty() {
            return Some("no rules loaded".into());
        }
        if let Some(stats) = parts.pods.stats() {
            if !stats.synced {
                return Some("pod cache not synced with the API server".into());
            }
        }
        None
    }

    /// Called by the pipeline thread after each round of reading the ring buffer.
    pub fn progressed(&self) {
        self.progress_ms.store(
            self.started_mono.elapsed().as_millis() as u64,
            Ordering::Relaxed,
        );
    }

    /// Time since the pipeline last made progress: its lag behind the kernel when records
    /// are pending.
    pub fn since_progress(&self) -> std::time::Duration {
        let now = self.started_mono.elapsed().as_millis() as u64;
        std::time::Duration::from_millis(
            now.saturating_sub(self.progress_ms.load(Ordering::Relaxed)),
        )
    }

    /// Whether records wait in the ring buffer now (`None`: not known).
    pub fn ring_pending(&self) -> Option<bool> {
        self.parts.get()?.ring.as_ref().map(|r| r.pending())
    }

    /// Why the sensor is not healthy, or `None`: unhealthy when the pipeline has not made
    /// progress for `health.stall_after` while records wait for it. A quiet node (nothing
    /// pending) is healthy however long the pipeline waited.
    pub fn not_healthy(&self) -> Option<String> {
        let parts = self.parts.get()?;
        if !self.attached.load(Ordering::Acquire) {
            return None;
        }
        let since = self.since_progress();
        if since < parts.stall_after || self.ring_pending() != Some(true) {
            return None;
        }
        Some(format!(
            "the pipeline has made no progress for {:.1}s while records wait in the ring buffer (health.stall_after {:?})",
            since.as_secs_f64(),
            parts.stall_after
        ))
    }

    pub fn uptime(&self) -> std::time::Duration {
        self.started_mono.elapsed()
    }

    /// Called by the pipeline thread every so often with its running totals.
    pub fn publish_pipeline(&self, stats: &Stats) {
        self.pipeline
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone_from(stats);
    }

    pub fn pipeline(&self) -> Stats {
        self.pipeline
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// Adds the alerts raised since the last call, by rule and priority.
    pub fn add_alerts(&self, batch: &mut BTreeMap<(String, Priority), u64>) {
        if batch.is_empty() {
            return;
        }
        let mut alerts = self.alerts.lock().unwrap_or_else(|e| e.into_inner());
        for (key, n) in std::mem::take(batch) {
            self.alerts_total.fetch_add(n, Ordering::Relaxed);
            *alerts.entry(key).or_default() += n;
        }
    }

    pub fn alerts(&self) -> BTreeMap<(String, Priority), u64> {
        self.alerts
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }
}
