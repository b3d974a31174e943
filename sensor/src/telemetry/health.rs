//! The HTTP endpoint for Kubernetes probes and Prometheus: `/healthz` (the pipeline makes
//! progress: it fails after `health.stall_after` without progress while records wait in the
//! ring buffer, so the kubelet restarts a sensor that is stuck),
//! `/readyz` (programs attached, rules loaded, pod cache synced when configured) and
//! `/metrics`.
//!
//! In a pod it listens on the pod's address, where anything on the network can reach it. So
//! its cost is bounded whatever a client does: at most [`MAX_CONNECTIONS`] connections, each
//! with [`HEADER_READ_TIMEOUT`] to send a request's headers (against slowloris), a
//! [`MAX_REQUEST_BUFFER`] read buffer and [`CONNECTION_LIFETIME`] in all. A new connection
//! beyond the limit closes the oldest, so a flood of idle connections cannot keep the
//! kubelet's probe out: the probe connects and asks at once, a flood's connection sits idle.

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use axum::http::{header, StatusCode};
use axum::response::IntoResponse;
use axum::routing::get;

use super::Telemetry;

pub struct HealthServer {
    pub address: SocketAddr,
    stop: tokio::sync::oneshot::Sender<()>,
    task: tokio::task::JoinHandle<()>,
}

impl HealthServer {
    /// Binds `address` now (a port in use fails the start, naming the key) and serves on
    /// the current runtime.
    pub async fn start(address: SocketAddr, telemetry: Arc<Telemetry>) -> anyhow::Result<Self> {
        let listener = tokio::net::TcpListener::bind(address)
            .await
            .with_context(|| format!("health.address: binding {address}"))?;
        let address = listener.local_addr()?;
        let ready = telemetry.clone();
        let healthy = telemetry.clone();
        let metrics = telemetry;
        let app = axum::Router::new()
            .route(
                "/healthz",
                get(move || {
                    let t = healthy.clone();
                    async move {
                        match t.not_healthy() {
                            None => (StatusCode::OK, "ok\n".to_string()),
                            Some(why) => (
                                StatusCode::SERVICE_UNAVAILABLE,
                                format!("unhealthy: {why}\n"),
                            ),
                        }
                    }
                }),
            )
            .route(
                "/readyz",
                get(move || {
                    let t = ready.clone();
                    async move {
                        match t.not_ready() {
                            None => (StatusCode::OK, "ready\n".to_string()),
                            Some(why) => (
                                StatusCode::SERVICE_UNAVAILABLE,
                                format!("not ready: {why}\n"),
                            ),
                        }
                    }
                }),
            )
            .route(
                "/metrics",
                get(move || {
                    let t = metrics.clone();
                    async move {
                        (
                            [(
                                header::CONTENT_TYPE,
                                "text/plain; version=0.0.4; charset=utf-8",
                            )],
                            super::prometheus::render(&t),
                        )
                            .into_response()
                    }
                }),
            );
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let task = tokio::spawn(serve(listener, app, stopped));
        tracing::info!(%address, "health and metrics at /healthz /readyz /metrics");
        Ok(Self {
            address,
            stop,
            task,
        })
    }

    pub async fn stop(self) {
        let _ = self.stop.send(());
        let _ = tokio::time::timeout(std::time::Duration::from_secs(1), self.task).await;
    }
}

/// Connections served at once; a Prometheus server and the kubelet's probes need a few.
pub const MAX_CONNECTIONS: usize = 64;
/// Time a client has to send a request's headers, on a new or a kept-alive connection.
pub const HEADER_READ_TIMEOUT: Duration = Duration::from_secs(5);
/// Longest a connection is kept, however busy (a scraper reconnects).
pub const CONNECTION_LIFETIME: Duration = Duration::from_secs(60);
/// Read buffer per connection: the requests here are a line and a few headers (hyper's
/// smallest allowed value).
pub const MAX_REQUEST_BUFFER: usize = 8 * 1024;

/// The accept loop: every connection a task of its own, the oldest closed when a new one
/// would pass [`MAX_CONNECTIONS`].
async fn serve(
    listener: tokio::net::TcpListener,
    app: axum::Router,
    mut stopped: tokio::sync::oneshot::Receiver<()>,
) {
    let mut connections = tokio::task::JoinSet::new();
    let mut oldest_first: VecDeque<(tokio::task::Id, tokio::task::AbortHandle)> =
        VecDeque::with_capacity(MAX_CONNECTIONS);
    loop {
        tokio::select! {
            _ = &mut stopped => break,
            Some(done) = connections.join_next_with_id(), if !connections.is_empty() => {
                let id = match done {
                    Ok((id, ())) => id,
                    Err(e) => e.id(),
                };
                oldest_first.retain(|(i, _)| *i != id);
            }
            accepted = listener.accept() => {
                let stream = match accepted {
                    Ok((stream, _)) => stream,
                    Err(e) => {
                        // Out of file descriptors, most likely: let some close first.
                        tracing::warn!("health endpoint: accept failed: {e}");
                        tokio::time::sleep(Duration::from_millis(50)).await;
                        continue;
                    }
                };
                if oldest_first.len() >= MAX_CONNECTIONS {
                    if let Some((_, oldest)) = oldest_first.pop_front() {
                        oldest.abort();
                    }
                }
                let handle = connections.spawn(connection(stream, app.clone()));
                oldest_first.push_back((handle.id(), handle));
            }
        }
    }
    connections.shutdown().await;
}

async fn connection(stream: tokio::net::TcpStream, app: axum::Router) {
    let io = hyper_util::rt::TokioIo::new(stream);
    let service = hyper_util::service::TowerToHyperService::new(app);
    let served = hyper::server::conn::http1::Builder::new()
        .timer(hyper_util::rt::TokioTimer::new())
        .header_read_timeout(HEADER_READ_TIMEOUT)
        .max_buf_size(MAX_REQUEST_BUFFER)
        .serve_connection(io, service);
    // A connection past its lifetime is simply dropped (closed).
    if let Ok(Err(e)) = tokio::time::timeout(CONNECTION_LIFETIME, served).await {
        tracing::debug!("health endpoint connection: {e}");
    }
}
