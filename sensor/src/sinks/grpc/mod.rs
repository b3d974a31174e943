//! The gRPC server (`sensor.v1.Sensor`, server reflection, `grpc.health.v1.Health`) on a Unix
//! socket and optionally TCP, and the client `sensor alerts` uses. Every call passes the
//! [`gate`] first: roles ([`access`]) and the request size limit ([`limits`]).

pub mod access;
pub mod certificate;
pub mod client;
pub mod gate;
pub mod groups;
pub mod limits;
pub mod listen;
pub mod profiles;
pub mod recording_book;
pub mod service;
pub mod subscribe;
pub mod unix_peer;

use std::time::Duration;

use std::sync::Arc;

use anyhow::Context;
use futures::StreamExt;
use sensor_api::v1 as api;
use tokio::sync::watch;

pub use access::Access;
pub use limits::Limits;
pub use listen::{SocketConfig, TcpConfig, TlsFiles};
pub use service::SensorService;
pub use subscribe::SensorRouter;

/// How long shutdown waits for subscribers to take their final message.
const DRAIN: Duration = Duration::from_secs(3);

#[derive(Clone, Debug, Default)]
pub struct GrpcConfig {
    pub socket: Option<SocketConfig>,
    pub tcp: Option<TcpConfig>,
    /// Who has the `control` role.
    pub access: Access,
}

/// The running server. [`GrpcServer::shutdown`] ends every stream with a Goodbye.
pub struct GrpcServer {
    service: SensorService,
    stop: watch::Sender<bool>,
    tasks: Vec<tokio::task::JoinHandle<()>>,
    health: tonic_health::server::HealthReporter,
    socket_path: Option<std::path::PathBuf>,
}

impl GrpcServer {
    /// Binds every listener now (so a bad path or certificate fails the start, with the
    /// configuration field named) and serves them on the current Tokio runtime.
    pub async fn start(config: &GrpcConfig, service: SensorService) -> anyhow::Result<Self> {
        let max_request = service.limits.max_request_bytes;
        let (health, health_service) = tonic_health::server::health_reporter();
        let health_service = health_service.max_decoding_message_size(max_request);
        health
            .set_serving::<api::sensor_server::SensorServer<SensorService>>()
            .await;
        let reflection_v1 = tonic_reflection::server::Builder::configure()
            .register_encoded_file_descriptor_set(api::FILE_DESCRIPTOR_SET)
            .register_encoded_file_descriptor_set(tonic_health::pb::FILE_DESCRIPTOR_SET)
            .build_v1()
            .context("building the reflection service")?
            .max_decoding_message_size(max_request);
        let reflection_v1alpha = tonic_reflection::server::Builder::configure()
            .register_encoded_file_descriptor_set(api::FILE_DESCRIPTOR_SET)
            .register_encoded_file_descriptor_set(tonic_health::pb::FILE_DESCRIPTOR_SET)
            .build_v1alpha()
            .context("building the reflection service")?
            .max_decoding_message_size(max_request);
        let gate = gate::GateLayer::new(Arc::new(config.access.clone()), max_request);
        let (stop, stopped) = watch::channel(false);
        let router = |tls: Option<tonic::transport::ServerTlsConfig>| -> anyhow::Result<_> {
            let mut builder = tonic::transport::Server::builder()
                .http2_keepalive_interval(Some(Duration::from_secs(30)));
            if let Some(tls) = tls {
                builder = builder.tls_config(tls).context("grpc.tcp.tls")?;
            }
            Ok(builder
                .layer(gate.clone())
                .add_service(SensorRouter::new(service.clone()))
                .add_service(health_service.clone())
                .add_service(reflection_v1.clone())
                .add_service(reflection_v1alpha.clone()))
        };
        let shutdown = |mut stopped: watch::Receiver<bool>| async move {
            let _ = stopped.wait_for(|s| *s).await;
        };

        let mut tasks = Vec::new();
        let mut socket_path = None;
        if let Some(socket) = &config.socket {
            let listener = listen::bind_unix(socket)?;
            // Each connection with its peer's credentials, for the caller's role.
            let incoming = tokio_stream::wrappers::UnixListenerStream::new(listener)
                .map(|accepted| accepted.map(unix_peer::PeerStream::accept));
            let server = router(None)?;
            let signal = shutdown(stopped.clone());
            tasks.push(tokio::spawn(async move {
                if let Err(e) = server.serve_with_incoming_shutdown(incoming, signal).await {
                    tracing::error!("gRPC server on the Unix socket failed: {e}");
                }
            }));
            tracing::info!(
                path = %socket.path.display(),
                mode = format!("{:o}", socket.mode),
                group = ?socket.group,
                control_groups = ?config.access.control_groups.iter().map(|g| g.to_string()).collect::<Vec<_>>(),
                "gRPC listening on a Unix socket"
            );
            socket_path = Some(socket.path.clone());
        }
        if let Some(tcp) = &config.tcp {
            let tls = match &tcp.tls {
                Some(files) => Some(listen::server_tls(files)?),
                None => {
                    tracing::warn!(
                        address = %tcp.address,
                        "gRPC on TCP WITHOUT TLS (--insecure): anyone who can reach this port can read every alert"
                    );
                    None
                }
            };
            let listener = tokio::net::TcpListener::bind(tcp.address)
                .await
                .with_context(|| format!("grpc.tcp.address: binding {}", tcp.address))?;
            let address = listener.local_addr()?;
            let incoming = tokio_stream::wrappers::TcpListenerStream::new(listener);
            let server = router(tls)?;
            let signal = shutdown(stopped.clone());
            tasks.push(tokio::spawn(async move {
                if let Err(e) = server.serve_with_incoming_shutdown(incoming, signal).await {
                    tracing::error!("gRPC server on TCP failed: {e}");
                }
            }));
            tracing::info!(
                %address,
                mtls = tcp.tls.is_some(),
                control_identities = config.access.control_identities.len(),
                "gRPC listening on TCP"
            );
        }
        Ok(Self {
            service,
            stop,
            tasks,
            health,
            socket_path,
        })
    }

    pub fn service(&self) -> &SensorService {
        &self.service
    }

    /// Ends every subscriber's stream with a Goodbye carrying `reason`, then stops serving.
    pub async fn shutdown(mut self, reason: &str) {
        self.health
            .set_not_serving::<api::sensor_server::SensorServer<SensorService>>()
            .await;
        self.service.hub.close(reason);
        let _ = self.stop.send(true);
        let all = futures::future::join_all(self.tasks.iter_mut());
        if tokio::time::timeout(DRAIN, all).await.is_err() {
            tracing::warn!("some subscribers did not take their final message in time");
            for task in &self.tasks {
                task.abort();
            }
        }
        if let Some(path) = &self.socket_path {
            let _ = std::fs::remove_file(path);
        }
    }
}
