//! `sensor.yaml`: the configuration file of `sensor run --config FILE`. Parsing refuses
//! unknown keys and wrong types with the file's line and column; [`Config::check`] then looks
//! at what parsing cannot (files that must exist, addresses, modes) and names the key's
//! location the same way. `deploy/sensor.yaml` documents every key with its default.

mod locate;
pub mod schema;

use std::fmt;
use std::path::{Path, PathBuf};

pub use schema::Config;

/// The range `grpc.limits.max_request_bytes` may take: below 1 KiB a subscription with a few
/// filters would not fit; above tonic's own default (4 MiB) is no bound worth the name.
const MIN_REQUEST_BYTES: usize = 1 << 10;
const MAX_REQUEST_BYTES: usize = 4 << 20;

/// One problem, with where it is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    pub file: PathBuf,
    pub line: Option<usize>,
    pub column: Option<usize>,
    /// The key, dotted (`grpc.tcp.tls.ca`), when known.
    pub key: Option<String>,
    pub message: String,
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.file.display())?;
        if let Some(line) = self.line {
            write!(f, ":{line}")?;
            if let Some(column) = self.column {
                write!(f, ":{column}")?;
            }
        }
        write!(f, ": error: ")?;
        if let Some(key) = &self.key {
            write!(f, "{key}: ")?;
        }
        write!(f, "{}", self.message)
    }
}

/// Every problem found in a configuration file.
#[derive(Debug, thiserror::Error)]
pub struct ConfigError(pub Vec<Problem>);

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let lines: Vec<String> = self.0.iter().map(Problem::to_string).collect();
        write!(f, "{}", lines.join("\n"))
    }
}

impl Config {
    /// Reads and checks `path`.
    pub fn load(path: &Path) -> Result<Config, ConfigError> {
        Self::load_with_text(path).map(|(config, _)| config)
    }

    /// As [`Config::load`], also returning the file's text, so that later checks (after
    /// command-line overrides) can locate keys without reading the file again.
    pub fn load_with_text(path: &Path) -> Result<(Config, String), ConfigError> {
        let problem = |message: String| Problem {
            file: path.to_path_buf(),
            line: None,
            column: None,
            key: None,
            message,
        };
        let text = std::fs::read_to_string(path)
            .map_err(|e| ConfigError(vec![problem(format!("cannot read the file: {e}"))]))?;
        let config = Self::parse(path, &text)?;
        let problems = config.check(path, &text);
        if problems.is_empty() {
            Ok((config, text))
        } else {
            Err(ConfigError(problems))
        }
    }

    /// Parses the text of `path` (an empty file is the defaults).
    pub fn parse(path: &Path, text: &str) -> Result<Config, ConfigError> {
        if text.trim().is_empty() {
            return Ok(Config::default());
        }
        serde_yaml_ng::from_str(text).map_err(|e| {
            let location = e.location().map(|l| within(text, l.line(), l.column()));
            // serde's message ends with its own " at line L column C": the prefix says it.
            let message = e.to_string();
            let message = match message.rfind(" at line ") {
                Some(at) if location.is_some() => message[..at].to_string(),
                _ => message,
            };
            ConfigError(vec![Problem {
                file: path.to_path_buf(),
                line: location.map(|l| l.0),
                column: location.map(|l| l.1),
                key: None,
                message: explain(&message),
            }])
        })
    }

