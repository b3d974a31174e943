//! Optional rate limiting (a token bucket per rule) and de-duplication (identical alerts
//! within a window folded into one, which carries the count). Both sit before every output,
//! so every consumer sees the same alerts.

use std::collections::hash_map::DefaultHasher;
use std::collections::HashMap;
use std::hash::{Hash, Hasher};
use std::sync::Arc;
use std::time::{Duration, Instant};

use super::record::AlertRecord;

/// Distinct alerts tracked for de-duplication at once; past this, alerts pass unfolded, so
/// memory stays bounded however varied the alerts are.
const MAX_TRACKED: usize = 10_000;

#[derive(Clone, Copy, Debug)]
pub struct RateLimitConfig {
    /// Alerts per second each rule may raise, on average.
    pub per_rule_per_second: f64,
    /// How many may come at once.
    pub burst: f64,
}

#[derive(Default)]
pub struct Throttle {
    rate: Option<(RateLimitConfig, HashMap<String, Bucket>)>,
    dedup: Option<(Duration, HashMap<u64, Folding>)>,
    /// Folded alerts whose window closed before `expired` looked.
    pending: Vec<AlertRecord>,
}

struct Bucket {
    tokens: f64,
    last: Instant,
}

struct Folding {
    since: Instant,
    folded: u64,
    last: Option<Arc<AlertRecord>>,
}

/// What became of an alert.
#[derive(Debug, PartialEq, Eq)]
pub enum Verdict {
    Pass,
    RateLimited,
    Folded,
}

impl Throttle {
    pub fn new(rate: Option<RateLimitConfig>, dedup_window: Option<Duration>) -> Self {
        Self {
            rate: rate
                .filter(|r| r.per_rule_per_second > 0.0)
                .map(|r| (r, HashMap::new())),
            dedup: dedup_window
                .filter(|w| !w.is_zero())
                .map(|w| (w, HashMap::new())),
            pending: Vec::new(),
        }
    }

    pub fn is_active(&self) -> bool {
        self.rate.is_some() || self.dedup.is_some()
    }

    /// Identical means the same rule and the same output fields, the event time aside.
    fn identity(record: &AlertRecord) -> u64 {
        let mut hasher = DefaultHasher::new();
        record.alert.rule.hash(&mut hasher);
        for (key, value) in &record.alert.output_fields {
            if key != "evt.time" {
                key.hash(&mut hasher);
                value.to_string().hash(&mut hasher);
            }
        }
        hasher.finish()
    }

    pub fn check(&mut self, record: &Arc<AlertRecord>, now: Instant) -> Verdict {
        if let Some((window, folding)) = &mut self.dedup {
            let key = Self::identity(record);
            let known = match folding.get_mut(&key) {
                Some(f) if now.duration_since(f.since) < *window => {
                    f.folded += 1;
                    f.last = Some(record.clone());
                    return Verdict::Folded;
                }
                Some(_) => true,
                None => false,
            };
            // A closed window whose folded alerts were not yet released starts over here;
            // its count is released by `expired` only if it folded any, so none is lost.
            if known || folding.len() < MAX_TRACKED {
                if let Some(previous) = folding.insert(
                    key,
                    Folding {
                        since: now,
                        folded: 0,
                        last: None,
                    },
                ) {
                    if let Some(last) = previous.last {
                        self.pending.push(last.folded(previous.folded));
                    }
                }
            }
        }
        if let Some((config, buckets)) = &mut self.rate {
            let bucket = buckets.entry(record.alert.rule.clone()).or_insert(Bucket {
                tokens: config.burst,
                last: now,
            });
            let refill = now.duration_since(bucket.last).as_secs_f64() * config.per_rule_per_second;
            bucket.tokens = (bucket.tokens + refill).min(config.burst.max(1.0));
            bucket.last = now;
            if bucket.tokens < 1.0 {
                return Verdict::RateLimited;
            }
            bucket.tokens -= 1.0;
        }
        Verdict::Pass
    }

    /// Windows that have closed: for each that folded alerts, the last of them, standing for
    /// all (`sensor.folded` = how many).
    pub fn expired(&mut self, now: Instant) -> Vec<AlertRecord> {
        let mut out = std::mem::take(&mut self.pending);
        let Some((window, folding)) = &mut self.dedup else {
            return out;
        };
        folding.retain(|_, f| {
            if now.duration_since(f.since) < *window {
                return true;
            }
            if let Some(last) = f.last.take() {
                out.push(last.folded(f.folded));
            }
            false
        });
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(rule: &str, pid: u64) -> Arc<AlertRecord> {
        let mut alert = sensor_rules::Alert {
            time: String::new(),
            rule: rule.to_string(),
            priority: sensor_rules::Priority::Warning,
            source: "syscall".to_string(),
            hostname: "h".to_string(),
            output: String::new(),
            output_fields: Default::default(),
            tags: vec![],
        };
        alert
            .output_fields
            .insert("proc.pid".into(), serde_json::Value::from(pid));
        Arc::new(AlertRecord {
            json: alert.to_json(),
            alert,
            proto: Default::default(),
            keys: Default::default(),
        })
    }

    #[test]
    fn identical_alerts_fold_until_the_window_closes() {
        let mut t = Throttle::new(None, Some(Duration::from_secs(1)));
        let start = Instant::now();
        assert_eq!(t.check(&record("a", 1), start), Verdict::Pass);
        assert_eq!(t.check(&record("a", 1), start), Verdict::Folded);
        assert_eq!(t.check(&record("a", 1), start), Verdict::Folded);
        assert_eq!(
            t.check(&record("a", 2), start),
            Verdict::Pass,
            "other fields"
        );
        assert!(t.expired(start + Duration::from_millis(500)).is_empty());
        let out = t.expired(start + Duration::from_secs(1));
        assert_eq!(out.len(), 1);
        assert_eq!(out[0].alert.output_fields["sensor.folded"], 2);
        assert!(out[0].json.contains("\"sensor.folded\":2"));
        assert_eq!(
            t.check(&record("a", 1), start + Duration::from_secs(2)),
            Verdict::Pass
        );
    }

    #[test]
    fn rate_limit_per_rule() {
        let mut t = Throttle::new(
            Some(RateLimitConfig {
                per_rule_per_second: 10.0,
                burst: 2.0,
            }),
            None,
        );
        let now = Instant::now();
        assert_eq!(t.check(&record("a", 1), now), Verdict::Pass);
        assert_eq!(t.check(&record("a", 2), now), Verdict::Pass);
        assert_eq!(t.check(&record("a", 3), now), Verdict::RateLimited);
        assert_eq!(t.check(&record("b", 3), now), Verdict::Pass);
        let later = now + Duration::from_millis(100);
        assert_eq!(t.check(&record("a", 4), later), Verdict::Pass);
    }
}
