//! The configuration file's shape: `deploy/sensor.yaml` documents every key with its default.
//! Every struct refuses unknown keys, so a misspelt key is an error, not a silent default.

use std::collections::BTreeMap;
use std::path::PathBuf;

use serde::Deserialize;

use crate::sinks::grpc::groups::GroupRef;
use crate::sinks::grpc::limits as grpc_limits;

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
    /// The eBPF programs log why an event is lost or incomplete (`probe::diagnostics`).
    pub kernel_diagnostics: bool,
    /// Drop in the kernel the calls no loaded rule can match (`rules::kernel_filter`).
    pub kernel_filter: bool,
}

impl Default for ProbeSection {
    fn default() -> Self {
        Self {
            ring_buffer_bytes: sensor_common::DEFAULT_RING_BYTES,
            poll_interval: std::time::Duration::from_millis(1),
            kernel_diagnostics: false,
            kernel_filter: true,
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

#[derive(Clone, Debug, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct Kubernetes {
    pub kubeconfig: Option<PathBuf>,
    pub node_name: Option<String>,
    /// How long the events of a container whose pod is not in the pod cache yet wait for
    /// it (in the event cache; other events flow on): kubelet publishes a new container's id
    /// in its pod's status seconds after it started.
    #[serde(with = "duration")]
    pub pod_wait: std::time::Duration,
    /// Events held at most while they wait (for their pod or user names); past this the
    /// oldest go on without, counted in sensor_event_cache_released_total{reason="evicted"}.
    pub held_events: usize,
}

impl Default for Kubernetes {
    fn default() -> Self {
        Self {
            kubeconfig: None,
            node_name: None,
            pod_wait: std::time::Duration::from_secs(5),
            held_events: crate::enrich::event_cache::MAX_EVENTS,
        }
    }
}

#[derive(Clone, Debug, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct OutputsSection {
    pub stdout: StdoutOutput,
    pub file: FileOutput,
    pub http: HttpOutput,
    pub rate_limit: RateLimit,
    pub dedup: Dedup,
    pub drop_alert: DropAlert,
    /// What shutdown gives the outputs, together, to write what they have queued.
    #[serde(with = "duration")]
    pub shutdown_grace: std::time::Duration,
}

impl Default for OutputsSection {
    fn default() -> Self {
        Self {
            stdout: StdoutOutput::default(),
            file: FileOutput::default(),
            http: HttpOutput::default(),
            rate_limit: RateLimit::default(),
            dedup: Dedup::default(),
            drop_alert: DropAlert::default(),
            shutdown_grace: std::time::Duration::from_secs(5),
        }
    }
}

/// An output's queue when full: see `sinks::queue::WhenFull`.
pub use crate::sinks::queue::WhenFull;

/// Alerts an output queues by default (stdout, file, HTTP).
pub const DEFAULT_OUTPUT_QUEUE: usize = 10_000;

/// `outputs.drop_alert`: loss raises "Falco internal: syscall event drop".
#[derive(Clone, Debug, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct DropAlert {
    pub enabled: bool,
    /// At most one drop alert per interval, carrying the counts since the last.
    #[serde(with = "duration")]
    pub interval: std::time::Duration,
}

impl Default for DropAlert {
    fn default() -> Self {
        Self {
            enabled: true,
            interval: std::time::Duration::from_secs(10),
        }
    }
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
    pub queue: usize,
    pub when_full: WhenFull,
}

impl Default for StdoutOutput {
    /// Falco's default: the text line on stdout.
    fn default() -> Self {
        Self {
            enabled: true,
            format: Format::Text,
            queue: DEFAULT_OUTPUT_QUEUE,
            when_full: WhenFull::ByPriority,
        }
    }
}

#[derive(Clone, Debug, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct FileOutput {
    pub enabled: bool,
    pub path: PathBuf,
    pub format: Format,
    pub queue: usize,
    pub when_full: WhenFull,
}

