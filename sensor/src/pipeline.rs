//! The capture pipeline: ring buffer -> decode -> enrich -> a sink, on one thread, so that the
//! process table needs no locks and events reach the sink in kernel order.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::enrich::Enricher;
use crate::model::syscall_set::WantedSyscalls;
use crate::model::Event;
use crate::probe::decode::Decoder;
use crate::probe::{CompatStatus, Loss, Probe};
use crate::telemetry::Telemetry;

/// How long a read waits for the kernel before checking for a stop; also bounds the latency
/// of records that did not trigger a wakeup (the kernel wakes the reader only in batches).
const POLL_INTERVAL: Duration = Duration::from_millis(10);
/// Records handled between stop checks.
const BATCH: usize = 4096;
/// How often statistics are handed to the telemetry (Status, metrics).
pub const PUBLISH_INTERVAL: Duration = Duration::from_millis(250);

/// What went through the pipeline.
#[derive(Clone, Debug, Default)]
pub struct Stats {
    pub events: u64,
    pub by_type: BTreeMap<&'static str, u64>,
    pub loss: Loss,
    pub malformed: u64,
    /// The 32-bit compat path, for Status.
    pub compat: Option<CompatStatus>,
    /// Events held for their pod or names, resolvers.
    pub enrich: crate::enrich::EnrichStats,
    /// Calls the kernel filter dropped (no loaded rule could match them), by event type.
    pub filtered: BTreeMap<&'static str, u64>,
}

impl Stats {
    /// The one-line summary printed at exit.
    pub fn summary(&self, probe_load: Duration, attached: usize) -> String {
        let types: Vec<String> = self
            .by_type
            .iter()
            .map(|(t, n)| format!("{t}={n}"))
            .collect();
        let filtered: Vec<String> = self
            .filtered
            .iter()
            .map(|(t, n)| format!("{t}={n}"))
            .collect();
        let filtered = match filtered.is_empty() {
            true => String::new(),
            false => format!(
                "; filtered in the kernel {} ({})",
                self.filtered.values().sum::<u64>(),
                filtered.join(" ")
            ),
        };
        format!(
            "sensor summary: {} events ({}); lost {} (ring buffer full {}, exit without enter {}, 32-bit exec not stopped {}); malformed {}{filtered}; {} tracepoints attached in {:.1} ms",
            self.events,
            if types.is_empty() { "none".to_string() } else { types.join(" ") },
            self.loss.total(),
            self.loss.ring_full,
            self.loss.missing_enter,
            self.loss.compat_unstopped,
            self.malformed,
            attached,
            probe_load.as_secs_f64() * 1e3,
        )
    }
}

/// Where the pipeline's events go.
pub trait Sink {
    type Error;
    fn event(&mut self, event: &Event) -> Result<(), Self::Error>;
    /// Called whenever the ring buffer has been drained, so a buffering sink can hand on what
    /// it holds while the node is quiet.
    fn flush(&mut self) -> Result<(), Self::Error> {
        Ok(())
    }
    /// Called about once a second with the running totals, so that loss can be reported
    /// (the drop alert).
    fn lost(&mut self, _stats: &Stats) -> Result<(), Self::Error> {
        Ok(())
    }
}

impl<E, F: FnMut(&Event) -> Result<(), E>> Sink for F {
    type Error = E;
    fn event(&mut self, event: &Event) -> Result<(), E> {
        self(event)
    }
}

pub struct Pipeline {
    probe: Probe,
    decoder: Decoder,
    enricher: Enricher,
    stats: Stats,
    poll_interval: Duration,
    telemetry: Option<Arc<Telemetry>>,
    /// The syscalls a consumer wants traced (the rules' event types), and the generation of
    /// it the probe follows now.
    wanted: Option<(Arc<WantedSyscalls>, u64)>,
}

impl Pipeline {
    /// Seeds the process table after the programs are attached, so no process can start in
    /// between unseen.
    pub fn new(probe: Probe) -> Self {
        Self::with_pods(probe, crate::enrich::pods::PodCache::host())
    }

    /// As [`Pipeline::new`], enriching container events from the node's pod cache.
    pub fn with_pods(probe: Probe, pods: crate::enrich::pods::PodCache) -> Self {
        Self::with_enrich(probe, pods, crate::enrich::EnrichOptions::default())
    }

    /// As [`Pipeline::with_pods`], with how long and how many events may wait for their pod
    /// or names.
    pub fn with_enrich(
        probe: Probe,
        pods: crate::enrich::pods::PodCache,
        options: crate::enrich::EnrichOptions,
    ) -> Self {
        Self {
            probe,
            decoder: Decoder::new(),
            enricher: Enricher::with_options(pods, options),
            stats: Stats::default(),
            poll_interval: POLL_INTERVAL,
            telemetry: None,
            wanted: None,
        }
    }

    /// The longest a record waits in the ring buffer while the node is quiet (the kernel
    /// wakes the reader only in batches). Alert delivery uses 1 ms to keep latency low; the
    /// cost is a wakeup per interval when idle.
    pub fn with_poll_interval(mut self, interval: Duration) -> Self {
        self.poll_interval = interval.max(Duration::from_micros(100));
        self
    }

    /// Publishes the pipeline's statistics there every [`PUBLISH_INTERVAL`] and at the end.
    pub fn with_telemetry(mut self, telemetry: Arc<Telemetry>) -> Self {
        self.telemetry = Some(telemetry);
        self
    }

