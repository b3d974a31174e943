//! The configuration file's shape: `deploy/sensor.yaml` documents every key with its default.
//! Every struct refuses unknown keys, so a misspelt key is an error, not a silent default.

use std::collections::BTreeMap;
use std::path::PathBuf;

use serde::Deserialize;

#[derive(Clone, Debug, Default, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    pub log: Log,
    pub probe: ProbeSection,
    pub rules: Rules,
    pub kubernetes: Kubernetes,
    pub outputs: OutputsSection,
    pub grpc: Grpc,
    pub health: Health,
}

#[derive(Clone, Debug, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct Log {
    pub level: String,
    pub format: LogFormat,
}

impl Default for Log {
    fn default() -> Self {
        Self {
            level: "info".into(),
            format: LogFormat::Text,
        }
    }
}

#[derive(Clone, Copy, Debug, Default, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    #[default]
    Text,
    Json,
}

#[derive(Clone, Debug, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct ProbeSection {
    pub ring_buffer_bytes: u32,
    /// How long a record may wait in the ring buffer while the node is quiet (the kernel
    /// wakes the reader only in batches): bounds alert latency; each poll is a wakeup.
    #[serde(with = "duration")]
    pub poll_interval: std::time::Duration,
}

impl Default for ProbeSection {
    fn default() -> Self {
        Self {
            ring_buffer_bytes: sensor_common::DEFAULT_RING_BYTES,
            poll_interval: std::time::Duration::from_millis(1),
        }
    }
}

#[derive(Clone, Debug, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct Rules {
    pub files: Vec<PathBuf>,
    pub matching: Matching,
    pub watch: bool,
}

impl Default for Rules {
    fn default() -> Self {
        Self {
            files: Vec::new(),
            matching: Matching::First,
            watch: true,
        }
    }
}

#[derive(Clone, Copy, Debug, Default, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum Matching {
    #[default]
    First,
    All,
}

#[derive(Clone, Debug, Default, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct Kubernetes {
    pub kubeconfig: Option<PathBuf>,
    pub node_name: Option<String>,
}

#[derive(Clone, Debug, Default, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct OutputsSection {
    pub stdout: StdoutOutput,
    pub file: FileOutput,
    pub http: HttpOutput,
    pub rate_limit: RateLimit,
    pub dedup: Dedup,
}

#[derive(Clone, Copy, Debug, Default, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum Format {
    #[default]
    Json,
    Text,
}

#[derive(Clone, Debug, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct StdoutOutput {
    pub enabled: bool,
    pub format: Format,
}

impl Default for StdoutOutput {
    /// Falco's default: the text line on stdout.
    fn default() -> Self {
        Self {
            enabled: true,
            format: Format::Text,
        }
    }
}

#[derive(Clone, Debug, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct FileOutput {
    pub enabled: bool,
    pub path: PathBuf,
    pub format: Format,
}

impl Default for FileOutput {
    fn default() -> Self {
        Self {
            enabled: false,
            path: "/var/log/sensor/alerts.json".into(),
            format: Format::Json,
        }
    }
}

#[derive(Clone, Debug, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct HttpOutput {
    pub enabled: bool,
    pub url: String,
    #[serde(with = "duration")]
    pub timeout: std::time::Duration,
    pub queue: usize,
    pub headers: BTreeMap<String, String>,
}

impl Default for HttpOutput {
    fn default() -> Self {
        Self {
            enabled: false,
            url: "http://falcosidekick:2801/".into(),
            timeout: std::time::Duration::from_secs(5),
            queue: 10_000,
            headers: BTreeMap::new(),
        }
    }
}

#[derive(Clone, Debug, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct RateLimit {
    pub per_rule_per_second: f64,
    pub burst: f64,
}

impl Default for RateLimit {
    fn default() -> Self {
        Self {
            per_rule_per_second: 0.0,
            burst: 100.0,
        }
    }
}

#[derive(Clone, Debug, Default, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct Dedup {
    #[serde(with = "duration")]
    pub window: std::time::Duration,
}

#[derive(Clone, Debug, Default, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct Grpc {
    pub socket: Socket,
    pub tcp: Tcp,
    pub subscriber_queue: SubscriberQueue,
}

#[derive(Clone, Copy, Debug, Deserialize, PartialEq, Eq)]
#[serde(transparent)]
pub struct SubscriberQueue(pub usize);

impl Default for SubscriberQueue {
    fn default() -> Self {
        Self(10_000)
    }
}

#[derive(Clone, Debug, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct Socket {
    pub enabled: bool,
    pub path: PathBuf,
    /// Octal permission bits, as a string (`"0660"`) so YAML does not read it as decimal.
    pub mode: String,
}

impl Default for Socket {
    fn default() -> Self {
        Self {
            enabled: true,
            path: "/run/sensor/sensor.sock".into(),
            mode: "0660".into(),
        }
    }
}

#[derive(Clone, Debug, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct Tcp {
    pub enabled: bool,
    pub address: String,
    pub insecure: bool,
    pub tls: Tls,
}

impl Default for Tcp {
    fn default() -> Self {
        Self {
            enabled: false,
            address: "0.0.0.0:5060".into(),
            insecure: false,
            tls: Tls::default(),
        }
    }
}

#[derive(Clone, Debug, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct Tls {
    pub ca: PathBuf,
    pub cert: PathBuf,
    pub key: PathBuf,
}

impl Default for Tls {
    fn default() -> Self {
        Self {
            ca: "/etc/sensor/tls/ca.crt".into(),
            cert: "/etc/sensor/tls/tls.crt".into(),
            key: "/etc/sensor/tls/tls.key".into(),
        }
    }
}

#[derive(Clone, Debug, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct Health {
    pub enabled: bool,
    pub address: String,
}

impl Default for Health {
    fn default() -> Self {
        Self {
            enabled: true,
            address: "127.0.0.1:9376".into(),
        }
    }
}

/// Durations as humans write them: `5s`, `250ms`, `1m`.
mod duration {
    use serde::{Deserialize, Deserializer};

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<std::time::Duration, D::Error> {
        let text = String::deserialize(d)?;
        humantime::parse_duration(&text).map_err(|e| {
            serde::de::Error::custom(format!(
                "`{text}` is not a duration ({e}); write e.g. `5s`, `250ms` or `1m`"
            ))
        })
    }
}
