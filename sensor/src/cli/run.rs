//! `sensor run`: the sensor with its rules, delivering alerts to every configured output.
//! Settings come from `--config FILE` (see deploy/sensor.yaml), then the flags.

use std::collections::BTreeSet;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use sensor::config::{schema, Config};
use sensor::consumers::Consumers;
use sensor::enrich::host_names::{self, HostNames};
use sensor::model::syscall_set::{self, SyscallSet};
use sensor::pipeline::Pipeline;
use sensor::probe::{Probe, ProbeConfig};
use sensor::rules::{AlertSink, LiveRules, RuleFiles};
use sensor::sinks::grpc::{
    Access, GrpcConfig, GrpcServer, SensorService, SocketConfig, TcpConfig, TlsFiles,
};
use sensor::sinks::http::{HttpConfig, HttpOutput};
use sensor::sinks::hub::AlertHub;
use sensor::sinks::lines::{LineFormat, LineOutput};
use sensor::sinks::output::{OutputHandle, QueueConfig};
use sensor::sinks::throttle::{RateLimitConfig, Throttle};
use sensor::sinks::Outputs;
use sensor::telemetry::health::HealthServer;
use sensor::telemetry::{Parts, Telemetry};
use sensor_rules::MatchMode;

/// `sensor run`'s flags; each overrides its key in the configuration file.
#[derive(clap::Args, Debug, Default)]
pub struct RunArgs {
    /// The configuration file (every key and its default: deploy/sensor.yaml).
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Falco's JSON alert format on stdout, one object per line (default: Falco's text line).
    #[arg(long)]
    pub json: bool,
    /// No alerts on stdout (use the other outputs).
    #[arg(long)]
    pub no_stdout: bool,
    /// A rules file or a directory of *.yaml files, or Falco's own rules by name
    /// (falco-stable, falco-incubating, falco-sandbox: built in); repeatable, loaded in the
    /// order given. Replaces the default rules, as Falco's -r does.
    #[arg(long = "rules", value_name = "PATH")]
    pub rules: Vec<PathBuf>,
    /// `first` stops at the first matching rule (Falco's default); `all` reports every one.
    #[arg(long, value_parser = super::parse_match_mode)]
    pub rule_matching: Option<MatchMode>,
    /// Size of the kernel ring buffer in bytes (a power of two, at least 8 MiB).
    #[arg(long)]
    pub ring_bytes: Option<u32>,
    /// The longest a record waits in the ring buffer on a quiet node (default 1ms: alert
    /// latency; 10ms costs less CPU when idle).
    #[arg(long, value_name = "DURATION", value_parser = humantime::parse_duration)]
    pub poll_interval: Option<Duration>,
    /// Have the eBPF programs log why an event is lost or incomplete, under the log target
    /// `sensor::kernel` (see `probe.kernel_diagnostics`).
    #[arg(long)]
    pub kernel_diagnostics: bool,
    /// Send every traced call to the agent, even those no loaded rule can match (see
    /// `probe.kernel_filter`).
    #[arg(long)]
    pub no_kernel_filter: bool,
    /// Append alerts (Falco JSON lines) to this file; reopened on SIGHUP for log rotation.
    #[arg(long, value_name = "PATH")]
    pub output_file: Option<PathBuf>,
    /// POST each alert as Falco JSON to this URL (e.g. Falcosidekick's).
    #[arg(long, value_name = "URL")]
    pub output_http: Option<String>,
    /// Fold identical alerts within this window into one carrying the count (e.g. `10s`).
    #[arg(long, value_name = "DURATION", value_parser = humantime::parse_duration)]
    pub dedup_window: Option<Duration>,
    /// At most this many alerts per second per rule (token bucket; burst from the file).
    #[arg(long, value_name = "N")]
    pub rate_limit: Option<f64>,
    /// The gRPC Unix socket (default /run/sensor/sensor.sock).
    #[arg(long, value_name = "PATH")]
    pub grpc_socket: Option<PathBuf>,
    /// No gRPC Unix socket.
    #[arg(long)]
    pub no_grpc_socket: bool,
    /// Also serve gRPC on TCP at IP:PORT, with mutual TLS (--tls-*) unless --insecure.
    #[arg(long, value_name = "IP:PORT")]
    pub grpc_addr: Option<String>,
    /// CA that gRPC clients' certificates must chain to.
    #[arg(long, value_name = "PEM")]
    pub tls_ca: Option<PathBuf>,
    /// The gRPC server's certificate.
    #[arg(long, value_name = "PEM")]
    pub tls_cert: Option<PathBuf>,
    /// The gRPC server's private key.
    #[arg(long, value_name = "PEM")]
    pub tls_key: Option<PathBuf>,
    /// Serve gRPC on TCP without TLS: anyone who reaches the port reads every alert.
    #[arg(long)]
    pub insecure: bool,
    /// Where /healthz, /readyz and /metrics listen (IP:PORT).
    #[arg(long, value_name = "IP:PORT")]
    pub health_addr: Option<String>,
    /// No health and metrics endpoint.
    #[arg(long)]
    pub no_health: bool,
    #[command(flatten)]
    pub kubernetes: super::KubernetesArgs,
}