impl Default for FileOutput {
    fn default() -> Self {
        Self {
            enabled: false,
            path: "/var/log/sensor/alerts.json".into(),
            format: Format::Json,
            queue: DEFAULT_OUTPUT_QUEUE,
            when_full: WhenFull::ByPriority,
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
    pub when_full: WhenFull,
    pub headers: BTreeMap<String, String>,
}

impl Default for HttpOutput {
    fn default() -> Self {
        Self {
            enabled: false,
            url: "http://falcosidekick:2801/".into(),
            timeout: std::time::Duration::from_secs(5),
            queue: DEFAULT_OUTPUT_QUEUE,
            when_full: WhenFull::ByPriority,
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
    pub limits: GrpcLimits,
}

#[derive(Clone, Copy, Debug, Deserialize, PartialEq, Eq)]
#[serde(transparent)]
pub struct SubscriberQueue(pub usize);

impl Default for SubscriberQueue {
    fn default() -> Self {
        Self(grpc_limits::DEFAULT_SUBSCRIBER_QUEUE)
    }
}

/// `grpc.limits`: what one caller may ask of the sensor (`sinks::grpc::limits` says why each).
#[derive(Clone, Debug, Deserialize, PartialEq, Eq)]
#[serde(default, deny_unknown_fields)]
pub struct GrpcLimits {
    pub max_request_bytes: usize,
    pub max_subscribers: usize,
    pub max_subscribers_per_identity: usize,
    pub max_subscriber_queue: usize,
    pub subscriber_queue_bytes: usize,
    pub total_queue_bytes: usize,
    pub max_filter_values: usize,
    pub max_string_bytes: usize,
    pub max_selector_bytes: usize,
    pub max_recordings: usize,
    #[serde(with = "duration")]
    pub recording_default_duration: std::time::Duration,
    #[serde(with = "duration")]
    pub recording_max_duration: std::time::Duration,
}

impl Default for GrpcLimits {
    fn default() -> Self {
        let d = grpc_limits::Limits::default();
        Self {
            max_request_bytes: d.max_request_bytes,
            max_subscribers: d.max_subscribers,
            max_subscribers_per_identity: d.max_subscribers_per_identity,
            max_subscriber_queue: d.max_subscriber_queue,
            subscriber_queue_bytes: d.subscriber_queue_bytes,
            total_queue_bytes: d.total_queue_bytes,
            max_filter_values: d.max_filter_values,
            max_string_bytes: d.max_string_bytes,
            max_selector_bytes: d.max_selector_bytes,
            max_recordings: d.max_recordings,
            recording_default_duration: d.recording_default_duration,
            recording_max_duration: d.recording_max_duration,
        }
    }
}

impl Grpc {
    /// The limits in force, `grpc.subscriber_queue` among them.
    pub fn limits(&self) -> grpc_limits::Limits {
        let l = &self.limits;
        grpc_limits::Limits {
            max_request_bytes: l.max_request_bytes,
            max_subscribers: l.max_subscribers,
            max_subscribers_per_identity: l.max_subscribers_per_identity,
            subscriber_queue: self.subscriber_queue.0,
            max_subscriber_queue: l.max_subscriber_queue,
            subscriber_queue_bytes: l.subscriber_queue_bytes,
            total_queue_bytes: l.total_queue_bytes,
            max_filter_values: l.max_filter_values,
            max_string_bytes: l.max_string_bytes,
            max_selector_bytes: l.max_selector_bytes,
            max_recordings: l.max_recordings,
            recording_default_duration: l.recording_default_duration,
            recording_max_duration: l.recording_max_duration,
        }
    }
}

#[derive(Clone, Debug, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct Socket {
    pub enabled: bool,
    pub path: PathBuf,
    /// Octal permission bits, as a string (`"0660"`) so YAML does not read it as decimal.
    pub mode: String,
    /// The socket's group (a name or a gid; default: the sensor's own): with mode 0660 its
    /// members may connect, with the `read` role.
    pub group: Option<GroupRef>,
    /// Members of this group (a name or a gid) have the `control` role on the socket; root
    /// always has it.
    pub control_group: Option<GroupRef>,
}

impl Default for Socket {
    fn default() -> Self {
        Self {
            enabled: true,
            path: "/run/sensor/sensor.sock".into(),
            mode: "0660".into(),
            group: None,
            control_group: None,
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
    /// Client certificate names (subject CN, SAN DNS or URI name) with the `control` role;
    /// every other certificate from the CA has `read`.
    pub control_identities: Vec<String>,
}

impl Default for Tcp {
    fn default() -> Self {
        Self {
            enabled: false,
            address: "0.0.0.0:5060".into(),
            insecure: false,
            tls: Tls::default(),
            control_identities: Vec::new(),
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
    /// `/healthz` fails once the pipeline has made no progress for this long while records
    /// wait in the ring buffer.
    #[serde(with = "duration")]
    pub stall_after: std::time::Duration,
}

impl Default for Health {
    fn default() -> Self {
        Self {
            enabled: true,
            address: "127.0.0.1:9376".into(),
            stall_after: std::time::Duration::from_secs(5),
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