    /// What parsing cannot see: every problem, each at its key.
    pub fn check(&self, path: &Path, text: &str) -> Vec<Problem> {
        let mut problems = Vec::new();
        let mut add = |key: &str, message: String| {
            let parts: Vec<&str> = key.split('.').collect();
            let at = locate::locate(text, &parts).map(|(l, c)| within(text, l, c));
            problems.push(Problem {
                file: path.to_path_buf(),
                line: at.map(|a| a.0),
                column: at.map(|a| a.1),
                key: Some(key.to_string()),
                message,
            });
        };
        if crate::telemetry::log_filter::parse(&self.log.level).is_none() {
            add(
                "log.level",
                format!(
                    "`{}` is not a log filter; use a level (`info`, `debug`) or `target=level` pairs",
                    self.log.level
                ),
            );
        }
        let ring = self.probe.ring_buffer_bytes;
        if !ring.is_power_of_two() || ring < 8 << 20 {
            add(
                "probe.ring_buffer_bytes",
                format!("{ring} must be a power of two of at least 8 MiB (8388608)"),
            );
        }
        let poll = self.probe.poll_interval;
        if poll < std::time::Duration::from_micros(100) || poll > std::time::Duration::from_secs(1)
        {
            add(
                "probe.poll_interval",
                format!("{poll:?} is out of range: use 100us to 1s (1ms keeps alert latency low, 10ms costs less when idle)"),
            );
        }
        for (i, file) in self.rules.files.iter().enumerate() {
            if !file.exists() && crate::rules::sources::builtin(file).is_none() {
                add(
                    &format!("rules.files.{i}"),
                    format!(
                        "{} does not exist (give a rules file, a directory of them, or one of \
                         the built-in falco-stable, falco-incubating, falco-sandbox)",
                        file.display()
                    ),
                );
            }
        }
        if let Some(kubeconfig) = &self.kubernetes.kubeconfig {
            if !kubeconfig.is_file() {
                add(
                    "kubernetes.kubeconfig",
                    format!("{} is not a file", kubeconfig.display()),
                );
            }
        }
        if self.kubernetes.pod_wait > std::time::Duration::from_secs(60) {
            add(
                "kubernetes.pod_wait",
                format!(
                    "{:?} is out of range: use 0s (no wait) to 60s; kubelet's status lag is a few seconds",
                    self.kubernetes.pod_wait
                ),
            );
        }
        if !(1..=1_000_000).contains(&self.kubernetes.held_events) {
            add(
                "kubernetes.held_events",
                "must be 1 to 1000000 (each held event takes some hundreds of bytes to a few KiB)"
                    .into(),
            );
        }
        let outputs = &self.outputs;
        if outputs.http.enabled {
            let scheme_ok =
                outputs.http.url.starts_with("http://") || outputs.http.url.starts_with("https://");
            if !scheme_ok || outputs.http.url.parse::<ureq::http::Uri>().is_err() {
                add(
                    "outputs.http.url",
                    format!("`{}` is not an http:// or https:// URL", outputs.http.url),
                );
            }
        }
        for (key, queue) in [
            ("outputs.stdout.queue", outputs.stdout.queue),
            ("outputs.file.queue", outputs.file.queue),
            ("outputs.http.queue", outputs.http.queue),
        ] {
            if queue == 0 {
                add(key, "must be at least 1".into());
            }
        }
        if outputs.drop_alert.enabled
            && outputs.drop_alert.interval < std::time::Duration::from_secs(1)
        {
            add(
                "outputs.drop_alert.interval",
                "must be at least 1s (losses are counted once a second)".into(),
            );
        }
        if self.health.stall_after < std::time::Duration::from_millis(100) {
            add(
                "health.stall_after",
                "must be at least 100ms (the pipeline polls every few milliseconds)".into(),
            );
        }
        if outputs.rate_limit.per_rule_per_second < 0.0
            || !outputs.rate_limit.per_rule_per_second.is_finite()
        {
            add(
                "outputs.rate_limit.per_rule_per_second",
                "must be 0 (off) or more".into(),
            );
        }
        if outputs.rate_limit.burst < 1.0 || !outputs.rate_limit.burst.is_finite() {
            add("outputs.rate_limit.burst", "must be at least 1".into());
        }
        let grpc = &self.grpc;
        if grpc.socket.enabled && parse_mode(&grpc.socket.mode).is_none() {
            add(
                "grpc.socket.mode",
                format!(
                    "`{}` is not an octal file mode such as \"0660\"",
                    grpc.socket.mode
                ),
            );
        }
        if grpc.tcp.enabled {
            if grpc.tcp.address.parse::<std::net::SocketAddr>().is_err() {
                add(
                    "grpc.tcp.address",
                    format!("`{}` is not an IP:PORT address", grpc.tcp.address),
                );
            }
            if !grpc.tcp.insecure {
                for (key, file) in [
                    ("grpc.tcp.tls.ca", &grpc.tcp.tls.ca),
                    ("grpc.tcp.tls.cert", &grpc.tcp.tls.cert),
                    ("grpc.tcp.tls.key", &grpc.tcp.tls.key),
                ] {
                    if let Err(e) = std::fs::File::open(file) {
                        add(
                            key,
                            format!(
                                "cannot read {}: {e} (TCP gRPC requires mutual TLS: give the certificates with grpc.tcp.tls or --tls-ca/--tls-cert/--tls-key; for plaintext on a trusted network only, grpc.tcp.insecure: true or --insecure)",
                                file.display()
                            ),
                        );
                    }
                }
            }
        }
        if grpc.subscriber_queue.0 == 0 {
            add("grpc.subscriber_queue", "must be at least 1".into());
        }
        if grpc.socket.enabled {
            for (key, group) in [
                ("grpc.socket.group", &grpc.socket.group),
                ("grpc.socket.control_group", &grpc.socket.control_group),
            ] {
                if let Some(Err(e)) = group.as_ref().map(|g| g.resolve()) {
                    add(key, e.to_string());
                }
            }
        }
        if let Some(i) = grpc
            .tcp
            .control_identities
            .iter()
            .position(|n| n.trim().is_empty())
        {
            add(
                &format!("grpc.tcp.control_identities.{i}"),
                "an empty name matches no certificate: give a subject CN, SAN DNS or URI name"
                    .into(),
            );
        }
        let limits = &grpc.limits;
        for (key, value) in [
            ("grpc.limits.max_subscribers", limits.max_subscribers),
            (
                "grpc.limits.max_subscribers_per_identity",
                limits.max_subscribers_per_identity,
            ),
            ("grpc.limits.max_filter_values", limits.max_filter_values),
            ("grpc.limits.max_string_bytes", limits.max_string_bytes),
            ("grpc.limits.max_selector_bytes", limits.max_selector_bytes),
            ("grpc.limits.max_recordings", limits.max_recordings),
            (
                "grpc.limits.subscriber_queue_bytes",
                limits.subscriber_queue_bytes,
            ),
            ("grpc.limits.total_queue_bytes", limits.total_queue_bytes),
        ] {
            if value == 0 {
                add(key, "must be at least 1".into());
            }
        }
        if !(MIN_REQUEST_BYTES..=MAX_REQUEST_BYTES).contains(&limits.max_request_bytes) {
            add(
                "grpc.limits.max_request_bytes",
                format!(
                    "{} is out of range: use {MIN_REQUEST_BYTES} to {MAX_REQUEST_BYTES} (every request of the API is small; the default is 65536)",
                    limits.max_request_bytes
                ),
            );
        }
        if limits.max_subscriber_queue < grpc.subscriber_queue.0 {
            add(
                "grpc.limits.max_subscriber_queue",
                format!(
                    "{} is less than grpc.subscriber_queue ({}), the queue of a subscriber that asks for none",
                    limits.max_subscriber_queue, grpc.subscriber_queue.0
                ),
            );
        }
        if limits.recording_default_duration.is_zero() {
            add(
                "grpc.limits.recording_default_duration",
                "must be more than zero".into(),
            );
        }
        if limits.recording_default_duration > limits.recording_max_duration {
            add(
                "grpc.limits.recording_default_duration",
                format!(
                    "{} is longer than grpc.limits.recording_max_duration ({})",
                    humantime::format_duration(limits.recording_default_duration),
                    humantime::format_duration(limits.recording_max_duration)
                ),
            );
        }
        if self.health.enabled && self.health.address.parse::<std::net::SocketAddr>().is_err() {
            add(
                "health.address",
                format!("`{}` is not an IP:PORT address", self.health.address),
            );
        }
        problems
    }
}

