//! The sink that runs the rules on every event and hands each alert to the outputs.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Instant;

use sensor_rules::{MatchMode, Ruleset};

use super::fields::RuleEvent;
use super::live::LiveRules;
use crate::model::Event;
use crate::pipeline::Sink;
use crate::sinks::Outputs;
use crate::telemetry::Telemetry;

pub struct AlertSink {
    live: Arc<LiveRules>,
    ruleset: Arc<Ruleset>,
    generation: u64,
    mode: MatchMode,
    hostname: String,
    outputs: Outputs,
    telemetry: Arc<Telemetry>,
    events: u64,
    /// Alerts raised, by rule (before any throttling).
    pub alerts: BTreeMap<String, u64>,
}

impl AlertSink {
    pub fn new(
        live: Arc<LiveRules>,
        mode: MatchMode,
        outputs: Outputs,
        telemetry: Arc<Telemetry>,
    ) -> Self {
        Self {
            ruleset: live.current(),
            generation: live.generation(),
            live,
            mode,
            hostname: hostname(),
            outputs,
            telemetry,
            events: 0,
            alerts: BTreeMap::new(),
        }
    }

    /// Releases what throttling holds, flushes, and lets the HTTP output finish within
    /// `grace`.
    pub fn close(self, grace: std::time::Duration) -> std::io::Result<()> {
        self.outputs.close(grace)
    }

    pub fn outputs(&self) -> &Outputs {
        &self.outputs
    }
}

impl Sink for AlertSink {
    type Error = std::io::Error;

    fn event(&mut self, event: &Event) -> std::io::Result<()> {
        let generation = self.live.generation();
        if generation != self.generation {
            self.ruleset = self.live.current();
            self.generation = generation;
        }
        self.events += 1;
        let rule_event = RuleEvent::new(event, self.events, &self.hostname);
        let started = Instant::now();
        let matched = self.ruleset.evaluate(&rule_event, self.mode);
        self.telemetry
            .rule_eval
            .observe_ns(started.elapsed().as_nanos() as u64);
        for rule in matched {
            let alert = rule.render_alert(&rule_event, &self.hostname, event.wall_ns);
            *self.alerts.entry(alert.rule.clone()).or_default() += 1;
            self.outputs.publish(alert, event)?;
        }
        Ok(())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.outputs.flush()
    }

    fn lost(&mut self, stats: &crate::pipeline::Stats) -> std::io::Result<()> {
        self.outputs.lost(crate::sinks::drop_alert::LossCounts {
            events: stats.events,
            ring_full: stats.loss.ring_full,
            missing_enter: stats.loss.missing_enter,
            compat_unstopped: stats.loss.compat_unstopped,
            malformed: stats.malformed,
            output_dropped: 0,
        })
    }
}

/// The node's name, as Falco reports it in `hostname`.
pub fn hostname() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|h| h.trim().to_string())
        .unwrap_or_else(|_| "unknown".to_string())
}
