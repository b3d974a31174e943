//! Loss is an alert: events lost in the kernel (ring buffer full, an exit without its enter, a
//! 32-bit exec not stopped) and in userspace (records that did not decode, alerts dropped by
//! a full output queue) raise Falco's "Falco internal: syscall event drop" alert, with the
//! counts per reason, through every output. At most one per interval
//! (`outputs.drop_alert.interval`), carrying everything lost since the previous one.
//!
//! Falco raises it at priority Debug; here it is Critical, so that a flood of ordinary
//! alerts through a queue dropping by priority cannot push the news of loss out.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use sensor_rules::{output::time_format, Alert, Priority};

pub const RULE: &str = "Falco internal: syscall event drop";
pub const PRIORITY: Priority = Priority::Critical;

/// Running totals, as the pipeline and the outputs count them.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct LossCounts {
    /// Events delivered to the agent.
    pub events: u64,
    pub ring_full: u64,
    pub missing_enter: u64,
    pub compat_unstopped: u64,
    pub malformed: u64,
    pub output_dropped: u64,
}

impl LossCounts {
    fn kernel(&self) -> u64 {
        self.ring_full + self.missing_enter + self.compat_unstopped
    }

    fn any(&self) -> bool {
        self.kernel() + self.malformed + self.output_dropped > 0
    }

    fn since(&self, earlier: &Self) -> Self {
        Self {
            events: self.events.saturating_sub(earlier.events),
            ring_full: self.ring_full.saturating_sub(earlier.ring_full),
            missing_enter: self.missing_enter.saturating_sub(earlier.missing_enter),
            compat_unstopped: self
                .compat_unstopped
                .saturating_sub(earlier.compat_unstopped),
            malformed: self.malformed.saturating_sub(earlier.malformed),
            output_dropped: self.output_dropped.saturating_sub(earlier.output_dropped),
        }
    }
}

pub struct DropAlerts {
    interval: Duration,
    /// The totals the last alert accounted for.
    reported: LossCounts,
    last: Option<Instant>,
    /// Alerts raised, for the summary.
    pub raised: u64,
}

impl DropAlerts {
    pub fn new(interval: Duration) -> Self {
        Self {
            interval,
            reported: LossCounts::default(),
            last: None,
            raised: 0,
        }
    }

    /// The alert for what was lost since the last one, when there is something and the
    /// interval has passed.
    pub fn check(
        &mut self,
        now: Instant,
        totals: LossCounts,
        hostname: &str,
        wall_ns: u64,
    ) -> Option<Alert> {
        let delta = totals.since(&self.reported);
        if !delta.any() {
            // Events alone do not make an alert; keep them for the next one's n_evts.
            return None;
        }
        if self
            .last
            .is_some_and(|last| now.duration_since(last) < self.interval)
        {
            return None;
        }
        self.reported = totals;
        self.last = Some(now);
        self.raised += 1;
        Some(alert(&delta, hostname, wall_ns))
    }
}

fn alert(delta: &LossCounts, hostname: &str, wall_ns: u64) -> Alert {
    let n_drops = delta.kernel();
    // Falco's output fields (strings, as Falco sends them), then the reasons only this
    // sensor has.
    let fields: [(&str, u64); 7] = [
        // Falco's n_evts includes the drops.
        ("n_evts", delta.events + n_drops),
        ("n_drops", n_drops),
        ("n_drops_buffer_total", delta.ring_full),
        ("sensor.n_drops_exit_without_enter", delta.missing_enter),
        (
            "sensor.n_drops_compat_exec_not_stopped",
            delta.compat_unstopped,
        ),
        ("sensor.n_malformed", delta.malformed),
        ("sensor.n_output_dropped", delta.output_dropped),
    ];
    let output_fields: BTreeMap<String, serde_json::Value> = fields
        .iter()
        .map(|(k, v)| (k.to_string(), serde_json::Value::from(v.to_string())))
        .chain([("ebpf_enabled".to_string(), serde_json::Value::from("1"))])
        .collect();
    let message = format!(
        "{RULE}. {n_drops} system calls dropped since the last report \
         (ring buffer full {}, exit without enter {}, 32-bit exec not stopped {}; \
         malformed records {}, alerts dropped by full output queues {}).",
        delta.ring_full,
        delta.missing_enter,
        delta.compat_unstopped,
        delta.malformed,
        delta.output_dropped
    );
    Alert {
        time: time_format::rfc3339_nanos(wall_ns),
        rule: RULE.to_string(),
        priority: PRIORITY,
        source: "syscall".to_string(),
        hostname: hostname.to_string(),
        output: format!(
            "{}: {} {message}",
            time_format::time_of_day_nanos(wall_ns),
            PRIORITY.as_str()
        ),
        output_fields,
        tags: vec![],
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_alert_per_interval_carrying_the_counts_since_the_last() {
        let mut drops = DropAlerts::new(Duration::from_secs(10));
        let t0 = Instant::now();
        let mut totals = LossCounts {
            events: 100,
            ..Default::default()
        };
        assert!(
            drops.check(t0, totals, "h", 0).is_none(),
            "no loss, no alert"
        );
        totals.ring_full = 5;
        totals.output_dropped = 2;
        let first = drops
            .check(t0, totals, "h", 0)
            .expect("the first loss at once");
        assert_eq!(first.rule, RULE);
        assert_eq!(first.output_fields["n_drops"], "5");
        assert_eq!(first.output_fields["n_evts"], "105");
        assert_eq!(first.output_fields["n_drops_buffer_total"], "5");
        assert_eq!(first.output_fields["sensor.n_output_dropped"], "2");
        totals.ring_full = 8;
        totals.malformed = 1;
        assert!(drops
            .check(t0 + Duration::from_secs(3), totals, "h", 0)
            .is_none());
        totals.ring_full = 9;
        let second = drops
            .check(t0 + Duration::from_secs(10), totals, "h", 0)
            .expect("the interval passed");
        assert_eq!(second.output_fields["n_drops"], "4");
        assert_eq!(second.output_fields["sensor.n_malformed"], "1");
        assert_eq!(second.output_fields["sensor.n_output_dropped"], "0");
        assert_eq!(drops.raised, 2);
    }
}
