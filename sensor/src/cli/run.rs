//! `sensor run`: the sensor with its rules, printing alerts.

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use anyhow::Context;
use sensor::pipeline::Pipeline;
use sensor::probe::{Probe, ProbeConfig};
use sensor::rules::{AlertFormat, AlertSink, LiveRules, RuleFiles};
use sensor_rules::MatchMode;

pub struct RunOptions {
    pub json: bool,
    pub rules: Vec<PathBuf>,
    pub rule_matching: MatchMode,
    pub ring_bytes: u32,
    pub kubernetes: super::KubernetesArgs,
}

pub fn run(options: RunOptions) -> anyhow::Result<()> {
    let files = RuleFiles::new(options.rules);
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
    let live = LiveRules::new(ruleset);

    let stop = super::stop_flag()?;
    let hup = Arc::new(AtomicBool::new(false));
    signal_hook::flag::register(signal_hook::consts::SIGHUP, hup.clone())
        .context("installing the SIGHUP handler")?;
    let watcher = {
        let (live, files, hup) = (live.clone(), files.clone(), hup.clone());
        let stop_watch = Arc::new(AtomicBool::new(false));
        let flag = stop_watch.clone();
        let handle = std::thread::spawn(move || live.watch(files, hup, flag));
        (handle, stop_watch)
    };

    let pods = options.kubernetes.pod_cache()?;
    let probe = Probe::load(&ProbeConfig {
        ring_bytes: options.ring_bytes,
    })?;
    let mut pipeline = Pipeline::with_pods(probe, pods);
    let format = if options.json {
        AlertFormat::Json
    } else {
        AlertFormat::Text
    };
    let mut sink = AlertSink::new(
        live.clone(),
        options.rule_matching,
        format,
        std::io::BufWriter::with_capacity(1 << 16, std::io::stdout().lock()),
    );
    let result = pipeline.run(&stop, &mut sink);

    watcher.1.store(true, Ordering::Relaxed);
    let _ = watcher.0.join();
    let alerts: Vec<String> = sink
        .alerts
        .iter()
        .map(|(r, n)| format!("{r:?}={n}"))
        .collect();
    eprintln!(
        "{}; alerts {} ({}); rules reloads {} (failed {})",
        pipeline.summary(),
        sink.alerts.values().sum::<u64>(),
        if alerts.is_empty() {
            "none".to_string()
        } else {
            alerts.join(" ")
        },
        live.metrics.reloads.load(Ordering::Relaxed),
        live.metrics.failures.load(Ordering::Relaxed),
    );
    super::ignore_broken_pipe(result)
}
