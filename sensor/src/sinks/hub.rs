//! Fan-out to gRPC subscribers. The pipeline thread publishes each alert into every matching
//! subscriber's bounded queue and moves on: it never waits for a subscriber. A full queue
//! drops by priority (the least severe, oldest first: a CRITICAL alert never goes while a
//! NOTICE one is queued), counted, and the subscriber's stream reports the count before the
//! next alert it delivers. Each queue is bounded by a count and by bytes
//! (`grpc.limits.subscriber_queue_bytes`), and all of them together by
//! `grpc.limits.total_queue_bytes`, so memory is bounded whatever the clients do.
//!
//! Each subscriber's filter runs here, on the pipeline thread, and stays here on purpose:
//! filtering in the subscriber's own stream task instead would put every alert in every
//! queue, so a subscriber that reads slowly would lose alerts it asked for to alerts it did
//! not, and its drop counts would count alerts it never wanted. What the pipeline pays is
//! bounded instead: there are at most `grpc.limits.max_subscribers` subscribers (checked in
//! [`AlertHub::subscribe`]), and one filter costs a fixed number of hash lookups whatever
//! its size (`super::filter`: sets for rules, tags and namespaces, container ids looked up by
//! prefix length) plus its label selector, whose length `grpc.limits.max_selector_bytes`
//! bounds (`super::grpc::limits`). No filter allocates or locks anything but the queue.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, OnceLock, RwLock};
use std::time::SystemTime;

use sensor_api::v1 as api;
use tonic::codegen::Bytes;

use super::filter::AlertFilter;
use super::grpc::access::Identity;
use super::output::record_bytes;
use super::queue::{AlertQueue, Weighed, WhenFull};
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

impl Weighed for Arc<Queued> {
    fn priority(&self) -> sensor_rules::Priority {
        self.record.alert.priority
    }
    /// Counted whole against each queue it is in: the record is shared, but the budget is
    /// about what one subscriber can make the sensor hold.
    fn bytes(&self) -> usize {
        record_bytes(&self.record)
    }
}

/// Who a subscriber is, for Status and logs.
#[derive(Clone, Debug)]
pub struct SubscriberInfo {
    pub client_name: String,
    pub peer: String,
    /// The caller that subscribed: Status shows a caller its own subscribers, and
    /// `max_per_identity` counts by it.
    pub identity: Identity,
    pub request: api::SubscribeRequest,
}

/// How many subscribers the hub takes, and the bytes their queues may hold.
#[derive(Clone, Copy, Debug)]
pub struct SubscriberCaps {
    pub total: usize,
    pub per_identity: usize,
    /// One subscriber's queue (`grpc.limits.subscriber_queue_bytes`).
    pub queue_bytes: usize,
    /// Every subscriber's queue together (`grpc.limits.total_queue_bytes`).
    pub total_queue_bytes: usize,
}

/// Why a subscriber was not taken.
#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub enum SubscribeRefused {
    #[error("the sensor is shutting down")]
    Closed,
    #[error(
        "{limit} subscribers are connected, the sensor's limit (grpc.limits.max_subscribers); \
         retry later"
    )]
    Full { limit: usize },
    #[error(
        "{identity} already has {limit} subscribers, the limit per caller \
         (grpc.limits.max_subscribers_per_identity); close one first"
    )]
    FullForIdentity { identity: String, limit: usize },
}

/// Totals over every subscriber, past and present (for metrics, which must not go down
/// when a subscriber leaves).
#[derive(Debug, Default)]
pub struct HubCounters {
    pub sent: AtomicU64,
    pub dropped: AtomicU64,
    /// Bytes queued now, over every subscriber (against `total_queue_bytes`).
    pub queued_bytes: AtomicUsize,
}

pub struct Subscriber {
    pub id: u64,
    totals: Arc<HubCounters>,
    pub info: SubscriberInfo,
    pub since: SystemTime,
    pub capacity: usize,
    total_queue_bytes: usize,
    filter: AlertFilter,
    queue: Mutex<Queue>,
    wake: tokio::sync::Notify,
    /// Alerts handed to the transport.
    pub sent: AtomicU64,
    pub dropped: AtomicU64,
}

