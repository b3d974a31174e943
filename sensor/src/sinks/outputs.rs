//! Every configured output, fed from the pipeline thread: throttling first, then stdout and
//! file lines, the HTTP queue and the gRPC subscribers' queues.

use std::collections::BTreeMap;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

use sensor_rules::{Alert, Priority};

use super::http::HttpOutput;
use super::hub::AlertHub;
use super::lines::LineOutput;
use super::record::AlertRecord;
use super::throttle::{Throttle, Verdict};
use crate::model::Event;
use crate::telemetry::Telemetry;

/// How often folded alerts whose window closed are looked for.
const TICK: Duration = Duration::from_millis(100);

pub struct Outputs {
    throttle: Throttle,
    lines: Vec<LineOutput>,
    http: Option<HttpOutput>,
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
            lines: Vec::new(),
            http: None,
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

    pub fn with_lines(mut self, output: LineOutput) -> Self {
        self.lines.push(output);
        self
    }

    pub fn with_http(mut self, output: HttpOutput) -> Self {
        self.http = Some(output);
        self
    }

    pub fn with_hub(mut self, hub: Arc<AlertHub>) -> Self {
        self.hub = Some(hub);
        self
    }

    pub fn http(&self) -> Option<&HttpOutput> {
        self.http.as_ref()
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
        if let Some(http) = &self.http {
            http.push(record);
        }
        for line in &mut self.lines {
            line.write(record)?;
        }
        Ok(())
    }

    /// Called when the pipeline is idle: flushes the line outputs, releases folded alerts
    /// whose window closed, and publishes counts.
    pub fn flush(&mut self) -> std::io::Result<()> {
        let now = Instant::now();
        if now.duration_since(self.last_tick) >= TICK {
            self.last_tick = now;
            for record in self.throttle.expired(now) {
                self.deliver(&Arc::new(record))?;
            }
        }
        self.telemetry.add_alerts(&mut self.counted);
        for line in &mut self.lines {
            line.flush()?;
        }
        Ok(())
    }

    /// At shutdown: releases every folded alert, flushes, and gives the HTTP output `grace`
    /// to post what it holds.
    pub fn close(mut self, grace: Duration) -> std::io::Result<()> {
        let far = Instant::now() + Duration::from_secs(24 * 3600);
        for record in self.throttle.expired(far) {
            self.deliver(&Arc::new(record))?;
        }
        let result = self.flush();
        if let Some(http) = self.http.take() {
            http.close(grace);
        }
        result
    }
}
