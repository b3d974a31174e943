//! HTTP output: each alert POSTed as Falco's JSON, one per request, as Falco's `http_output`
//! does, so Falcosidekick and other Falco consumers take the sensor's alerts unchanged. It
//! posts on its own thread from its own queue ([`super::output::OutputHandle`]): a slow or
//! absent receiver costs queued alerts (by the queue's policy, counted), never the
//! pipeline's time.

use std::sync::atomic::Ordering;
use std::time::Duration;

use super::output::{Output, OutputCounters};
use super::queue::WhenFull;
use super::record::AlertRecord;

/// Attempts per alert before it is given up (with a growing pause between them).
const ATTEMPTS: u32 = 3;

#[derive(Clone, Debug)]
pub struct HttpConfig {
    pub url: String,
    pub timeout: Duration,
    /// Alerts waiting to be posted; past this `when_full` decides.
    pub queue: usize,
    pub when_full: WhenFull,
    pub headers: Vec<(String, String)>,
}

pub struct HttpOutput {
    config: HttpConfig,
    agent: ureq::Agent,
    reported_failure: bool,
}

impl HttpOutput {
    /// Checks the URL; the posting starts when the output's thread does.
    pub fn new(config: HttpConfig) -> anyhow::Result<Self> {
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
        let agent: ureq::Agent = ureq::Agent::config_builder()
            .timeout_global(Some(config.timeout))
            .http_status_as_error(true)
            .build()
            .into();
        Ok(Self {
            config,
            agent,
            reported_failure: false,
        })
    }
}

impl Output for HttpOutput {
    fn send(&mut self, record: &AlertRecord, counters: &OutputCounters) -> std::io::Result<()> {
        let config = &self.config;
        let mut pause = Duration::from_millis(100);
        for attempt in 1..=ATTEMPTS {
            let mut request = self
                .agent
                .post(&config.url)
                .header("Content-Type", "application/json");
            for (name, value) in &config.headers {
                request = request.header(name, value);
            }
            match request.send(record.json.as_str()) {
                Ok(_) => {
                    counters.sent.fetch_add(1, Ordering::Relaxed);
                    if self.reported_failure {
                        tracing::info!(url = config.url, "HTTP output delivering again");
                        self.reported_failure = false;
                    }
                    return Ok(());
                }
                Err(e) if attempt == ATTEMPTS => {
                    counters.failed.fetch_add(1, Ordering::Relaxed);
                    if !self.reported_failure {
                        tracing::error!(url = config.url, "HTTP output: posting an alert failed {ATTEMPTS} times, giving it up: {e}");
                        self.reported_failure = true;
                    }
                }
                Err(_) => {
                    std::thread::sleep(pause);
                    pause *= 4;
                }
            }
        }
        Ok(())
    }
}
