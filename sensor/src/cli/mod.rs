//! The subcommands' bodies; `main.rs` only parses the command line.

pub mod alerts;
pub mod config;
pub mod events;
pub mod profile;
pub mod record;
pub mod rules;
pub mod run;

use std::sync::atomic::AtomicBool;
use std::sync::Arc;

use anyhow::Context;

pub fn parse_match_mode(text: &str) -> Result<sensor_rules::MatchMode, String> {
    text.parse()
        .map_err(|_| format!("`{text}` is not a rule matching mode: use `first` or `all`"))
}

/// A flag set by SIGINT and SIGTERM.
pub fn stop_flag() -> anyhow::Result<Arc<AtomicBool>> {
    let stop = Arc::new(AtomicBool::new(false));
    for signal in [signal_hook::consts::SIGINT, signal_hook::consts::SIGTERM] {
        signal_hook::flag::register(signal, stop.clone()).context("installing signal handlers")?;
    }
    Ok(stop)
}

/// Where pod metadata comes from: a kubeconfig (`--kubeconfig`, then `KUBECONFIG`), the
/// in-cluster service account, or nowhere (host mode). The node is `--node-name` or
/// `NODE_NAME`.
#[derive(clap::Args, Clone, Debug, Default)]
pub struct KubernetesArgs {
    /// kubeconfig to watch this node's pods with (default: $KUBECONFIG, then the in-cluster
    /// service account when running in a pod, else no Kubernetes metadata).
    #[arg(long, value_name = "PATH")]
    pub kubeconfig: Option<std::path::PathBuf>,
    /// This node's name (default: $NODE_NAME, set through the downward API).
    #[arg(long, value_name = "NAME")]
    pub node_name: Option<String>,
    /// How long events of a container whose pod is not known yet wait for it (default 5s).
    #[arg(long, value_name = "DURATION", value_parser = humantime::parse_duration)]
    pub pod_wait: Option<std::time::Duration>,
}

impl KubernetesArgs {
    /// How events wait for their pod or names.
    pub fn enrich_options(&self) -> sensor::enrich::EnrichOptions {
        let mut options = sensor::enrich::EnrichOptions::default();
        if let Some(wait) = self.pod_wait {
            options.pod_wait = wait;
        }
        options
    }

    /// Starts the pod cache; it never waits for the API server.
    pub fn pod_cache(&self) -> anyhow::Result<sensor::enrich::pods::PodCache> {
        let mut options = sensor::enrich::pods::PodCacheOptions::from_env(self.kubeconfig.clone());
        if let Some(node) = &self.node_name {
            options.node_name = Some(node.clone());
        }
        let cache = sensor::enrich::pods::PodCache::start(options)?;
        match cache.node_name() {
            Some(node) => tracing::info!(node, "watching this node's pods"),
            None => tracing::info!("no Kubernetes configuration: host mode, no pod metadata"),
        }
        Ok(cache)
    }
}

/// A broken stdout (`sensor events | head`) is a normal way to stop.
pub fn ignore_broken_pipe(result: std::io::Result<()>) -> anyhow::Result<()> {
    match result {
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(()),
        other => other.context("writing to stdout"),
    }
}