    /// Names the ends of socket events with the host names `names` resolved (Falco's
    /// `fd.sip.name` and its siblings).
    pub fn with_host_names(mut self, names: Arc<crate::enrich::host_names::HostNames>) -> Self {
        self.enricher.set_host_names(names);
        self
    }

    /// Traces the syscalls `wanted` names, now and whenever it changes (looked at once per
    /// round of the loop, one atomic load). A change that cannot be attached is logged and the
    /// syscalls traced before stay traced.
    pub fn with_wanted_syscalls(mut self, wanted: Arc<WantedSyscalls>) -> Self {
        let generation = wanted.generation();
        self.follow(&wanted);
        wanted.applied(generation);
        self.wanted = Some((wanted, generation));
        self
    }

    fn follow(&mut self, wanted: &WantedSyscalls) {
        if let Err(e) = self.probe.trace(&wanted.get()) {
            tracing::error!("the syscalls the rules need could not all be traced: {e}");
        }
        if let Err(e) = self.probe.filter(&wanted.filter()) {
            tracing::error!(
                "the kernel filter could not be installed (the one before stays in force): {e}"
            );
        }
    }

    pub fn probe(&self) -> &Probe {
        &self.probe
    }

    pub fn stats(&self) -> &Stats {
        &self.stats
    }

    /// The summary line: events and losses, then the pod cache's state when there is one.
    pub fn summary(&self) -> String {
        let mut line = self
            .stats
            .summary(self.probe.load_time, self.probe.attached.len());
        let held = &self.stats.enrich.held;
        line.push_str(&format!(
            "; event cache: held {}, completed {}, expired {}, evicted {}",
            held.holds, held.completed, held.expired, held.evicted
        ));
        let pods = self.enricher.pods();
        if !pods.is_host_mode() {
            let s = pods.stats();
            line.push_str(&format!(
                "; pod cache: {} pods, {} containers, synced {}, watch errors {}",
                s.pods, s.containers, s.synced, s.watch_errors
            ));
        }
        line
    }

    /// Runs until `stop` is set or the sink fails, then detaches the programs and drains what
    /// is left in the ring buffer, so that nothing captured is dropped.
    pub fn run<S: Sink>(&mut self, stop: &AtomicBool, sink: &mut S) -> Result<(), S::Error> {
        let mut last_loss_check = Instant::now();
        let mut last_publish = Instant::now();
        let mut reported_loss = 0;
        loop {
            if stop.load(Ordering::Relaxed) {
                self.probe.detach();
                while self.step(Duration::ZERO, sink)? > 0 {}
                self.release_held(sink)?;
                self.stats.loss = self.probe.loss();
                self.stats.filtered = self.probe.filtered();
                if let Some(t) = &self.telemetry {
                    t.publish_pipeline(&self.stats);
                }
                return sink.flush();
            }
            if let Some((wanted, seen)) = &self.wanted {
                let now = wanted.generation();
                if now != *seen {
                    let wanted = wanted.clone();
                    self.follow(&wanted);
                    wanted.applied(now);
                    self.wanted = Some((wanted, now));
                }
            }
            crate::telemetry::stall_hook::hold();
            if self.step(self.poll_interval, sink)? < BATCH {
                sink.flush()?;
            }
            if let Some(t) = &self.telemetry {
                t.progressed();
                if last_publish.elapsed() >= PUBLISH_INTERVAL {
                    last_publish = Instant::now();
                    self.stats.loss = self.probe.loss();
                    self.stats.compat = Some(self.probe.compat_status());
                    self.stats.filtered = self.probe.filtered();
                    t.publish_pipeline(&self.stats);
                }
            }
            if last_loss_check.elapsed() >= Duration::from_secs(1) {
                last_loss_check = Instant::now();
                self.stats.loss = self.probe.loss();
                let total = self.stats.loss.total();
                if total > reported_loss {
                    tracing::warn!(
                        lost_total = total,
                        ring_full = self.stats.loss.ring_full,
                        exit_without_enter = self.stats.loss.missing_enter,
                        compat_exec_not_stopped = self.stats.loss.compat_unstopped,
                        "events lost: the consumer is slower than the kernel; a larger ring buffer or a faster sink helps"
                    );
                    reported_loss = total;
                }
                sink.lost(&self.stats)?;
            }
        }
    }

    /// Reads a batch, enriches each event from memory and hands it to the sink, or holds it
    /// in the enricher's event cache; then hands on the held events that may go now.
    fn step<S: Sink>(&mut self, timeout: Duration, sink: &mut S) -> Result<usize, S::Error> {
        let mut result = Ok(());
        let Self {
            probe,
            decoder,
            enricher,
            stats,
            ..
        } = self;
        let mut out = |event: Event| {
            if result.is_ok() {
                result = sink.event(&event);
            }
        };
        let read = probe.read(timeout, BATCH, |bytes| {
            let Some(event) = decoder.decode(bytes) else {
                return;
            };
            stats.events += 1;
            *stats.by_type.entry(event.evt_type()).or_default() += 1;
            enricher.admit(event, &mut out);
        });
        enricher.release(&mut out);
        stats.malformed = decoder.malformed;
        stats.enrich = enricher.stats();
        result.map(|()| read)
    }

    /// At shutdown: every held event goes to the sink as it is, in order.
    fn release_held<S: Sink>(&mut self, sink: &mut S) -> Result<(), S::Error> {
        let mut result = Ok(());
        self.enricher.release_all(&mut |event: Event| {
            if result.is_ok() {
                result = sink.event(&event);
            }
        });
        self.stats.enrich = self.enricher.stats();
        result
    }
}