/// A 1-based line and column of `text`, kept inside it. libyaml (and yaml-rust2, which
/// [`locate`] uses) starts a new line at the end of a text that does not end with a line
/// break, so an error there (an unclosed quote, a key without its `:`, an empty last value)
/// came out one line past the last: it is the end of the last line.
fn within(text: &str, line: usize, column: usize) -> (usize, usize) {
    // YAML breaks lines at \r\n, \r and \n.
    let text = text.replace("\r\n", "\n");
    let lines: Vec<&str> = text.split(['\r', '\n']).collect();
    match lines.last() {
        Some(last) if line > lines.len() => (lines.len(), last.chars().count() + 1),
        _ => (line, column),
    }
}

/// `"0660"` as permission bits.
pub fn parse_mode(text: &str) -> Option<u32> {
    u32::from_str_radix(text.trim_start_matches("0o"), 8)
        .ok()
        .filter(|m| *m <= 0o777)
}

/// serde's wording, with what to do.
fn explain(message: &str) -> String {
    if message.starts_with("unknown field") {
        format!("{message} (deploy/sensor.yaml lists every key)")
    } else {
        message.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<Config, ConfigError> {
        Config::parse(Path::new("s.yaml"), text)
    }

    #[test]
    fn defaults_and_overrides() {
        assert_eq!(parse("").expect("empty"), Config::default());
        let c = parse("outputs:\n  dedup:\n    window: 2s\ngrpc:\n  subscriber_queue: 5\n")
            .expect("parses");
        assert_eq!(c.outputs.dedup.window, std::time::Duration::from_secs(2));
        assert_eq!(c.grpc.subscriber_queue.0, 5);
        assert!(c.outputs.stdout.enabled);
        assert!(
            !c.probe.kernel_diagnostics,
            "kernel diagnostics are off by default"
        );
        let c = parse("probe:\n  kernel_diagnostics: true\n").expect("parses");
        assert!(c.probe.kernel_diagnostics);
        let e = parse("probe:\n  kernel_diagnostics: loud\n").unwrap_err();
        assert_eq!(e.0[0].line, Some(2), "{e}");
    }

    /// deploy/sensor.yaml is the defaults, key for key.
    #[test]
    fn the_documented_file_is_the_defaults() {
        let text = include_str!("../../../deploy/sensor.yaml");
        assert_eq!(
            parse(text).expect("deploy/sensor.yaml parses"),
            Config::default()
        );
    }

    #[test]
    fn unknown_keys_and_wrong_types_have_locations() {
        let e = parse("grpc:\n  tcp:\n    enabeld: true\n").unwrap_err();
        let p = &e.0[0];
        assert_eq!((p.line, p.column), (Some(3), Some(5)), "{e}");
        assert!(p.message.contains("unknown field `enabeld`"), "{e}");
        assert!(e.to_string().starts_with("s.yaml:3:5: error: "), "{e}");

        let e = parse("probe:\n  ring_buffer_bytes: lots\n").unwrap_err();
        assert_eq!(e.0[0].line, Some(2), "{e}");
        assert!(e.0[0].message.contains("invalid type"), "{e}");

        let e = parse("outputs:\n  http:\n    timeout: soon\n").unwrap_err();
        assert!(e.0[0].message.contains("not a duration"), "{e}");
    }

    /// Found by the `config_file` fuzz target: an error at the end of a file without a final
    /// newline was reported one line past its last.
    #[test]
    fn an_error_at_the_end_is_on_the_last_line() {
        let e = parse("log:\n  level: info\n  format").unwrap_err();
        assert_eq!((e.0[0].line, e.0[0].column), (Some(3), Some(9)), "{e}");
        let e = parse("log:\r  level: 'info").unwrap_err();
        assert_eq!(e.0[0].line, Some(2), "{e}");
        // With the final newline the end is the start of the (empty) line after it.
        let e = parse("log:\n  level: info\n  format\n").unwrap_err();
        assert!(e.0[0].line <= Some(4), "{e}");
        // The same for a key located after parsing: an empty last value.
        let text = "grpc:\n  tcp:\n    enabled: true\n    address: ";
        let problems = parse(text)
            .expect("parses")
            .check(Path::new("s.yaml"), text);
        let address = problems
            .iter()
            .find(|p| p.key.as_deref() == Some("grpc.tcp.address"))
            .expect("address reported");
        assert_eq!((address.line, address.column), (Some(4), Some(14)));
    }

    #[test]
    fn missing_tls_files_are_located() {
        let text = "grpc:\n  tcp:\n    enabled: true\n    tls:\n      ca: /nonexistent/ca.crt\n";
        let c = parse(text).expect("parses");
        let problems = c.check(Path::new("s.yaml"), text);
        let ca = problems
            .iter()
            .find(|p| p.key.as_deref() == Some("grpc.tcp.tls.ca"))
            .expect("ca reported");
        assert_eq!((ca.line, ca.column), (Some(5), Some(11)));
        assert!(problems
            .iter()
            .any(|p| p.key.as_deref() == Some("grpc.tcp.tls.cert")));
    }

    #[test]
    fn grpc_access_and_limits_are_checked() {
        let text = "grpc:\n  socket:\n    control_group: no-such-group-here\n  limits:\n    max_subscribers: 0\n    max_request_bytes: 10\n    recording_default_duration: 2d\n";
        let c = parse(text).expect("parses");
        let problems = c.check(Path::new("s.yaml"), text);
        let keys: Vec<&str> = problems.iter().filter_map(|p| p.key.as_deref()).collect();
        assert_eq!(
            keys,
            [
                "grpc.socket.control_group",
                "grpc.limits.max_subscribers",
                "grpc.limits.max_request_bytes",
                "grpc.limits.recording_default_duration"
            ],
            "{problems:?}"
        );
        assert!(problems[0]
            .message
            .contains("no group named `no-such-group-here`"));
        assert_eq!(problems[0].line, Some(3));

        let c = parse("grpc:\n  socket:\n    control_group: 0\n  tcp:\n    control_identities: [ops-admin]\n  limits:\n    recording_max_duration: 2h\n").expect("parses");
        assert!(c.check(Path::new("s.yaml"), "").is_empty());
        assert_eq!(
            c.grpc.socket.control_group,
            Some(crate::sinks::grpc::groups::GroupRef::Id(0))
        );
        let limits = c.grpc.limits();
        assert_eq!(
            limits.recording_max_duration,
            std::time::Duration::from_secs(7200)
        );
        assert_eq!(limits.max_subscribers, 128);
        assert_eq!(c.grpc.tcp.control_identities, ["ops-admin"]);
    }

    #[test]
    fn mode_is_octal() {
        assert_eq!(parse_mode("0660"), Some(0o660));
        assert_eq!(parse_mode("660"), Some(0o660));
        assert_eq!(parse_mode("0999"), None);
    }
}
