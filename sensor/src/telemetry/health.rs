//! The HTTP endpoint for Kubernetes probes and Prometheus: `/healthz` (the process serves),
//! `/readyz` (programs attached, rules loaded, pod cache synced when configured) and
//! `/metrics`.

use std::net::SocketAddr;
use std::sync::Arc;

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
        let metrics = telemetry;
        let app = axum::Router::new()
            .route("/healthz", get(|| async { "ok\n" }))
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
        let task = tokio::spawn(async move {
            let served = axum::serve(listener, app)
                .with_graceful_shutdown(async {
                    let _ = stopped.await;
                })
                .await;
            if let Err(e) = served {
                tracing::error!("health endpoint failed: {e}");
            }
        });
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
