//! Rule evaluation on recorded events: the default rules plus Falco's own rule files, against
//! events the sensor captured from a real workload a moment before (execs, chmods, set*id
//! calls, mounts, forks and exits), through the same field adapter `sensor run` uses.
//! Run as root through `cargo xtask bench` (recording loads the eBPF programs).

use std::path::PathBuf;
use std::time::Instant;

mod support;

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use sensor::model::Event;
use sensor::rules::fields::RuleEvent;
use sensor::rules::RuleFiles;
use sensor_rules::MatchMode;

fn rule_files() -> RuleFiles {
    let root = PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/.."));
    let conformance = root.join("conformance/falco-rules");
    RuleFiles::new(vec![
        conformance.join("falco_rules.yaml"),
        conformance.join("falco-incubating_rules.yaml"),
        conformance.join("falco-sandbox_rules.yaml"),
        root.join("rules/sensor_rules.yaml"),
    ])
}

fn bench(c: &mut Criterion) {
    let events = support::record();
    support::remove_cgroup();
    let (ruleset, report) = rule_files().load().expect("rules load");
    let mut types: Vec<&str> = events.iter().map(Event::evt_type).collect();
    types.sort();
    types.dedup();
    println!(
        "recorded {} events ({}); {} rules compiled",
        events.len(),
        types.join(", "),
        report.compiled()
    );

    // One plain measurement, printed as ns per event, before criterion's own.
    let start = Instant::now();
    let rounds = 200;
    let mut matched = 0usize;
    for round in 0..rounds {
        for (i, event) in events.iter().enumerate() {
            let e = RuleEvent::new(event, (round * events.len() + i + 1) as u64, "bench");
            matched += ruleset.evaluate(&e, MatchMode::First).len();
        }
    }
    let per_event = start.elapsed().as_nanos() as f64 / (rounds * events.len()) as f64;
    println!(
        "rule evaluation: {per_event:.0} ns per event on one core ({} matches per pass)",
        matched / rounds
    );

    let mut group = c.benchmark_group("rules");
    group.throughput(Throughput::Elements(events.len() as u64));
    group.bench_function("default+falco rules, recorded events, first match", |b| {
        b.iter(|| {
            let mut n = 0;
            for (i, event) in events.iter().enumerate() {
                let e = RuleEvent::new(event, i as u64 + 1, "bench");
                n += ruleset.evaluate(&e, MatchMode::First).len();
            }
            n
        })
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
