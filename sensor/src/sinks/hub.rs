//! Fan-out to gRPC subscribers. The pipeline thread publishes each alert into every matching
//! subscriber's bounded queue and moves on: it never waits for a subscriber. A full queue
//! loses its oldest alert, counted, and the subscriber's stream reports the count before the
//! next alert it delivers. Memory is bounded by the queue sizes whatever the clients do.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock, RwLock};
use std::time::SystemTime;

use sensor_api::v1 as api;
use tonic::codegen::Bytes;

use super::filter::AlertFilter;
use super::record::AlertRecord;

/// An alert as the subscribers' queues hold it: the record, and its `SubscribeResponse`
/// wire bytes, encoded once by whichever subscriber's stream gets to it first and written
/// as they are by every other.
pub struct Queued {
    pub record: Arc<AlertRecord>,
    wire: OnceLock<Bytes>,
}

impl Queued {
    pub fn new(record: Arc<AlertRecord>) -> Self {
        Self {
            record,
            wire: OnceLock::new(),
        }
    }

    /// `SubscribeResponse { alert }`, encoded.
    pub fn wire(&self) -> &Bytes {
        self.wire
            .get_or_init(|| self.record.encode_subscribe_response())
    }
}

/// Who a subscriber is, for Status and logs.
#[derive(Clone, Debug)]
pub struct SubscriberInfo {
    pub client_name: String,
    pub peer: String,
    pub request: api::SubscribeRequest,
}

/// Totals over every subscriber, past and present (for metrics, which must not go down
/// when a subscriber leaves).
#[derive(Debug, Default)]
pub struct HubCounters {
    pub sent: AtomicU64,
    pub dropped: AtomicU64,
}

pub struct Subscriber {
    pub id: u64,
    totals: Arc<HubCounters>,
    pub info: SubscriberInfo,
    pub since: SystemTime,
    pub capacity: usize,
    filter: AlertFilter,
    queue: Mutex<Queue>,
    wake: tokio::sync::Notify,
    /// Alerts handed to the transport.
    pub sent: AtomicU64,
    pub dropped: AtomicU64,
}

#[derive(Default)]
struct Queue {
    alerts: VecDeque<Arc<Queued>>,
    /// Dropped since the last drop notice.
    unreported: u64,
    closed: Option<String>,
}

/// What a subscriber's stream delivers next.
pub enum Delivery {
    Alerts(VecDeque<Arc<Queued>>),
    Dropped { dropped: u64, dropped_total: u64 },
    Closed { reason: String },
}

impl Subscriber {
    /// Queues the alert if it passes the filter; `queued` is shared by every subscriber the
    /// alert goes to, made by the first.
    fn push(&self, record: &Arc<AlertRecord>, queued: &mut Option<Arc<Queued>>) {
        if !self.filter.matches(record) {
            return;
        }
        let queued = queued.get_or_insert_with(|| Arc::new(Queued::new(record.clone())));
        {
            let mut queue = self.queue.lock().unwrap_or_else(|e| e.into_inner());
            if queue.closed.is_some() {
                return;
            }
            if queue.alerts.len() >= self.capacity {
                queue.alerts.pop_front();
                queue.unreported += 1;
                self.dropped.fetch_add(1, Ordering::Relaxed);
                self.totals.dropped.fetch_add(1, Ordering::Relaxed);
            }
            queue.alerts.push_back(queued.clone());
        }
        self.wake.notify_one();
    }

    fn close(&self, reason: &str) {
        self.queue
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .closed
            .get_or_insert_with(|| reason.to_string());
        self.wake.notify_one();
    }

    /// Counts `n` alerts handed to the transport.
    pub fn count_sent(&self, n: u64) {
        self.sent.fetch_add(n, Ordering::Relaxed);
        self.totals.sent.fetch_add(n, Ordering::Relaxed);
    }

    pub fn queued(&self) -> usize {
        self.queue
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .alerts
            .len()
    }

    /// Waits for the next thing to deliver: a drop notice first when alerts were lost (they
    /// were older than anything still queued), then every queued alert at once, so that the
    /// transport can write them in one go. After `Closed`, the queue is drained first.
    pub async fn next(&self) -> Delivery {
        loop {
            let notified = self.wake.notified();
            {
                let mut queue = self.queue.lock().unwrap_or_else(|e| e.into_inner());
                if queue.unreported > 0 {
                    let dropped = std::mem::take(&mut queue.unreported);
                    return Delivery::Dropped {
                        dropped,
                        dropped_total: self.dropped.load(Ordering::Relaxed),
                    };
                }
                if !queue.alerts.is_empty() {
                    return Delivery::Alerts(std::mem::take(&mut queue.alerts));
                }
                if let Some(reason) = &queue.closed {
                    return Delivery::Closed {
                        reason: reason.clone(),
                    };
                }
            }
            notified.await;
        }
    }
}

