//! HTTP output: each alert POSTed as Falco's JSON, one per request, as Falco's `http_output`
//! does, so Falcosidekick and other Falco consumers take the sensor's alerts unchanged. A
//! thread of its own does the posting from a bounded queue: a slow or absent receiver costs
//! the oldest queued alerts (counted), never the pipeline's time.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::time::Duration;

use super::record::AlertRecord;

/// Attempts per alert before it is given up (with a growing pause between them).
const ATTEMPTS: u32 = 3;

#[derive(Clone, Debug)]
pub struct HttpConfig {
    pub url: String,
    pub timeout: Duration,
    /// Alerts waiting to be posted; past this the oldest are dropped.
    pub queue: usize,
    pub headers: Vec<(String, String)>,
}

#[derive(Debug, Default)]
pub struct HttpCounters {
    pub sent: AtomicU64,
    /// Dropped from a full queue.
    pub dropped: AtomicU64,
    /// Given up after every attempt failed.
    pub failed: AtomicU64,
}

#[derive(Default)]
struct Queue {
    alerts: VecDeque<Arc<AlertRecord>>,
    closing: bool,
}

pub struct HttpOutput {
    shared: Arc<(Mutex<Queue>, Condvar)>,
    capacity: usize,
    pub counters: Arc<HttpCounters>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl HttpOutput {
    pub fn start(config: HttpConfig) -> anyhow::Result<Self> {
        let uri: ureq::http::Uri = config
            .url
            .parse()
            .map_err(|e| anyhow::anyhow!("outputs.http.url: `{}` is not a URL: {e}", config.url))?;
        if !matches!(uri.scheme_str(), Some("http" | "https")) {
            anyhow::bail!(
                "outputs.http.url: `{}` must start with http:// or https://",
                config.url
            );
        }
        let shared = Arc::new((Mutex::new(Queue::default()), Condvar::new()));
        let counters = Arc::new(HttpCounters::default());
        let capacity = config.queue.max(1);
        let thread = {
            let (shared, counters) = (shared.clone(), counters.clone());
            std::thread::Builder::new()
                .name("http-output".into())
                .spawn(move || post_loop(config, shared, counters))?
        };
        Ok(Self {
            shared,
            capacity,
            counters,
            thread: Some(thread),
        })
    }

    pub fn push(&self, record: &Arc<AlertRecord>) {
        let (lock, ready) = &*self.shared;
        let mut queue = lock.lock().unwrap_or_else(|e| e.into_inner());
        if queue.alerts.len() >= self.capacity {
            queue.alerts.pop_front();
            self.counters.dropped.fetch_add(1, Ordering::Relaxed);
        }
        queue.alerts.push_back(record.clone());
        ready.notify_one();
    }

    /// Posts what is queued (waiting at most `grace`), then stops the thread.
    pub fn close(mut self, grace: Duration) {
        {
            let (lock, ready) = &*self.shared;
            lock.lock().unwrap_or_else(|e| e.into_inner()).closing = true;
            ready.notify_one();
        }
        let deadline = std::time::Instant::now() + grace;
        if let Some(thread) = self.thread.take() {
            while !thread.is_finished() && std::time::Instant::now() < deadline {
                std::thread::sleep(Duration::from_millis(10));
            }
            if thread.is_finished() {
                let _ = thread.join();
            } else {
                let left = self
                    .shared
                    .0
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .alerts
                    .len();
                tracing::warn!(
                    left,
                    "the HTTP output did not post every alert before shutdown"
                );
            }
        }
    }
}

fn post_loop(
    config: HttpConfig,
    shared: Arc<(Mutex<Queue>, Condvar)>,
    counters: Arc<HttpCounters>,
) {
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .timeout_global(Some(config.timeout))
        .http_status_as_error(true)
        .build()
        .into();
    let (lock, ready) = &*shared;
    let mut reported_failure = false;
    loop {
        let record = {
            let mut queue = lock.lock().unwrap_or_else(|e| e.into_inner());
            loop {
                if let Some(record) = queue.alerts.pop_front() {
                    break record;
                }
                if queue.closing {
                    return;
                }
                queue = ready.wait(queue).unwrap_or_else(|e| e.into_inner());
            }
        };
        let mut pause = Duration::from_millis(100);
        for attempt in 1..=ATTEMPTS {
            let mut request = agent
                .post(&config.url)
                .header("Content-Type", "application/json");
            for (name, value) in &config.headers {
                request = request.header(name, value);
            }
            match request.send(record.json.as_str()) {
                Ok(_) => {
                    counters.sent.fetch_add(1, Ordering::Relaxed);
                    if reported_failure {
                        tracing::info!(url = config.url, "HTTP output delivering again");
                        reported_failure = false;
                    }
                    break;
                }
                Err(e) if attempt == ATTEMPTS => {
                    counters.failed.fetch_add(1, Ordering::Relaxed);
                    if !reported_failure {
                        tracing::error!(url = config.url, "HTTP output: posting an alert failed {ATTEMPTS} times, giving it up: {e}");
                        reported_failure = true;
                    }
                }
                Err(_) => {
                    if lock.lock().unwrap_or_else(|e| e.into_inner()).closing {
                        counters.failed.fetch_add(1, Ordering::Relaxed);
                        break;
                    }
                    std::thread::sleep(pause);
                    pause *= 4;
                }
            }
        }
    }
}
