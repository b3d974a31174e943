//! One output (stdout, a file, HTTP) behind the [`Output`] trait, run on a thread of its own
//! from its own bounded [`AlertQueue`]: the pipeline thread only queues, so a reader that
//! never reads stdout, a stalled disk or a receiver that never answers costs that output's
//! queue (dropped by its policy, counted), never the pipeline's time.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

use sensor_rules::Priority;

use super::queue::{AlertQueue, Weighed, WhenFull};
use super::record::AlertRecord;

/// Where alerts go. Runs on its output's own thread; may block as long as its destination
/// does.
pub trait Output: Send + 'static {
    /// Delivers one alert. `Ok` also when the alert was given up after retries (counted by
    /// the output through `failed`); `Err` ends the output (stdout closed: the run ends).
    fn send(&mut self, record: &AlertRecord, counters: &OutputCounters) -> std::io::Result<()>;
    /// The queue ran empty: hand on whatever is buffered.
    fn idle(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// An output's queue settings (`outputs.<name>.queue`, `outputs.<name>.when_full`).
#[derive(Clone, Copy, Debug)]
pub struct QueueConfig {
    pub capacity: usize,
    pub when_full: WhenFull,
}

/// One output's figures, for the metrics and Status.
#[derive(Debug, Default)]
pub struct OutputCounters {
    /// Alerts waiting now.
    pub queued: AtomicU64,
    /// Delivered.
    pub sent: AtomicU64,
    /// Dropped from the full queue (by its policy).
    pub dropped_queue_full: AtomicU64,
    /// Given up after every attempt failed (HTTP), or written to a failing file.
    pub failed: AtomicU64,
}

impl OutputCounters {
    pub fn dropped(&self) -> u64 {
        self.dropped_queue_full.load(Ordering::Relaxed) + self.failed.load(Ordering::Relaxed)
    }
}

impl Weighed for Arc<AlertRecord> {
    fn priority(&self) -> Priority {
        self.alert.priority
    }
    fn bytes(&self) -> usize {
        record_bytes(self)
    }
}

/// What an alert keeps alive, roughly: its JSON line and its gRPC message (of about the
/// same size), and the structs around them.
pub fn record_bytes(record: &AlertRecord) -> usize {
    2 * record.json.len() + 512
}

struct State {
    queue: AlertQueue<Arc<AlertRecord>>,
    closing: bool,
    /// The output's thread is writing (not waiting): for a drain at shutdown.
    busy: bool,
}

struct Shared {
    state: Mutex<State>,
    ready: Condvar,
    counters: Arc<OutputCounters>,
    failed: Mutex<Option<std::io::Error>>,
    ended: AtomicBool,
}

/// The pipeline's handle on an output running on its thread.
pub struct OutputHandle {
    pub name: &'static str,
    pub when_full: WhenFull,
    shared: Arc<Shared>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl OutputHandle {
    pub fn start(
        name: &'static str,
        config: QueueConfig,
        output: impl Output,
    ) -> anyhow::Result<Self> {
        let shared = Arc::new(Shared {
            state: Mutex::new(State {
                queue: AlertQueue::new(config.capacity, None, config.when_full),
                closing: false,
                busy: false,
            }),
            ready: Condvar::new(),
            counters: Arc::default(),
            failed: Mutex::new(None),
            ended: AtomicBool::new(false),
        });
        let thread = {
            let shared = shared.clone();
            std::thread::Builder::new()
                .name(format!("{name}-output"))
                .spawn(move || worker(output, &shared))?
        };
        Ok(Self {
            name,
            when_full: config.when_full,
            shared,
            thread: Some(thread),
        })
    }

    pub fn counters(&self) -> Arc<OutputCounters> {
        self.shared.counters.clone()
    }

    /// Queues the alert; never waits for the output.
    pub fn push(&self, record: &Arc<AlertRecord>) {
        let shared = &*self.shared;
        let dropped = {
            let mut state = shared.state.lock().unwrap_or_else(|e| e.into_inner());
            let pushed = state.queue.push(record.clone());
            shared
                .counters
                .queued
                .store(state.queue.len() as u64, Ordering::Relaxed);
            pushed.dropped()
        };
        if dropped > 0 {
            shared
                .counters
                .dropped_queue_full
                .fetch_add(dropped as u64, Ordering::Relaxed);
        }
        shared.ready.notify_one();
    }

    /// The error that ended the output (stdout closed), taken once.
    pub fn take_failure(&self) -> Option<std::io::Error> {
        if !self.shared.ended.load(Ordering::Acquire) {
            return None;
        }
        self.shared
            .failed
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .take()
    }

    /// Writes what is queued (waiting until `deadline`), then stops the thread. Returns
    /// how many alerts were left unwritten.
    pub fn close(mut self, deadline: Instant) -> usize {
        {
            let mut state = self.shared.state.lock().unwrap_or_else(|e| e.into_inner());
            state.closing = true;
        }
        self.shared.ready.notify_one();
        let Some(thread) = self.thread.take() else {
            return 0;
        };
        while !thread.is_finished() && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(5));
        }
        if thread.is_finished() {
            let _ = thread.join();
            return 0;
        }
        // Stuck in a write: it is left behind (the process is exiting).
        let state = self.shared.state.lock().unwrap_or_else(|e| e.into_inner());
        state.queue.len() + usize::from(state.busy)
    }
}

