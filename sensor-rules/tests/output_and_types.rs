//! Output templates (Falco's `%field` syntax) and the type checks of transformers and
//! field-to-field comparisons.

mod common;

use common::{build, find, status};
use sensor_rules::limits::MAX_OUTPUT_FIELD_WIDTH;
use sensor_rules::{MapEvent, RuleStatus};

fn rule_with_output(output: &str) -> String {
    format!(
        "- rule: R\n  desc: d\n  condition: evt.type = execve\n  output: '{}'\n  priority: INFO\n",
        output.replace('\'', "''")
    )
}

fn event() -> MapEvent {
    MapEvent::new("execve")
        .with("proc.name", "bash")
        .with("proc.aname", vec!["sshd", "systemd"])
        .with("k8s.pod.labels", vec!["app:web", "tier:front"])
        .with("proc.pid", 7i64)
}

fn render(output: &str) -> String {
    let compiled = build(&[("o.yaml", &rule_with_output(output))]);
    assert!(!compiled.report.has_errors(), "{}", compiled.report);
    let rule = compiled.ruleset.rule("R").expect("compiled");
    rule.render_output(&event())
}

#[test]
fn template_syntax() {
    assert_eq!(render("name=%proc.name"), "name=bash");
    assert_eq!(render("[%6proc.name]"), "[bash  ]");
    assert_eq!(render("[%2proc.name]"), "[ba]");
    assert_eq!(render("*starred %proc.name"), "starred bash");
    assert_eq!(render("%proc.name_suffix"), "bash_suffix");
    assert_eq!(render("%(proc.name)x"), "bashx");
    assert_eq!(render("%proc.pid%proc.name"), "7bash");
    assert_eq!(
        render("%tolower(proc.name) %basename(proc.name)"),
        "bash bash"
    );
    assert_eq!(render("missing=%proc.cwd"), "missing=<NA>");
    assert_eq!(
        render("ancestors=%proc.aname labels=%k8s.pod.labels"),
        "ancestors=sshd systemd labels=app:web,tier:front"
    );
}

#[test]
fn template_fields_in_json() {
    let compiled = build(&[(
        "o.yaml",
        &rule_with_output("%k8s.pod.labels %proc.aname %proc.pid %fd.name"),
    )]);
    let rule = compiled.ruleset.rule("R").expect("compiled");
    let alert = rule.render_alert(&event(), "h", 0);
    assert_eq!(alert.output_fields["k8s.pod.labels"], "app:web,tier:front");
    assert_eq!(alert.output_fields["proc.aname"], "sshd systemd");
    assert_eq!(alert.output_fields["proc.pid"], 7);
    assert!(alert.output_fields["fd.name"].is_null());
    let warning = find(
        &compiled.report,
        "output field `fd.name` is not supplied by this sensor; it prints <NA>",
    );
    assert_eq!(warning.position.to_string(), "o.yaml:4:51");
}

#[test]
fn template_errors() {
    let compiled = build(&[("o.yaml", &rule_with_output("ends with %"))]);
    let error = find(&compiled.report, "invalid formatting token `%`");
    assert_eq!(error.position.to_string(), "o.yaml:4:22");
    let compiled = build(&[("o.yaml", &rule_with_output("bad %fd.nmae"))]);
    find(&compiled.report, "unknown field `fd.nmae`");
    assert_eq!(status(&compiled.report, "R"), &RuleStatus::Failed);
    let compiled = build(&[("o.yaml", &rule_with_output("old %container.info x"))]);
    assert!(!compiled.report.has_errors());
    find(&compiled.report, "%container.info is deprecated");
    let rule = compiled.ruleset.rule("R").expect("compiled");
    assert_eq!(rule.render_output(&event()), "old  x");
}

#[test]
fn output_field_width_is_bounded() {
    // Every alert allocates the width: %4000000000proc.name would ask for gigabytes.
    let report = build(&[("w.yaml", &rule_with_output("x %4000000000proc.name"))]).report;
    let error = find(&report, "MAX_OUTPUT_FIELD_WIDTH");
    assert_eq!(error.position.to_string(), "w.yaml:4:14");
    assert!(
        error.message.starts_with(&format!(
            "output field width 4000000000 is more than the {MAX_OUTPUT_FIELD_WIDTH} allowed"
        )),
        "{error}"
    );
    assert_eq!(status(&report, "R"), &RuleStatus::Failed);
    let widest = format!("[%{MAX_OUTPUT_FIELD_WIDTH}proc.name]");
    assert_eq!(render(&widest).len(), MAX_OUTPUT_FIELD_WIDTH + 2);
}