/// The set of connected subscribers.
#[derive(Default)]
pub struct AlertHub {
    subscribers: RwLock<Vec<Arc<Subscriber>>>,
    next_id: AtomicU64,
    closed: AtomicBool,
    /// Alerts published (each counted once, however many subscribers got it).
    pub published: AtomicU64,
    pub counters: Arc<HubCounters>,
}

impl AlertHub {
    pub fn new() -> Arc<Self> {
        Arc::new(Self::default())
    }

    /// Registers a subscriber; it receives alerts published from now on.
    pub fn subscribe(
        &self,
        info: SubscriberInfo,
        filter: AlertFilter,
        capacity: usize,
    ) -> Option<Arc<Subscriber>> {
        if self.closed.load(Ordering::Acquire) {
            return None;
        }
        let subscriber = Arc::new(Subscriber {
            id: self.next_id.fetch_add(1, Ordering::Relaxed) + 1,
            totals: self.counters.clone(),
            info,
            since: SystemTime::now(),
            capacity: capacity.max(1),
            filter,
            queue: Mutex::default(),
            wake: tokio::sync::Notify::new(),
            sent: AtomicU64::new(0),
            dropped: AtomicU64::new(0),
        });
        self.subscribers
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .push(subscriber.clone());
        Some(subscriber)
    }

    pub fn unsubscribe(&self, id: u64) {
        self.subscribers
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .retain(|s| s.id != id);
    }

    pub fn publish(&self, record: &Arc<AlertRecord>) {
        self.published.fetch_add(1, Ordering::Relaxed);
        let mut queued = None;
        for subscriber in self
            .subscribers
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .iter()
        {
            subscriber.push(record, &mut queued);
        }
    }

    pub fn subscribers(&self) -> Vec<Arc<Subscriber>> {
        self.subscribers
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// Ends every stream after what it has queued, with `reason` in its final message, and
    /// refuses new subscribers.
    pub fn close(&self, reason: &str) {
        self.closed.store(true, Ordering::Release);
        for subscriber in self.subscribers() {
            subscriber.close(reason);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(rule: &str) -> Arc<AlertRecord> {
        let alert = sensor_rules::Alert {
            time: String::new(),
            rule: rule.to_string(),
            priority: sensor_rules::Priority::Warning,
            source: "syscall".to_string(),
            hostname: "h".to_string(),
            output: String::new(),
            output_fields: Default::default(),
            tags: vec![],
        };
        Arc::new(AlertRecord {
            json: alert.to_json(),
            alert,
            proto: api::Alert::default(),
            keys: Default::default(),
        })
    }

    fn info() -> SubscriberInfo {
        SubscriberInfo {
            client_name: "t".into(),
            peer: "unix".into(),
            request: Default::default(),
        }
    }

    #[tokio::test]
    async fn a_full_queue_drops_its_oldest_and_reports_the_count_first() {
        let hub = AlertHub::new();
        let sub = hub
            .subscribe(info(), AlertFilter::default(), 3)
            .expect("open");
        for i in 0..5 {
            hub.publish(&record(&format!("r{i}")));
        }
        match sub.next().await {
            Delivery::Dropped {
                dropped,
                dropped_total,
            } => assert_eq!((dropped, dropped_total), (2, 2)),
            _ => panic!("expected a drop notice first"),
        }
        match sub.next().await {
            Delivery::Alerts(alerts) => {
                let rules: Vec<_> = alerts
                    .iter()
                    .map(|a| a.record.alert.rule.as_str())
                    .collect();
                assert_eq!(rules, ["r2", "r3", "r4"]);
            }
            _ => panic!("expected alerts"),
        }
        hub.close("stopping");
        assert!(matches!(sub.next().await, Delivery::Closed { .. }));
        assert!(hub.subscribe(info(), AlertFilter::default(), 3).is_none());
    }

    #[tokio::test]
    async fn every_subscriber_gets_every_alert() {
        let hub = AlertHub::new();
        let a = hub
            .subscribe(info(), AlertFilter::default(), 10)
            .expect("a");
        let b = hub
            .subscribe(info(), AlertFilter::default(), 10)
            .expect("b");
        hub.publish(&record("x"));
        for sub in [a, b] {
            assert!(matches!(sub.next().await, Delivery::Alerts(q) if q.len() == 1));
        }
    }
}