impl RunArgs {
    /// The configuration file (or the defaults), with the flags applied.
    pub fn config(&self) -> anyhow::Result<Config> {
        let (mut config, text) = match &self.config {
            Some(path) => Config::load_with_text(path).map_err(|e| anyhow::anyhow!("{e}"))?,
            None => (Config::default(), String::new()),
        };
        // Again with the flags applied: a flag's value is checked like the file's.
        self.apply(&mut config);
        let problems = config.check(
            self.config
                .as_deref()
                .unwrap_or(std::path::Path::new("<command line>")),
            &text,
        );
        if !problems.is_empty() {
            let lines: Vec<String> = problems.iter().map(ToString::to_string).collect();
            anyhow::bail!("{}", lines.join("\n"));
        }
        Ok(config)
    }

    fn apply(&self, c: &mut Config) {
        if self.json {
            c.outputs.stdout.format = schema::Format::Json;
        }
        if self.no_stdout {
            c.outputs.stdout.enabled = false;
        }
        if !self.rules.is_empty() {
            c.rules.files = self.rules.clone();
        }
        if let Some(mode) = self.rule_matching {
            c.rules.matching = match mode {
                MatchMode::First => schema::Matching::First,
                MatchMode::All => schema::Matching::All,
            };
        }
        if let Some(bytes) = self.ring_bytes {
            c.probe.ring_buffer_bytes = bytes;
        }
        if let Some(interval) = self.poll_interval {
            c.probe.poll_interval = interval;
        }
        if self.kernel_diagnostics {
            c.probe.kernel_diagnostics = true;
        }
        if self.no_kernel_filter {
            c.probe.kernel_filter = false;
        }
        if let Some(path) = &self.output_file {
            c.outputs.file.enabled = true;
            c.outputs.file.path = path.clone();
        }
        if let Some(url) = &self.output_http {
            c.outputs.http.enabled = true;
            c.outputs.http.url = url.clone();
        }
        if let Some(window) = self.dedup_window {
            c.outputs.dedup.window = window;
        }
        if let Some(rate) = self.rate_limit {
            c.outputs.rate_limit.per_rule_per_second = rate;
        }
        if let Some(path) = &self.grpc_socket {
            c.grpc.socket.enabled = true;
            c.grpc.socket.path = path.clone();
        }
        if self.no_grpc_socket {
            c.grpc.socket.enabled = false;
        }
        if let Some(address) = &self.grpc_addr {
            c.grpc.tcp.enabled = true;
            c.grpc.tcp.address = address.clone();
        }
        for (flag, field) in [
            (&self.tls_ca, &mut c.grpc.tcp.tls.ca),
            (&self.tls_cert, &mut c.grpc.tcp.tls.cert),
            (&self.tls_key, &mut c.grpc.tcp.tls.key),
        ] {
            if let Some(path) = flag {
                *field = path.clone();
            }
        }
        if self.insecure {
            c.grpc.tcp.insecure = true;
        }
        if let Some(address) = &self.health_addr {
            c.health.enabled = true;
            c.health.address = address.clone();
        }
        if self.no_health {
            c.health.enabled = false;
        }
        if let Some(path) = &self.kubernetes.kubeconfig {
            c.kubernetes.kubeconfig = Some(path.clone());
        }
        if let Some(node) = &self.kubernetes.node_name {
            c.kubernetes.node_name = Some(node.clone());
        }
        if let Some(wait) = self.kubernetes.pod_wait {
            c.kubernetes.pod_wait = wait;
        }
    }
}