#[test]
fn long_unknown_names_are_rejected_in_linear_time() {
    // Retrying every prefix of an unknown output token, and decoding the name once per
    // candidate for "did you mean", made these take minutes.
    let name = "a".repeat(200_000);
    let yaml = format!(
        "- rule: R\n  desc: d\n  condition: evt.type = execve and proc.{name} = x\n  output: '%proc.{name}'\n  priority: INFO\n"
    );
    let started = std::time::Instant::now();
    let report = build(&[("long.yaml", &yaml)]).report;
    assert!(
        started.elapsed() < std::time::Duration::from_secs(5),
        "took {:?}",
        started.elapsed()
    );
    assert_eq!(report.errors().count(), 2, "{report}");
    assert!(report
        .errors()
        .all(|e| e.message.starts_with("unknown field `proc.aaaa")));
}

fn failure(condition: &str) -> String {
    let yaml = format!(
        "- rule: R\n  desc: d\n  condition: '{}'\n  output: o\n  priority: INFO\n",
        condition.replace('\'', "''")
    );
    let report = build(&[("t.yaml", &yaml)]).report;
    assert_eq!(status(&report, "R"), &RuleStatus::Failed, "{report}");
    report
        .errors()
        .map(|e| e.message.clone())
        .collect::<Vec<_>>()
        .join("\n")
}

#[test]
fn transformer_and_comparison_type_errors() {
    assert!(failure("evt.type = execve and tolower(proc.pid) = 1")
        .contains("can't add field transformer: type 'int64' is not supported by 'tolower' transformer applied on field 'proc.pid'"));
    assert!(
        failure("evt.type = execve and proc.aname = val(proc.pname)")
            .contains("field 'proc.aname' doesn't support right-hand side fields")
    );
    assert!(failure("evt.type = execve and proc.name = val(proc.pid)")
        .contains("field 'proc.name' has type 'string' while the right-hand side field 'proc.pid' has incompatible type 'int64'"));
    assert!(
        failure("evt.type = execve and proc.name regex val(proc.pname)")
            .contains("operator 'regex' doesn't support right-hand side fields")
    );
    assert!(failure("evt.type = execve and tolower(proc.aname[2]) = x")
        .contains("does not support transformers"));
    assert!(failure("evt.type = execve and evt.failed = maybe")
        .contains("`maybe` is not a valid boolean value for field `evt.failed`"));
    assert!(failure("evt.type = execve and evt.failed contains x")
        .contains("'contains' operator not supported for boolean filters"));
    assert!(
        failure("evt.type = execve and proc.name startswith 1x and proc.name bcontains zz")
            .contains("hex strings only")
    );
    assert!(
        failure("evt.type = execve and proc.name = x and proc.aname[x] = y")
            .contains("must be a non-negative number")
    );
    assert!(failure("evt.type = execve and proc.name[1] = y").contains("does not take an argument"));
}

#[test]
fn unsupported_transformers_skip_the_rule() {
    let yaml = "- rule: R\n  desc: d\n  condition: evt.type = execve and join(\",\", (proc.name, proc.pname)) = x\n  output: o\n  priority: INFO\n";
    let report = build(&[("t.yaml", yaml)]).report;
    let RuleStatus::Skipped { reasons, .. } = status(&report, "R") else {
        panic!("{report}")
    };
    assert!(
        reasons[0].starts_with("transformer `join` is not supported by this sensor"),
        "{reasons:?}"
    );
}

#[test]
fn map_event_rejects_bad_names() {
    let mut event = MapEvent::new("execve");
    let error = event.set("fd.name", "x").expect_err("not supplied");
    assert!(error
        .to_string()
        .contains("`fd.name` is not a field this sensor supplies"));
    let error = event.set("k8s.pod.label", "x").expect_err("needs a key");
    assert!(error.to_string().contains("needs an argument"));
}