struct Queue {
    alerts: AlertQueue<Arc<Queued>>,
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
            // What the shared budget leaves this queue: its own bytes and what is free.
            let mine = queue.alerts.bytes();
            let everyone = self.totals.queued_bytes.load(Ordering::Relaxed);
            let room = self
                .total_queue_bytes
                .saturating_sub(everyone.saturating_sub(mine));
            let pushed = queue.alerts.push_within(queued.clone(), Some(room));
            let dropped = pushed.dropped() as u64;
            drop(pushed);
            if dropped > 0 {
                queue.unreported += dropped;
                self.dropped.fetch_add(dropped, Ordering::Relaxed);
                self.totals.dropped.fetch_add(dropped, Ordering::Relaxed);
            }
            self.account(mine, queue.alerts.bytes());
        }
        self.wake.notify_one();
    }

    /// Moves the hub's byte total from this queue's `before` to its `after`.
    fn account(&self, before: usize, after: usize) {
        if after >= before {
            self.totals
                .queued_bytes
                .fetch_add(after - before, Ordering::Relaxed);
        } else {
            self.totals
                .queued_bytes
                .fetch_sub(before - after, Ordering::Relaxed);
        }
    }

    pub fn queued_bytes(&self) -> usize {
        self.queue
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .alerts
            .bytes()
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

    /// Waits for the next thing to deliver: a drop notice first when alerts were lost, then
    /// every queued alert at once (in arrival order), so that the transport can write them
    /// in one go. After `Closed`, the queue is drained first.
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
                    let before = queue.alerts.bytes();
                    let alerts = queue.alerts.drain();
                    self.account(before, 0);
                    return Delivery::Alerts(alerts);
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

    /// Registers a subscriber, within `caps`; it receives alerts published from now on.
    pub fn subscribe(
        &self,
        info: SubscriberInfo,
        filter: AlertFilter,
        capacity: usize,
        caps: SubscriberCaps,
    ) -> Result<Arc<Subscriber>, SubscribeRefused> {
        if self.closed.load(Ordering::Acquire) {
            return Err(SubscribeRefused::Closed);
        }
        // Counted and added under one lock, so concurrent subscribes cannot overshoot.
        let mut subscribers = self.subscribers.write().unwrap_or_else(|e| e.into_inner());
        if subscribers.len() >= caps.total {
            return Err(SubscribeRefused::Full { limit: caps.total });
        }
        let same = subscribers
            .iter()
            .filter(|s| s.info.identity == info.identity)
            .count();
        if same >= caps.per_identity {
            return Err(SubscribeRefused::FullForIdentity {
                identity: info.identity.to_string(),
                limit: caps.per_identity,
            });
        }
        let subscriber = Arc::new(Subscriber {
            id: self.next_id.fetch_add(1, Ordering::Relaxed) + 1,
            totals: self.counters.clone(),
            info,
            since: SystemTime::now(),
            capacity: capacity.max(1),
            total_queue_bytes: caps.total_queue_bytes,
            filter,
            queue: Mutex::new(Queue {
                alerts: AlertQueue::new(capacity, Some(caps.queue_bytes), WhenFull::ByPriority),
                unreported: 0,
                closed: None,
            }),
            wake: tokio::sync::Notify::new(),
            sent: AtomicU64::new(0),
            dropped: AtomicU64::new(0),
        });
        subscribers.push(subscriber.clone());
        Ok(subscriber)
    }

    pub fn unsubscribe(&self, id: u64) {
        let mut subscribers = self.subscribers.write().unwrap_or_else(|e| e.into_inner());
        if let Some(gone) = subscribers.iter().find(|s| s.id == id) {
            // What it left queued no longer counts against the others' budget.
            let mut queue = gone.queue.lock().unwrap_or_else(|e| e.into_inner());
            let before = queue.alerts.bytes();
            queue.alerts.drain();
            gone.account(before, 0);
        }
        subscribers.retain(|s| s.id != id);
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
        record_at(rule, sensor_rules::Priority::Warning)
    }

    fn record_at(rule: &str, priority: sensor_rules::Priority) -> Arc<AlertRecord> {
        let alert = sensor_rules::Alert {
            time: String::new(),
            rule: rule.to_string(),
            priority,
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
        info_of(0)
    }

    fn info_of(uid: u32) -> SubscriberInfo {
        SubscriberInfo {
            client_name: "t".into(),
            peer: "unix".into(),
            identity: Identity::Unix { uid },
            request: Default::default(),
        }
    }

    const CAPS: SubscriberCaps = SubscriberCaps {
        total: 100,
        per_identity: 100,
        queue_bytes: 1 << 20,
        total_queue_bytes: 1 << 30,
    };

    #[tokio::test]
    async fn a_full_queue_drops_its_oldest_and_reports_the_count_first() {
        let hub = AlertHub::new();
        let sub = hub
            .subscribe(info(), AlertFilter::default(), 3, CAPS)
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
        assert_eq!(
            hub.subscribe(info(), AlertFilter::default(), 3, CAPS).err(),
            Some(SubscribeRefused::Closed)
        );
    }

    #[tokio::test]
    async fn every_subscriber_gets_every_alert() {
        let hub = AlertHub::new();
        let a = hub
            .subscribe(info(), AlertFilter::default(), 10, CAPS)
            .expect("a");
        let b = hub
            .subscribe(info(), AlertFilter::default(), 10, CAPS)
            .expect("b");
        hub.publish(&record("x"));
        for sub in [a, b] {
            assert!(matches!(sub.next().await, Delivery::Alerts(q) if q.len() == 1));
        }
    }

    #[test]
    fn the_caps_count_all_subscribers_and_each_identitys() {
        let hub = AlertHub::new();
        let caps = SubscriberCaps {
            total: 3,
            per_identity: 2,
            ..CAPS
        };
        let open = |uid| hub.subscribe(info_of(uid), AlertFilter::default(), 1, caps);
        let a = open(1000).expect("first");
        let _b = open(1000).expect("second");
        let refused = open(1000).err().expect("a third for uid 1000");
        assert_eq!(
            refused,
            SubscribeRefused::FullForIdentity {
                identity: "uid 1000".into(),
                limit: 2
            }
        );
        assert!(refused
            .to_string()
            .contains("grpc.limits.max_subscribers_per_identity"));
        let _c = open(1001).expect("another identity");
        let full = open(1002).err().expect("over the total");
        assert_eq!(full, SubscribeRefused::Full { limit: 3 });
        assert!(full.to_string().contains("grpc.limits.max_subscribers"));
        // A subscriber leaving frees its slot.
        hub.unsubscribe(a.id);
        open(1002).expect("a freed slot");
    }

    #[tokio::test]
    async fn a_notice_flood_never_evicts_a_queued_critical() {
        let hub = AlertHub::new();
        let sub = hub
            .subscribe(info(), AlertFilter::default(), 4, CAPS)
            .expect("open");
        hub.publish(&record_at("crit", sensor_rules::Priority::Critical));
        for i in 0..1000 {
            hub.publish(&record_at(&format!("n{i}"), sensor_rules::Priority::Notice));
        }
        assert!(matches!(
            sub.next().await,
            Delivery::Dropped { dropped: 997, .. }
        ));
        match sub.next().await {
            Delivery::Alerts(alerts) => {
                let rules: Vec<_> = alerts
                    .iter()
                    .map(|a| a.record.alert.rule.as_str())
                    .collect();
                assert_eq!(rules, ["crit", "n997", "n998", "n999"]);
            }
            _ => panic!("expected alerts"),
        }
        assert_eq!(hub.counters.queued_bytes.load(Ordering::Relaxed), 0);
    }

    #[tokio::test]
    async fn the_byte_budgets_bound_each_queue_and_all_of_them() {
        let hub = AlertHub::new();
        let one = record_bytes(&record("x"));
        let caps = SubscriberCaps {
            queue_bytes: 3 * one,
            total_queue_bytes: 5 * one,
            ..CAPS
        };
        let a = hub
            .subscribe(info(), AlertFilter::default(), 1000, caps)
            .expect("a");
        for _ in 0..10 {
            hub.publish(&record("x"));
        }
        // Three fit a's own budget.
        assert_eq!(a.queued(), 3);
        let b = hub
            .subscribe(info(), AlertFilter::default(), 1000, caps)
            .expect("b");
        for _ in 0..10 {
            hub.publish(&record("x"));
        }
        // b gets what the total leaves it.
        assert_eq!((a.queued(), b.queued()), (3, 2));
        assert_eq!(hub.counters.queued_bytes.load(Ordering::Relaxed), 5 * one);
        hub.unsubscribe(a.id);
        assert_eq!(hub.counters.queued_bytes.load(Ordering::Relaxed), 2 * one);
        drop(b);
    }
}