fn line_format(format: schema::Format) -> LineFormat {
    match format {
        schema::Format::Json => LineFormat::Json,
        schema::Format::Text => LineFormat::Text,
    }
}

/// The gRPC listeners and who has `control`; groups named in the configuration are looked
/// up now, once (`Config::check` has already found them).
fn grpc_config(config: &Config) -> anyhow::Result<GrpcConfig> {
    let grpc = &config.grpc;
    let resolve = |key: &str, group: &Option<sensor::sinks::grpc::groups::GroupRef>| {
        group
            .as_ref()
            .map(|g| g.resolve().with_context(|| key.to_string()))
            .transpose()
    };
    let socket_group = resolve("grpc.socket.group", &grpc.socket.group)?;
    let control_group = resolve("grpc.socket.control_group", &grpc.socket.control_group)?;
    Ok(GrpcConfig {
        socket: grpc.socket.enabled.then(|| SocketConfig {
            path: grpc.socket.path.clone(),
            mode: sensor::config::parse_mode(&grpc.socket.mode).unwrap_or(0o660),
            group: socket_group.map(|g| g.gid),
        }),
        tcp: grpc
            .tcp
            .enabled
            .then(|| {
                let address = grpc.tcp.address.parse().ok()?;
                Some(TcpConfig {
                    address,
                    tls: (!grpc.tcp.insecure).then(|| TlsFiles {
                        ca: grpc.tcp.tls.ca.clone(),
                        cert: grpc.tcp.tls.cert.clone(),
                        key: grpc.tcp.tls.key.clone(),
                    }),
                })
            })
            .flatten(),
        access: Access {
            control_groups: control_group.into_iter().collect(),
            control_identities: grpc.tcp.control_identities.iter().cloned().collect(),
        },
    })
}

