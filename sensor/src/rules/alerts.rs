//! The sink that runs the rules on every event and writes the alerts: Falco's JSON alert
//! format (one object per line) or its text line.

use std::collections::BTreeMap;
use std::io::Write;
use std::sync::Arc;

use sensor_rules::{MatchMode, Ruleset};

use super::fields::RuleEvent;
use super::live::LiveRules;
use crate::event::Event;
use crate::pipeline::Sink;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AlertFormat {
    /// Falco's JSON: `time`, `rule`, `priority`, `source`, `hostname`, `output`,
    /// `output_fields`, `tags`.
    Json,
    /// Falco's text line: `HH:MM:SS.nnnnnnnnn: Priority message`.
    Text,
}

pub struct AlertSink<W: Write> {
    live: Arc<LiveRules>,
    ruleset: Arc<Ruleset>,
    generation: u64,
    mode: MatchMode,
    hostname: String,
    format: AlertFormat,
    out: W,
    line: Vec<u8>,
    events: u64,
    /// Alerts raised, by rule.
    pub alerts: BTreeMap<String, u64>,
}

impl<W: Write> AlertSink<W> {
    pub fn new(live: Arc<LiveRules>, mode: MatchMode, format: AlertFormat, out: W) -> Self {
        Self {
            ruleset: live.current(),
            generation: live.generation(),
            live,
            mode,
            hostname: hostname(),
            format,
            out,
            line: Vec::with_capacity(4096),
            events: 0,
            alerts: BTreeMap::new(),
        }
    }
}

impl<W: Write> Sink for AlertSink<W> {
    type Error = std::io::Error;

    fn event(&mut self, event: &Event) -> std::io::Result<()> {
        let generation = self.live.generation();
        if generation != self.generation {
            self.ruleset = self.live.current();
            self.generation = generation;
        }
        self.events += 1;
        let rule_event = RuleEvent::new(event, self.events, &self.hostname);
        for rule in self.ruleset.evaluate(&rule_event, self.mode) {
            let alert = rule.render_alert(&rule_event, &self.hostname, event.wall_ns);
            *self.alerts.entry(alert.rule.clone()).or_default() += 1;
            self.line.clear();
            match self.format {
                AlertFormat::Json => self.line.extend_from_slice(alert.to_json().as_bytes()),
                AlertFormat::Text => self.line.extend_from_slice(alert.output.as_bytes()),
            }
            self.line.push(b'\n');
            self.out.write_all(&self.line)?;
        }
        Ok(())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.out.flush()
    }
}

/// The node's name, as Falco reports it in `hostname`.
pub fn hostname() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|h| h.trim().to_string())
        .unwrap_or_else(|_| "unknown".to_string())
}
