//! `sensor alerts` and `sensor status`: the everyday gRPC clients.

use std::io::Write;
use std::path::PathBuf;

use anyhow::Context;
use sensor::event::control_chars::escape_control;
use sensor::sinks::grpc::client::{self, ClientTls, Target};
use sensor_api::v1 as api;

/// Where the sensor is and how to reach it.
#[derive(clap::Args, Debug, Clone)]
pub struct ConnectArgs {
    /// The sensor's Unix socket.
    #[arg(
        long,
        value_name = "PATH",
        default_value = "/run/sensor/sensor.sock",
        conflicts_with = "addr"
    )]
    pub socket: PathBuf,
    /// The sensor's TCP address (HOST:PORT), with mutual TLS unless --insecure.
    #[arg(long, value_name = "HOST:PORT")]
    pub addr: Option<String>,
    /// CA that signed the sensor's certificate.
    #[arg(long, value_name = "PEM", requires = "addr")]
    pub ca: Option<PathBuf>,
    /// This client's certificate.
    #[arg(long, value_name = "PEM", requires = "addr")]
    pub cert: Option<PathBuf>,
    /// This client's private key.
    #[arg(long, value_name = "PEM", requires = "addr")]
    pub key: Option<PathBuf>,
    /// The name the sensor's certificate carries (default: the host of --addr).
    #[arg(long, value_name = "NAME", requires = "addr")]
    pub tls_server_name: Option<String>,
    /// Plaintext TCP (the sensor must run with --insecure too).
    #[arg(long, requires = "addr")]
    pub insecure: bool,
}

impl ConnectArgs {
    fn target(&self) -> anyhow::Result<Target> {
        let Some(address) = &self.addr else {
            return Ok(Target::Socket(self.socket.clone()));
        };
        if self.insecure {
            return Ok(Target::Tcp {
                address: address.clone(),
                tls: None,
            });
        }
        let ca = self.ca.clone().context(
            "--addr needs --ca (and --cert/--key: the sensor requires client certificates), or --insecure",
        )?;
        Ok(Target::Tcp {
            address: address.clone(),
            tls: Some(ClientTls {
                ca,
                cert: self.cert.clone(),
                key: self.key.clone(),
                domain: self.tls_server_name.clone(),
            }),
        })
    }
}

/// Server-side filters: every one given must hold.
#[derive(clap::Args, Debug, Clone, Default)]
pub struct FilterArgs {
    /// Only alerts at least this severe (debug, informational, notice, warning, error,
    /// critical, alert, emergency).
    #[arg(long, value_name = "PRIORITY", value_parser = parse_priority)]
    pub min_priority: Option<api::Priority>,
    /// Only this rule (repeatable).
    #[arg(long = "rule", value_name = "NAME")]
    pub rules: Vec<String>,
    /// Only rules with this tag (repeatable: any of them).
    #[arg(long = "tag", value_name = "TAG")]
    pub tags: Vec<String>,
    /// Only pods in this namespace (repeatable).
    #[arg(long = "namespace", value_name = "NS")]
    pub namespaces: Vec<String>,
    /// Only pods matching this label selector (`app=web,tier!=db`).
    #[arg(long = "selector", short = 'l', value_name = "SELECTOR")]
    pub pod_selector: Option<String>,
    /// Only this container (full or 12-character id; repeatable).
    #[arg(long = "container", value_name = "ID")]
    pub container_ids: Vec<String>,
}

fn parse_priority(text: &str) -> Result<api::Priority, String> {
    let p: sensor_rules::Priority = text
        .parse()
        .map_err(|_| format!("`{text}` is not a priority: use debug, informational, notice, warning, error, critical, alert or emergency"))?;
    Ok(sensor::sinks::record::priority_to_proto(p))
}

#[derive(clap::Args, Debug)]
pub struct AlertsArgs {
    #[command(flatten)]
    pub connect: ConnectArgs,
    #[command(flatten)]
    pub filter: FilterArgs,
    /// Falco's JSON alert format, one object per line (otherwise Falco's text line).
    #[arg(long)]
    pub json: bool,
    /// Exit after this many alerts.
    #[arg(long, value_name = "N")]
    pub count: Option<u64>,
    /// Alerts the sensor may queue for this client before dropping the least severe (oldest first).
    #[arg(long, value_name = "N", default_value_t = 0)]
    pub queue_size: u32,
    /// This client's name in the sensor's Status and logs.
    #[arg(long, value_name = "NAME", default_value = "sensor-alerts")]
    pub name: String,
}

