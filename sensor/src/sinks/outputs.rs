//! Every configured output, fed from the pipeline thread: throttling first, then each
//! output's own queue (stdout, file, HTTP: [`OutputHandle`]) and the gRPC subscribers' queues.
//! Losses become the drop alert here ([`DropAlerts`]), delivered to all of them.

use std::collections::BTreeMap;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

use sensor_rules::{Alert, Priority};

use super::drop_alert::{DropAlerts, LossCounts};
use super::hub::AlertHub;
use super::output::{OutputCounters, OutputHandle};
use super::queue::WhenFull;
use super::record::AlertRecord;
use super::throttle::{Throttle, Verdict};
use crate::model::Event;
use crate::telemetry::Telemetry;

/// How often folded alerts whose window closed are looked for.
const TICK: Duration = Duration::from_millis(100);

pub struct Outputs {
    throttle: Throttle,
    outputs: Vec<OutputHandle>,
    drops: Option<DropAlerts>,
    hostname: String,
    hub: Option<Arc<AlertHub>>,
    telemetry: Arc<Telemetry>,
    /// Alerts raised so far: the next alert's `sequence` is this plus one.
    sequence: u64,
    /// Alerts by rule and priority since the last hand-over to the telemetry.
    counted: BTreeMap<(String, Priority), u64>,
    last_tick: Instant,
}

impl Outputs {
    pub fn new(telemetry: Arc<Telemetry>) -> Self {
        Self {
            throttle: Throttle::default(),
            outputs: Vec::new(),
            drops: None,
            hostname: crate::rules::alerts::hostname(),
            hub: None,
            telemetry,
            sequence: 0,
            counted: BTreeMap::new(),
            last_tick: Instant::now(),
        }
    }

    pub fn with_throttle(mut self, throttle: Throttle) -> Self {
        self.throttle = throttle;
        self
    }

    /// An output (stdout, file, HTTP) running on its own thread.
    pub fn with_output(mut self, output: OutputHandle) -> Self {
        self.outputs.push(output);
        self
    }

    /// Raise the drop alert, at most once per `interval`.
    pub fn with_drop_alerts(mut self, interval: Duration) -> Self {
        self.drops = Some(DropAlerts::new(interval));
        self
    }

    pub fn with_hub(mut self, hub: Arc<AlertHub>) -> Self {
        self.hub = Some(hub);
        self
    }

    /// Each output's name, queue policy and figures, for the metrics and the summary.
    pub fn counters(&self) -> Vec<(&'static str, WhenFull, Arc<OutputCounters>)> {
        self.outputs
            .iter()
            .map(|o| (o.name, o.when_full, o.counters()))
            .collect()
    }

    /// Alerts dropped by full queues so far: every output's and every subscriber's.
    fn dropped(&self) -> u64 {
        let outputs: u64 = self
            .outputs
            .iter()
            .map(|o| o.counters().dropped_queue_full.load(Ordering::Relaxed))
            .sum();
        let hub = self
            .hub
            .as_ref()
            .map_or(0, |h| h.counters.dropped.load(Ordering::Relaxed));
        outputs + hub
    }

    /// Called by the pipeline about once a second with its running loss totals: raises the
    /// drop alert when something was lost (here or in the kernel) and the interval allows.
    pub fn lost(&mut self, mut totals: LossCounts) -> std::io::Result<()> {
        totals.output_dropped = self.dropped();
        let Some(drops) = &mut self.drops else {
            return Ok(());
        };
        let wall_ns = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos() as u64);
        let Some(alert) = drops.check(Instant::now(), totals, &self.hostname, wall_ns) else {
            return Ok(());
        };
        tracing::warn!("{}", alert.output);
        *self
            .counted
            .entry((alert.rule.clone(), alert.priority))
            .or_default() += 1;
        self.sequence += 1;
        // Never folded or rate limited: it is rate limited by its own interval.
        let record = Arc::new(AlertRecord::internal(alert, wall_ns, self.sequence));
        self.deliver(&record)
    }

    /// Drop alerts raised so far.
    pub fn drop_alerts(&self) -> u64 {
        self.drops.as_ref().map_or(0, |d| d.raised)
    }

    /// Hands a raised alert to every output.
    pub fn publish(&mut self, alert: Alert, event: &Event) -> std::io::Result<()> {
        *self
            .counted
            .entry((alert.rule.clone(), alert.priority))
            .or_default() += 1;
        self.sequence += 1;
        let record = Arc::new(AlertRecord::new(alert, event, self.sequence));
        if self.throttle.is_active() {
            match self.throttle.check(&record, Instant::now()) {
                Verdict::Pass => {}
                Verdict::Folded => {
                    self.telemetry
                        .alerts_deduplicated
                        .fetch_add(1, Ordering::Relaxed);
                    return Ok(());
                }
                Verdict::RateLimited => {
                    self.telemetry
                        .alerts_rate_limited
                        .fetch_add(1, Ordering::Relaxed);
                    return Ok(());
                }
            }
        }
        self.deliver(&record)
    }

    fn deliver(&mut self, record: &Arc<AlertRecord>) -> std::io::Result<()> {
        if let Some(hub) = &self.hub {
            hub.publish(record);
        }
        for output in &self.outputs {
            output.push(record);
        }
        self.failure()
    }

    /// An output that ended (stdout closed: `sensor run | head`) ends the run.
    fn failure(&self) -> std::io::Result<()> {
        for output in &self.outputs {
            if let Some(e) = output.take_failure() {
                return Err(e);
            }
        }
        Ok(())
    }

    /// Called when the pipeline is idle: releases folded alerts whose window closed, and
    /// publishes counts (the outputs flush on their own threads when their queue is empty).
    pub fn flush(&mut self) -> std::io::Result<()> {
        let now = Instant::now();
        if now.duration_since(self.last_tick) >= TICK {
            self.last_tick = now;
            for record in self.throttle.expired(now) {
                self.deliver(&Arc::new(record))?;
            }
        }
        self.telemetry.add_alerts(&mut self.counted);
        self.failure()
    }

    /// At shutdown: releases every folded alert, then gives the outputs `grace` (together)
    /// to write what they hold.
    pub fn close(mut self, grace: Duration) -> std::io::Result<()> {
        let far = Instant::now() + Duration::from_secs(24 * 3600);
        let mut result = Ok(());
        for record in self.throttle.expired(far) {
            if let Err(e) = self.deliver(&Arc::new(record)) {
                result = Err(e);
            }
        }
        self.telemetry.add_alerts(&mut self.counted);
        let deadline = Instant::now() + grace;
        for output in std::mem::take(&mut self.outputs) {
            let name = output.name;
            let failure = output.take_failure();
            let left = output.close(deadline);
            if left > 0 {
                tracing::warn!(
                    output = name,
                    left,
                    "the output did not write every alert before shutdown"
                );
            }
            if let (Some(e), Ok(())) = (failure, &result) {
                result = Err(e);
            }
        }
        result
    }
}
