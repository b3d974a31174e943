//! Falco's own rules files (stable, incubating, sandbox) must load without a single error,
//! singly and stacked; every rule must compile or be skipped with a precise reason.
//!
//! Incubating and sandbox define the macros and lists they use, so they load on their own
//! too; a rule that used a macro no loaded file defines would be skipped with the reason
//! "uses undefined macro `X`" (Falco refuses the whole file; the sensor keeps the rest).

use std::path::PathBuf;

use sensor_rules::{check_sources, CheckReport, CompileOptions, RuleSource, RuleStatus};

fn conformance_dir() -> PathBuf {
    PathBuf::from(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../conformance/falco-rules"
    ))
}

fn load(files: &[&str]) -> CheckReport {
    let sources: Vec<RuleSource> = files
        .iter()
        .map(|file| {
            RuleSource::from_file(&conformance_dir().join(file))
                .expect("conformance file is readable")
        })
        .collect();
    check_sources(sources, CompileOptions::default())
}

fn print_summary(label: &str, report: &CheckReport) {
    println!(
        "{label}: {} rules, {} compiled, {} skipped, {} failed; {} errors, {} warnings",
        report.rules.len(),
        report.compiled(),
        report.skipped(),
        report.failed(),
        report.errors().count(),
        report.warnings().count()
    );
    for rule in &report.rules {
        if let RuleStatus::Compiled { enabled } = rule.status {
            println!(
                "  compiled {:?} (enabled: {enabled}) on {}",
                rule.name,
                rule.event_types.join(", ")
            );
        }
    }
    println!("  main skip reasons (first reason of each skipped rule):");
    for (reason, count) in report.primary_skip_reasons().iter().take(10) {
        println!("  {count:3} x {reason}");
    }
}

/// Loads `files` and checks: no error, no failed rule, the expected counts, and every skip
/// reason is one of the precise kinds.
fn assert_loads(files: &[&str], rules: usize, compiled: usize) -> CheckReport {
    let report = load(files);
    print_summary(&files.join(" + "), &report);
    let errors: Vec<String> = report.errors().map(ToString::to_string).collect();
    assert!(
        errors.is_empty(),
        "errors loading {files:?}:\n{}",
        errors.join("\n")
    );
    assert_eq!(report.failed(), 0, "{report}");
    assert_eq!(report.rules.len(), rules, "{report}");
    assert_eq!(report.compiled(), compiled, "{report}");
    assert_eq!(report.skipped(), rules - compiled, "{report}");
    for rule in &report.rules {
        if let RuleStatus::Skipped { reasons, .. } = &rule.status {
            assert!(!reasons.is_empty(), "{}", rule.name);
            for reason in reasons {
                let precise = (reason.starts_with("event types `")
                    && reason.ends_with("` are not captured"))
                    || (reason.starts_with("field `")
                        && reason.ends_with("` is not supplied by this sensor"));
                assert!(precise, "rule `{}`: imprecise reason `{reason}`", rule.name);
            }
        }
    }
    report
}

#[test]
fn stable_rules_load() {
    let report = assert_loads(&["falco_rules.yaml"], 25, 8);
    // Every stable rule on execve/chmod/mount/setuid families that needs only supplied fields.
    let compiled: Vec<&str> = report
        .rules
        .iter()
        .filter(|r| matches!(r.status, RuleStatus::Compiled { .. }))
        .map(|r| r.name.as_str())
        .collect();
    assert_eq!(
        compiled,
        [
            "Run shell untrusted",
            "System user interactive",
            "Terminal shell in container",
            "Netcat Remote Code Execution in Container",
            "Search Private Keys or Passwords",
            "Remove Bulk Data from Disk",
            "Find AWS Credentials",
            "Execution from /dev/shm",
        ]
    );
    // The execve-only stable rules that do not compile need fields the sensor lacks.
    for (rule, field) in [
        (
            "Debugfs Launched in Privileged Container",
            "container.privileged",
        ),
        (
            "Drop and execute new binary in container",
            "proc.is_exe_upper_layer",
        ),
        (
            "Fileless execution via memfd_create",
            "proc.is_exe_from_memfd",
        ),
    ] {
        let status = &report
            .rules
            .iter()
            .find(|r| r.name == rule)
            .expect("rule present")
            .status;
        assert_eq!(
            status,
            &RuleStatus::Skipped {
                reasons: vec![format!("field `{field}` is not supplied by this sensor")],
                silent: false
            }
        );
    }
}

#[test]
fn incubating_rules_load() {
    let report = assert_loads(&["falco-incubating_rules.yaml"], 31, 9);
    let setuid = report
        .rules
        .iter()
        .find(|r| r.name == "Non sudo setuid")
        .expect("rule present");
    assert_eq!(setuid.event_types, ["setuid"]);
    let chmod = report
        .rules
        .iter()
        .find(|r| r.name == "Set Setuid or Setgid bit")
        .expect("rule present");
    assert_eq!(chmod.event_types, ["chmod", "fchmod", "fchmodat"]);
}

#[test]
fn sandbox_rules_load() {
    assert_loads(&["falco-sandbox_rules.yaml"], 37, 13);
}

#[test]
fn stacked_rules_load() {
    assert_loads(
        &[
            "falco_rules.yaml",
            "falco-incubating_rules.yaml",
            "falco-sandbox_rules.yaml",
        ],
        93,
        30,
    );
}