/// A failed call's message with its causes: "transport error" alone does not say that the
/// TLS handshake failed, or why (e.g. the sensor wants a client certificate).
fn describe(status: &tonic::Status) -> String {
    let mut text = status.message().to_string();
    let mut source = std::error::Error::source(status);
    while let Some(cause) = source {
        let cause_text = cause.to_string();
        if !text.ends_with(&cause_text) {
            text.push_str(&format!(": {cause_text}"));
        }
        source = cause.source();
    }
    text
}

/// A client of the sensor that `connect` names.
pub async fn connect(
    connect: &ConnectArgs,
) -> anyhow::Result<sensor_api::v1::sensor_client::SensorClient<tonic::transport::Channel>> {
    client::connect(&connect.target()?).await
}

fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("starting the runtime")
}

pub fn alerts(args: AlertsArgs) -> anyhow::Result<()> {
    runtime()?.block_on(async move {
        let mut client = client::connect(&args.connect.target()?).await?;
        let request = api::SubscribeRequest {
            min_priority: args.filter.min_priority.map_or(0, |p| p as i32),
            rules: args.filter.rules,
            tags: args.filter.tags,
            namespaces: args.filter.namespaces,
            pod_selector: args.filter.pod_selector.unwrap_or_default(),
            container_ids: args.filter.container_ids,
            queue_size: args.queue_size,
            client_name: args.name,
        };
        let mut stream = client
            .subscribe(request)
            .await
            .map_err(|s| anyhow::anyhow!("the sensor refused the subscription: {}", describe(&s)))?
            .into_inner();
        let mut out = std::io::stdout().lock();
        let mut received = 0;
        while let Some(message) = stream
            .message()
            .await
            .map_err(|s| anyhow::anyhow!("the stream broke: {}", describe(&s)))?
        {
            use api::subscribe_response::Message;
            match message.message {
                Some(Message::Alert(alert)) => {
                    // The message holds the observed process's strings: printed on a
                    // terminal, they must stay one line and carry no escape sequences.
                    let line = if args.json {
                        alert.falco_json
                    } else {
                        escape_control(&alert.output).into_owned()
                    };
                    writeln!(out, "{line}")?;
                    out.flush()?;
                    received += 1;
                    if args.count.is_some_and(|n| received >= n) {
                        break;
                    }
                }
                Some(Message::DropNotice(notice)) => eprintln!(
                    "sensor alerts: the sensor dropped {} alerts for this client (queue full; {} in total)",
                    notice.dropped, notice.dropped_total
                ),
                Some(Message::Goodbye(goodbye)) => {
                    eprintln!(
                        "sensor alerts: the sensor closed the stream: {} (sent {}, dropped {})",
                        goodbye.reason, goodbye.alerts_sent, goodbye.alerts_dropped
                    );
                    break;
                }
                None => {}
            }
        }
        Ok(())
    })
}

/// `sensor status`: the Status call, as JSON.
pub fn status(connect: ConnectArgs) -> anyhow::Result<()> {
    runtime()?.block_on(async move {
        let mut client = client::connect(&connect.target()?).await?;
        let status = client
            .status(api::StatusRequest {})
            .await
            .map_err(|s| anyhow::anyhow!("Status failed: {}", describe(&s)))?
            .into_inner();
        let subscribers: Vec<serde_json::Value> = status
            .subscribers
            .iter()
            .map(|s| {
                serde_json::json!({
                    "id": s.id, "client_name": s.client_name, "peer": s.peer,
                    "identity": s.identity,
                    "alerts_sent": s.alerts_sent, "alerts_dropped": s.alerts_dropped,
                    "queued": s.queued, "queue_size": s.queue_size,
                })
            })
            .collect();
        let json = serde_json::json!({
            "version": status.version,
            "uptime_seconds": status.uptime.map_or(0, |u| u.seconds),
            "kernel": status.kernel,
            "hostname": status.hostname,
            "rules_loaded": status.rules_loaded,
            "rules_reloads": status.rules_reloads,
            "rules_reload_failures": status.rules_reload_failures,
            "events_seen": status.events_seen,
            "events_lost": status.events_lost,
            "alerts_total": status.alerts_total,
            "alerts_deduplicated": status.alerts_deduplicated,
            "alerts_rate_limited": status.alerts_rate_limited,
            "caller": status.caller,
            "caller_role": match status.caller_role() {
                api::Role::Read => "read",
                api::Role::Control => "control",
                api::Role::Unspecified => "unknown",
            },
            "subscribers": subscribers,
            "compat_abi": status.compat_abi.map(|c| serde_json::json!({
                "traced": c.traced, "attached": c.attached,
                "processes_held_at_exec": c.processes_held_at_exec,
                "ia32_emulation": c.ia32_emulation, "uncovered": c.uncovered,
            })),
        });
        println!("{json:#}");
        Ok(())
    })
}