fn worker(mut output: impl Output, shared: &Shared) {
    let counters = &*shared.counters;
    let mut wrote_since_idle = false;
    loop {
        let record = {
            let mut state = shared.state.lock().unwrap_or_else(|e| e.into_inner());
            state.busy = false;
            loop {
                if let Some(record) = state.queue.pop() {
                    counters
                        .queued
                        .store(state.queue.len() as u64, Ordering::Relaxed);
                    state.busy = true;
                    break Some(record);
                }
                if wrote_since_idle || state.closing {
                    break None;
                }
                state = shared.ready.wait(state).unwrap_or_else(|e| e.into_inner());
            }
        };
        let result = match &record {
            Some(record) => {
                wrote_since_idle = true;
                output.send(record, counters)
            }
            None => {
                wrote_since_idle = false;
                output.idle()
            }
        };
        if let Err(e) = result {
            *shared.failed.lock().unwrap_or_else(|e| e.into_inner()) = Some(e);
            shared.ended.store(true, Ordering::Release);
            return;
        }
        if record.is_none() {
            let state = shared.state.lock().unwrap_or_else(|e| e.into_inner());
            if state.closing && state.queue.is_empty() {
                return;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(priority: Priority, rule: &str) -> Arc<AlertRecord> {
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
            proto: Default::default(),
            keys: Default::default(),
        })
    }

    /// An output that blocks until released, as a pipe nobody reads.
    struct Gate(Arc<(Mutex<bool>, Condvar)>, Arc<Mutex<Vec<String>>>);

    impl Output for Gate {
        fn send(&mut self, record: &AlertRecord, counters: &OutputCounters) -> std::io::Result<()> {
            let (open, changed) = &*self.0;
            let mut open = open.lock().unwrap();
            while !*open {
                open = changed.wait(open).unwrap();
            }
            self.1.lock().unwrap().push(record.alert.rule.clone());
            counters.sent.fetch_add(1, Ordering::Relaxed);
            Ok(())
        }
    }

    #[test]
    fn a_blocked_output_costs_its_queue_not_the_caller_and_drains_at_close() {
        let gate = Arc::new((Mutex::new(false), Condvar::new()));
        let written = Arc::new(Mutex::new(Vec::new()));
        let handle = OutputHandle::start(
            "test",
            QueueConfig {
                capacity: 3,
                when_full: WhenFull::ByPriority,
            },
            Gate(gate.clone(), written.clone()),
        )
        .expect("start");
        handle.push(&record(Priority::Notice, "first"));
        // The thread holds "first" blocked; what follows queues and overflows without
        // waiting.
        std::thread::sleep(Duration::from_millis(50));
        handle.push(&record(Priority::Critical, "critical"));
        for i in 0..100 {
            handle.push(&record(Priority::Notice, &format!("n{i}")));
        }
        let counters = handle.counters();
        assert_eq!(counters.queued.load(Ordering::Relaxed), 3);
        assert_eq!(counters.dropped_queue_full.load(Ordering::Relaxed), 98);
        *gate.0.lock().unwrap() = true;
        gate.1.notify_all();
        assert_eq!(handle.close(Instant::now() + Duration::from_secs(5)), 0);
        assert_eq!(
            *written.lock().unwrap(),
            ["first", "critical", "n98", "n99"]
        );
        assert_eq!(counters.sent.load(Ordering::Relaxed), 4);
    }
}