pub fn run(config: Config) -> anyhow::Result<()> {
    let files = RuleFiles::new(config.rules.files.clone());
    let (ruleset, report) = files.load()?;
    for line in report.to_string().lines().filter(|l| l.contains("warning")) {
        tracing::warn!("{line}");
    }
    tracing::info!(
        rules = ruleset.rules().len(),
        compiled = report.compiled(),
        skipped = report.skipped(),
        "rules loaded (`sensor rules check` lists why any were skipped)"
    );
    // Only what the rules are evaluated on is traced, with the families the process table
    // and the names cache read, and those recordings read while one runs; each reload
    // changes it.
    let (live, wanted) = LiveRules::tracing(
        ruleset,
        SyscallSet::families(syscall_set::ALWAYS_FAMILIES),
        config.probe.kernel_filter,
    );
    // The host names the rules compare connections with, resolved ahead of time (Falco's
    // `fd.sip.name`), following each reload.
    let host_names = HostNames::new();
    {
        let names = host_names.clone();
        live.follow(Box::new(move |ruleset| {
            names.want(
                host_names::NAME_FIELDS
                    .iter()
                    .fold(BTreeSet::new(), |mut all, field| {
                        all.extend(ruleset.constants_compared_with(field));
                        all
                    }),
            )
        }));
    }
    let _resolving = host_names
        .start()
        .context("starting the host-name resolver")?;
    let telemetry = Telemetry::new();

    let stop = super::stop_flag()?;
    let hup_rules = Arc::new(AtomicBool::new(false));
    let hup_file = Arc::new(AtomicBool::new(false));
    for flag in [&hup_rules, &hup_file] {
        signal_hook::flag::register(signal_hook::consts::SIGHUP, flag.clone())
            .context("installing the SIGHUP handler")?;
    }
    let watcher = {
        let (live, files, hup) = (live.clone(), files.clone(), hup_rules.clone());
        let files_too = config.rules.watch;
        let stop_watch = Arc::new(AtomicBool::new(false));
        let flag = stop_watch.clone();
        let handle = std::thread::spawn(move || live.watch(files, hup, flag, files_too));
        (handle, stop_watch)
    };

    // gRPC and the health endpoint run on a small runtime of their own; the pipeline keeps
    // its thread.
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .thread_name("sensor-io")
        .enable_all()
        .build()
        .context("starting the I/O runtime")?;
    let hub = AlertHub::new();
    let outputs_hub = hub.clone();
    let service = SensorService::new(
        hub.clone(),
        live.clone(),
        telemetry.clone(),
        config.grpc.limits(),
    );
    let recordings = service.recordings.clone();
    let grpc = runtime.block_on(GrpcServer::start(&grpc_config(&config)?, service))?;
    let health = match config.health.enabled {
        true => {
            let address = config.health.address.parse().context("health.address")?;
            Some(runtime.block_on(HealthServer::start(address, telemetry.clone()))?)
        }
        false => None,
    };

    let mut outputs = Outputs::new(telemetry.clone())
        .with_hub(outputs_hub)
        .with_throttle(Throttle::new(
            Some(RateLimitConfig {
                per_rule_per_second: config.outputs.rate_limit.per_rule_per_second,
                burst: config.outputs.rate_limit.burst,
            }),
            Some(config.outputs.dedup.window),
        ));
    if config.outputs.drop_alert.enabled {
        outputs = outputs.with_drop_alerts(config.outputs.drop_alert.interval);
    }
    if config.outputs.stdout.enabled {
        let stdout = &config.outputs.stdout;
        outputs = outputs.with_output(OutputHandle::start(
            "stdout",
            QueueConfig {
                capacity: stdout.queue,
                when_full: stdout.when_full,
            },
            LineOutput::stdout(line_format(stdout.format)),
        )?);
    }
    if config.outputs.file.enabled {
        let file = &config.outputs.file;
        outputs = outputs.with_output(OutputHandle::start(
            "file",
            QueueConfig {
                capacity: file.queue,
                when_full: file.when_full,
            },
            LineOutput::file(file.path.clone(), line_format(file.format), hup_file)?,
        )?);
    }
    if config.outputs.http.enabled {
        let http = &config.outputs.http;
        let config = HttpConfig {
            url: http.url.clone(),
            timeout: http.timeout,
            queue: http.queue,
            when_full: http.when_full,
            headers: http.headers.clone().into_iter().collect(),
        };
        outputs = outputs.with_output(OutputHandle::start(
            "http",
            QueueConfig {
                capacity: config.queue,
                when_full: config.when_full,
            },
            HttpOutput::new(config)?,
        )?);
    }

    let kubernetes = super::KubernetesArgs {
        kubeconfig: config.kubernetes.kubeconfig.clone(),
        node_name: config.kubernetes.node_name.clone(),
        pod_wait: Some(config.kubernetes.pod_wait),
    };
    let pods = kubernetes.pod_cache()?;
    let mut probe = Probe::load(&ProbeConfig {
        ring_bytes: config.probe.ring_buffer_bytes,
        kernel_diagnostics: config.probe.kernel_diagnostics,
        syscalls: wanted.get(),
        filter: wanted.filter(),
        ..ProbeConfig::default()
    })?;
    let profiles = probe.take_recorder().map(sensor::profile::Recordings::new);
    if let Some(profiles) = &profiles {
        let _ = recordings.set(profiles.clone());
        // A recording reads the exec, chmod, mount, set*id and module events of its cgroups:
        // traced while one runs, and in force before its start returns.
        let (live, wanted) = (live.clone(), wanted.clone());
        profiles.on_active_change(Arc::new(move |active| {
            let base = match active {
                true => syscall_set::BASE_FAMILIES,
                false => syscall_set::ALWAYS_FAMILIES,
            };
            live.set_base(SyscallSet::families(base));
            if !wanted.wait_applied(Duration::from_secs(2)) {
                tracing::warn!(
                    "the syscalls recordings read were not traced within 2 s; the recording's \
                     first chmod, mount and set*id calls may be missing from its AppArmor profile"
                );
            }
        }));
    }
    let _ = telemetry.parts.set(Parts {
        rules: live.clone(),
        hub: Some(hub.clone()),
        pods: pods.view(),
        outputs: outputs.counters(),
        program_ids: probe.program_ids.clone(),
        ring: probe
            .ring_watch()
            .map_err(|e| tracing::warn!("/healthz cannot watch the ring buffer: {e}"))
            .ok(),
        stall_after: config.health.stall_after,
    });
    telemetry.attached.store(true, Ordering::Release);
    let enrich = sensor::enrich::EnrichOptions {
        max_held_events: config.kubernetes.held_events,
        ..kubernetes.enrich_options()
    };
    let mut pipeline = Pipeline::with_enrich(probe, pods, enrich)
        .with_poll_interval(config.probe.poll_interval)
        .with_telemetry(telemetry.clone())
        .with_wanted_syscalls(wanted)
        .with_host_names(host_names);
    let matching = match config.rules.matching {
        schema::Matching::First => MatchMode::First,
        schema::Matching::All => MatchMode::All,
    };
    // The profile recorder and the rules are sibling consumers of every event.
    let mut consumers = Consumers {
        profiles,
        rules: AlertSink::new(live.clone(), matching, outputs, telemetry.clone()),
    };
    let result = pipeline.run(&stop, &mut consumers);
    let sink = consumers.rules;
    telemetry.attached.store(false, Ordering::Release);

    // Shutdown: the programs are detached and the ring buffer drained (in `run`); now the
    // outputs flush, and each subscriber gets what it has queued and a Goodbye.
    watcher.1.store(true, Ordering::Relaxed);
    let _ = watcher.0.join();
    let alerts: Vec<String> = sink
        .alerts
        .iter()
        .map(|(r, n)| format!("{r:?}={n}"))
        .collect();
    let total: u64 = sink.alerts.values().sum();
    let counters = sink.outputs().counters();
    let drop_alerts = sink.outputs().drop_alerts();
    let closed = sink.close(config.outputs.shutdown_grace);
    runtime.block_on(async {
        grpc.shutdown("the sensor is stopping").await;
        if let Some(health) = health {
            health.stop().await;
        }
    });
    runtime.shutdown_timeout(Duration::from_secs(1));
    let mut summary = format!(
        "{}; alerts {} ({}); rules reloads {} (failed {})",
        pipeline.summary(),
        total,
        if alerts.is_empty() {
            "none".to_string()
        } else {
            alerts.join(" ")
        },
        live.metrics.reloads.load(Ordering::Relaxed),
        live.metrics.failures.load(Ordering::Relaxed),
    );
    let folded = telemetry.alerts_deduplicated.load(Ordering::Relaxed);
    let limited = telemetry.alerts_rate_limited.load(Ordering::Relaxed);
    if folded + limited > 0 {
        summary.push_str(&format!("; deduplicated {folded}, rate limited {limited}"));
    }
    for (name, _, c) in counters {
        summary.push_str(&format!(
            "; {name} sent {} dropped {} failed {}",
            c.sent.load(Ordering::Relaxed),
            c.dropped_queue_full.load(Ordering::Relaxed),
            c.failed.load(Ordering::Relaxed)
        ));
    }
    if drop_alerts > 0 {
        summary.push_str(&format!("; drop alerts {drop_alerts}"));
    }
    eprintln!("{summary}");
    super::ignore_broken_pipe(result.and(closed))
}
