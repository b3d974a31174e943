//! The metrics in Prometheus' text exposition format (version 0.0.4).

use std::fmt::Write;
use std::sync::atomic::Ordering;

use super::Telemetry;

/// Escapes a label value: backslash, double quote and newline.
fn label(value: &str) -> String {
    value
        .replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

struct Out(String);

impl Out {
    fn header(&mut self, name: &str, kind: &str, help: &str) {
        let _ = writeln!(self.0, "# HELP {name} {help}\n# TYPE {name} {kind}");
    }

    fn sample(&mut self, name: &str, labels: &[(&str, &str)], value: impl std::fmt::Display) {
        self.0.push_str(name);
        if !labels.is_empty() {
            self.0.push('{');
            for (i, (k, v)) in labels.iter().enumerate() {
                if i > 0 {
                    self.0.push(',');
                }
                let _ = write!(self.0, "{k}=\"{}\"", label(v));
            }
            self.0.push('}');
        }
        let _ = writeln!(self.0, " {value}");
    }

    fn single(&mut self, name: &str, kind: &str, help: &str, value: impl std::fmt::Display) {
        self.header(name, kind, help);
        self.sample(name, &[], value);
    }
}

/// Resident memory and CPU time of this process, from /proc/self.
fn process_figures() -> (Option<u64>, Option<f64>) {
    let rss = std::fs::read_to_string("/proc/self/statm")
        .ok()
        .and_then(|s| s.split_whitespace().nth(1)?.parse::<u64>().ok())
        .map(|pages| pages * 4096);
    // utime and stime are fields 14 and 15; the command name (field 2) may hold spaces, so
    // count from its closing parenthesis.
    let cpu = std::fs::read_to_string("/proc/self/stat")
        .ok()
        .and_then(|s| {
            let rest = &s[s.rfind(')')? + 2..];
            let fields: Vec<&str> = rest.split_whitespace().collect();
            let ticks: u64 =
                fields.get(11)?.parse::<u64>().ok()? + fields.get(12)?.parse::<u64>().ok()?;
            // SAFETY: sysconf has no preconditions.
            let hz = unsafe { libc::sysconf(libc::_SC_CLK_TCK) };
            (hz > 0).then(|| ticks as f64 / hz as f64)
        });
    (rss, cpu)
}

pub fn render(t: &Telemetry) -> String {
    let mut out = Out(String::with_capacity(8192));
    let stats = t.pipeline();
    out.single(
        "sensor_build_info",
        "gauge",
        "The sensor's version.",
        format_args!(""),
    );
    // Rewrite the last sample with its label (single() wrote it unlabelled).
    out.0
        .truncate(out.0.rfind("sensor_build_info ").unwrap_or(out.0.len()));
    out.sample(
        "sensor_build_info",
        &[("version", env!("CARGO_PKG_VERSION"))],
        1,
    );
    out.single(
        "sensor_uptime_seconds",
        "gauge",
        "Seconds since the sensor started.",
        t.uptime().as_secs_f64(),
    );
    out.single(
        "sensor_ready",
        "gauge",
        "1 when programs are attached, rules loaded and the pod cache synced (if configured).",
        u8::from(t.not_ready().is_none()),
    );

    out.header(
        "sensor_events_total",
        "counter",
        "Events received from the kernel, by type.",
    );
    for (kind, n) in &stats.by_type {
        out.sample("sensor_events_total", &[("type", kind)], n);
    }
    out.header(
        "sensor_events_filtered_in_kernel_total",
        "counter",
        "Calls the kernel filter dropped because no loaded rule could match them, by type.",
    );
    for (kind, n) in &stats.filtered {
        out.sample(
            "sensor_events_filtered_in_kernel_total",
            &[("type", kind)],
            n,
        );
    }
    out.header(
        "sensor_events_lost_total",
        "counter",
        "Events lost before reaching the agent, by reason.",
    );
    out.sample(
        "sensor_events_lost_total",
        &[("reason", "ring_buffer_full")],
        stats.loss.ring_full,
    );
    out.sample(
        "sensor_events_lost_total",
        &[("reason", "exit_without_enter")],
        stats.loss.missing_enter,
    );
    out.sample(
        "sensor_events_lost_total",
        &[("reason", "compat_exec_not_stopped")],
        stats.loss.compat_unstopped,
    );
    out.single(
        "sensor_events_malformed_total",
        "counter",
        "Records that did not decode.",
        stats.malformed,
    );
    let held = &stats.enrich.held;
    out.single(
        "sensor_event_cache_held",
        "gauge",
        "Events waiting now for their pod or user names (the enrich stage's event cache).",
        held.held,
    );
    out.header(
        "sensor_event_cache_released_total",
        "counter",
        "Held events handed on, by reason: completed (the answer came), expired (its deadline passed without it), evicted (the cache was full; oldest first, without the answer).",
    );
    out.sample(
        "sensor_event_cache_released_total",
        &[("reason", "completed")],
        held.completed,
    );
    out.sample(
        "sensor_event_cache_released_total",
        &[("reason", "expired")],
        held.expired,
    );
    out.sample(
        "sensor_event_cache_released_total",
        &[("reason", "evicted")],
        held.evicted,
    );
    out.single(
        "sensor_pod_wait_expired_total",
        "counter",
        "Containers whose pod did not reach the pod cache within kubernetes.pod_wait.",
        stats.enrich.pod_wait_expired,
    );
    out.single(
        "sensor_resolver_refused_total",
        "counter",
        "Resolver requests (names, cgroups, /proc) refused because every worker was busy or stuck.",
        stats.enrich.resolver_refused,
    );
    out.single(
        "sensor_resolver_in_flight",
        "gauge",
        "Resolver requests being worked on now; a lasting figure is a read the observed process stalls.",
        stats.enrich.resolver_in_flight,
    );

    out.header(
        "sensor_alerts_total",
        "counter",
        "Alerts raised, by rule and priority (before de-duplication and rate limiting).",
    );
    for ((rule, priority), n) in t.alerts() {
        out.sample(
            "sensor_alerts_total",
            &[("rule", &rule), ("priority", priority.as_str())],
            n,
        );
    }
    out.single(
        "sensor_alerts_deduplicated_total",
        "counter",
        "Alerts folded into an identical earlier one.",
        t.alerts_deduplicated.load(Ordering::Relaxed),
    );
    out.single(
        "sensor_alerts_rate_limited_total",
        "counter",
        "Alerts dropped by the per-rule rate limit.",
        t.alerts_rate_limited.load(Ordering::Relaxed),
    );

    let h = t.rule_eval.snapshot();
    out.header(
        "sensor_rule_evaluation_seconds",
        "histogram",
        "Time to evaluate the rules against one event.",
    );
    for (bound, count) in &h.buckets {
        let le = if bound.is_infinite() {
            "+Inf".to_string()
        } else {
            format!("{bound:e}")
        };
        out.sample(
            "sensor_rule_evaluation_seconds_bucket",
            &[("le", &le)],
            count,
        );
    }
    out.sample("sensor_rule_evaluation_seconds_sum", &[], h.sum_seconds);
    out.sample("sensor_rule_evaluation_seconds_count", &[], h.count);

    if let Some(parts) = t.parts.get() {
        out.single(
            "sensor_rules_loaded",
            "gauge",
            "Rules in force.",
            parts.rules.current().len(),
        );
        out.single(
            "sensor_rules_reloads_total",
            "counter",
            "Successful rule reloads.",
            parts.rules.metrics.reloads.load(Ordering::Relaxed),
        );
        out.single(
            "sensor_rules_reload_failures_total",
            "counter",
            "Rule reloads that failed (the previous rules stayed in force).",
            parts.rules.metrics.failures.load(Ordering::Relaxed),
        );
        if let Some(hub) = &parts.hub {
            let subscribers = hub.subscribers();
            out.single(
                "sensor_grpc_subscribers",
                "gauge",
                "Connected gRPC subscribers.",
                subscribers.len(),
            );
            out.single(
                "sensor_grpc_alerts_sent_total",
                "counter",
                "Alerts handed to gRPC subscribers (summed over subscribers).",
                hub.counters.sent.load(Ordering::Relaxed),
            );
            out.single(
                "sensor_grpc_alerts_dropped_total",
                "counter",
                "Alerts dropped from full subscriber queues, by priority (summed over subscribers).",
                hub.counters.dropped.load(Ordering::Relaxed),
            );
            out.single(
                "sensor_grpc_queued_bytes",
                "gauge",
                "Bytes held by subscriber queues (against grpc.limits.total_queue_bytes).",
                hub.counters.queued_bytes.load(Ordering::Relaxed),
            );
            out.single(
                "sensor_grpc_queued_alerts",
                "gauge",
                "Alerts waiting in subscriber queues.",
                subscribers.iter().map(|s| s.queued()).sum::<usize>(),
            );
        }
        if !parts.outputs.is_empty() {
            out.header(
                "sensor_output_alerts_total",
                "counter",
                "Alerts of each output (stdout, file, http), by outcome: sent, dropped_queue_full (by the queue's when_full policy), failed (given up after retries, or a failing file).",
            );
            for (name, _, c) in &parts.outputs {
                for (outcome, n) in [
                    ("sent", &c.sent),
                    ("dropped_queue_full", &c.dropped_queue_full),
                    ("failed", &c.failed),
                ] {
                    out.sample(
                        "sensor_output_alerts_total",
                        &[("output", name), ("outcome", outcome)],
                        n.load(Ordering::Relaxed),
                    );
                }
            }
            out.header(
                "sensor_output_queued_alerts",
                "gauge",
                "Alerts waiting in each output's queue.",
            );
            for (name, policy, c) in &parts.outputs {
                out.sample(
                    "sensor_output_queued_alerts",
                    &[("output", name), ("when_full", policy.as_str())],
                    c.queued.load(Ordering::Relaxed),
                );
            }
        }
        out.single(
            "sensor_pipeline_seconds_since_progress",
            "gauge",
            "Time since the pipeline last finished a round of reading the ring buffer: its lag when records are pending.",
            t.since_progress().as_secs_f64(),
        );
        if let Some(pending) = t.ring_pending() {
            out.single(
                "sensor_ring_buffer_pending",
                "gauge",
                "1 while records wait in the ring buffer.",
                u8::from(pending),
            );
        }
        out.single(
            "sensor_healthy",
            "gauge",
            "1 while /healthz answers ok.",
            u8::from(t.not_healthy().is_none()),
        );
        if let Some(pods) = parts.pods.stats() {
            out.single(
                "sensor_pod_cache_pods",
                "gauge",
                "Pods of this node in the cache.",
                pods.pods,
            );
            out.single(
                "sensor_pod_cache_containers",
                "gauge",
                "Containers in the pod cache.",
                pods.containers,
            );
            out.single(
                "sensor_pod_cache_synced",
                "gauge",
                "1 when the pod cache is in sync with the API server.",
                u8::from(pods.synced),
            );
            out.single(
                "sensor_pod_cache_watch_errors_total",
                "counter",
                "Failed list/watch attempts.",
                pods.watch_errors,
            );
        }
        program_figures(&mut out, &parts.program_ids);
    }
    let (rss, cpu) = process_figures();
    if let Some(rss) = rss {
        out.single(
            "process_resident_memory_bytes",
            "gauge",
            "Resident memory of the sensor.",
            rss,
        );
    }
    if let Some(cpu) = cpu {
        out.single(
            "process_cpu_seconds_total",
            "counter",
            "CPU time of the sensor (user and system).",
            cpu,
        );
    }
    out.0
}

/// Kernel time of the sensor's programs; the kernel counts it only while
/// `kernel.bpf_stats_enabled` is 1 (`sysctl -w kernel.bpf_stats_enabled=1`).
fn program_figures(out: &mut Out, ids: &[u32]) {
    let enabled = std::fs::read_to_string("/proc/sys/kernel/bpf_stats_enabled")
        .is_ok_and(|v| v.trim() == "1");
    out.single(
        "sensor_bpf_stats_enabled",
        "gauge",
        "1 when the kernel counts eBPF program run time (kernel.bpf_stats_enabled).",
        u8::from(enabled),
    );
    if !enabled || ids.is_empty() {
        return;
    }
    let mut rows = Vec::new();
    for info in aya::programs::loaded_programs().flatten() {
        if ids.contains(&info.id()) {
            let name = info.name_as_str().unwrap_or("?").to_string();
            rows.push((name, info.id(), info.run_time(), info.run_count()));
        }
    }
    out.header(
        "sensor_bpf_program_run_seconds_total",
        "counter",
        "Kernel time spent in each of the sensor's eBPF programs.",
    );
    for (name, id, time, _) in &rows {
        out.sample(
            "sensor_bpf_program_run_seconds_total",
            &[("program", name), ("id", &id.to_string())],
            time.as_secs_f64(),
        );
    }
    out.header(
        "sensor_bpf_program_runs_total",
        "counter",
        "Runs of each of the sensor's eBPF programs.",
    );
    for (name, id, _, count) in &rows {
        out.sample(
            "sensor_bpf_program_runs_total",
            &[("program", name), ("id", &id.to_string())],
            count,
        );
    }
}
