//! `Ruleset::constants_compared_with`: the constants the compiled rules compare a field
//! with (what a sensor resolves for `fd.sip.name` and its siblings), after macros, lists
//! and exceptions; only rules that compiled and run count.

use std::collections::BTreeSet;
use std::path::PathBuf;
use std::sync::Arc;

use sensor_rules::fields::{ArgSpec, Shape, SENSOR_EVENT_TYPES};
use sensor_rules::{
    CompileOptions, Compiled, FieldRegistry, FieldType, RuleSource, RuleStatus, RulesetBuilder,
};

/// The default registry plus `fd.sip.name` (a String field, as Falco has it) and a few
/// network fields Falco's rules use. `fd.rip.name` is left out: rules using it are skipped.
fn registry() -> Arc<FieldRegistry> {
    let mut registry = FieldRegistry::sensor_default();
    for (name, field_type) in [
        ("fd.sip.name", FieldType::String),
        ("fd.sip", FieldType::Ip),
        ("fd.snet", FieldType::IpNet),
        ("fd.name", FieldType::String),
        ("fd.typechar", FieldType::String),
        ("fd.type", FieldType::String),
        ("fd.l4proto", FieldType::String),
    ] {
        registry.add_field(
            name,
            field_type,
            ArgSpec::NoArg,
            Shape::Scalar,
            "test field",
        );
    }
    Arc::new(registry)
}

fn captured() -> Vec<String> {
    SENSOR_EVENT_TYPES
        .iter()
        .copied()
        .chain(["connect", "sendto", "sendmsg"])
        .map(String::from)
        .collect()
}

fn build(yaml: &str) -> Compiled {
    let compiled = RulesetBuilder::new()
        .registry(registry())
        .captured_event_types(captured())
        .source(RuleSource::new("constants.yaml", yaml))
        .build();
    assert!(!compiled.report.has_errors(), "{}", compiled.report);
    compiled
}

fn set(items: &[&str]) -> BTreeSet<String> {
    items.iter().map(|item| item.to_string()).collect()
}

fn status<'c>(compiled: &'c Compiled, rule: &str) -> &'c RuleStatus {
    &compiled
        .report
        .rules
        .iter()
        .find(|report| report.name == rule)
        .unwrap_or_else(|| panic!("no rule `{rule}`"))
        .status
}

const K8S: &str = r#"
- list: k8s_hosts
  items: [kubernetes.default.svc.cluster.local, kubernetes.default]

- macro: k8s_api_server
  condition: (fd.sip.name in (k8s_hosts))

- rule: Contact K8S API
  desc: d
  condition: evt.type = connect and k8s_api_server and proc.name = curl
  output: o %fd.name
  priority: NOTICE
"#;

#[test]
fn names_from_a_macro_and_a_list() {
    let compiled = build(K8S);
    assert!(matches!(
        status(&compiled, "Contact K8S API"),
        RuleStatus::Compiled { enabled: true }
    ));
    let ruleset = &compiled.ruleset;
    assert_eq!(
        ruleset.constants_compared_with("fd.sip.name"),
        set(&["kubernetes.default", "kubernetes.default.svc.cluster.local"])
    );
    // Each field has its own constants.
    assert_eq!(ruleset.constants_compared_with("proc.name"), set(&["curl"]));
    assert_eq!(
        ruleset.constants_compared_with("evt.type"),
        set(&["connect"])
    );
    assert!(ruleset.constants_compared_with("fd.name").is_empty());
    assert!(ruleset.constants_compared_with("fd.sip").is_empty());
    assert!(ruleset.constants_compared_with("no.such.field").is_empty());
    // The same per rule.
    let rule = ruleset.rule("Contact K8S API").expect("compiled");
    assert_eq!(
        rule.constants_compared_with("fd.sip.name"),
        Some(&set(&[
            "kubernetes.default",
            "kubernetes.default.svc.cluster.local"
        ]))
    );
}

#[test]
fn every_operator_with_constants_counts_and_no_constant_leaks_to_another_field() {
    let compiled = build(
        r#"
- list: pool_domains
  items: [pool.example.com, "other.example.org"]
- rule: operators
  desc: d
  condition: >
    evt.type in (connect, sendto)
    and (fd.sip.name = a.example.com
         or fd.sip.name != b.example.com
         or fd.sip.name in (pool_domains, c.example.com)
         or fd.sip.name intersects (d.example.com)
         or fd.sip.name pmatch (/e)
         or fd.sip.name startswith f.
         or fd.sip.name endswith .g
         or fd.sip.name contains h
         or fd.sip.name icontains I
         or fd.sip.name glob "*.j"
         or fd.sip.name regex "k.*"
         or fd.sip.name = anyof (l.example.com, m.example.com)
         or fd.sip.name startswith allof (n., o.)
         or fd.name = p.example.com
         or fd.sip = 10.0.0.1
         or fd.snet in (192.168.0.0/16))
  output: o
  priority: NOTICE
"#,
    );
    let ruleset = &compiled.ruleset;
    assert_eq!(
        ruleset.constants_compared_with("fd.sip.name"),
        set(&[
            "*.j",
            ".g",
            "/e",
            "I",
            "a.example.com",
            "b.example.com",
            "c.example.com",
            "d.example.com",
            "f.",
            "h",
            "k.*",
            "l.example.com",
            "m.example.com",
            "n.",
            "o.",
            "other.example.org",
            "pool.example.com",
        ])
    );
    assert_eq!(
        ruleset.constants_compared_with("fd.name"),
        set(&["p.example.com"])
    );
    assert_eq!(
        ruleset.constants_compared_with("fd.sip"),
        set(&["10.0.0.1"])
    );
    assert_eq!(
        ruleset.constants_compared_with("fd.snet"),
        set(&["192.168.0.0/16"])
    );
    assert_eq!(
        ruleset.constants_compared_with("evt.type"),
        set(&["connect", "sendto"])
    );
}

#[test]
fn quoted_and_unquoted_constants_are_the_text_compared() {
    let compiled = build(
        r#"
- rule: quoting
  desc: d
  condition: >
    evt.type = connect
    and (fd.sip.name = "q.example.com"
         or fd.sip.name = q.example.com
         or fd.sip.name in ('q.example.com', "r\x2eexample.com", "with space")
         or fd.sip.name = 'tab\there')
  output: o
  priority: NOTICE
"#,
    );
    assert_eq!(
        compiled.ruleset.constants_compared_with("fd.sip.name"),
        set(&["q.example.com", "r.example.com", "tab\there", "with space"])
    );
}

#[test]
fn skipped_failed_and_disabled_rules_do_not_count() {
    let compiled = RulesetBuilder::new()
        .registry(registry())
        .captured_event_types(captured())
        .source(RuleSource::new(
            "constants.yaml",
            r#"
- rule: compiles
  desc: d
  condition: evt.type = connect and fd.sip.name = kept.example.com
  output: o
  priority: NOTICE

# `fd.rip.name` is a Falco field this sensor does not supply: its checks are built
# (`fd.sip.name` first), then the rule is skipped.
- rule: unsupported field
  desc: d
  condition: evt.type = connect and fd.sip.name = unsupported.example.com and fd.rip.name = x.example.com
  output: o
  priority: NOTICE

- rule: uncaptured event type
  desc: d
  condition: evt.type = recvfrom and fd.sip.name = uncaptured.example.com
  output: o
  priority: NOTICE

- rule: unknown field
  desc: d
  condition: evt.type = connect and fd.sip.name = unknown.example.com and fd.no_such_field = 1
  output: o
  priority: NOTICE
  skip-if-unknown-filter: true

- rule: failed
  desc: d
  condition: evt.type = connect and fd.sip.name = failed.example.com and fd.sip.name regex "("
  output: o
  priority: NOTICE

- rule: disabled
  desc: d
  condition: evt.type = connect and fd.sip.name = disabled.example.com
  output: o
  priority: NOTICE
  enabled: false
"#,
        ))
        .build();
    assert!(matches!(
        status(&compiled, "compiles"),
        RuleStatus::Compiled { enabled: true }
    ));
    for skipped in [
        "unsupported field",
        "uncaptured event type",
        "unknown field",
    ] {
        assert!(
            matches!(status(&compiled, skipped), RuleStatus::Skipped { .. }),
            "{skipped}: {:?}",
            status(&compiled, skipped)
        );
    }
    assert!(matches!(status(&compiled, "failed"), RuleStatus::Failed));
    assert!(matches!(
        status(&compiled, "disabled"),
        RuleStatus::Compiled { enabled: false }
    ));
    let ruleset = &compiled.ruleset;
    assert_eq!(
        ruleset.constants_compared_with("fd.sip.name"),
        set(&["kept.example.com"])
    );
    assert!(ruleset.constants_compared_with("fd.rip.name").is_empty());
    // A disabled rule never runs, so the ruleset leaves it out; the rule itself knows.
    assert_eq!(
        ruleset
            .rule("disabled")
            .and_then(|rule| rule.constants_compared_with("fd.sip.name")),
        Some(&set(&["disabled.example.com"]))
    );
}

#[test]
fn exception_values_count() {
    let compiled = build(
        r#"
- rule: with exceptions
  desc: d
  condition: evt.type = connect and fd.sip.name = watched.example.com
  output: o
  priority: NOTICE
  exceptions:
    - name: known_clients
      fields: [fd.sip.name, proc.name]
      comps: [=, in]
      values:
        - [allowed.example.com, [curl, wget]]
        - ["quoted allowed.example.org", [apt]]
    - name: known_hosts
      fields: fd.sip.name
      comps: in
      values: [mirror.example.net, backup.example.net]
"#,
    );
    let ruleset = &compiled.ruleset;
    assert_eq!(
        ruleset.constants_compared_with("fd.sip.name"),
        set(&[
            "allowed.example.com",
            "backup.example.net",
            "mirror.example.net",
            "quoted allowed.example.org",
            "watched.example.com",
        ])
    );
    assert_eq!(
        ruleset.constants_compared_with("proc.name"),
        set(&["apt", "curl", "wget"])
    );
}

#[test]
fn field_comparisons_transformers_and_folded_checks_count_nothing() {
    let compiled = build(
        r#"
- macro: never_true
  condition: (evt.num=0)
- rule: no constants
  desc: d
  condition: >
    evt.type = connect
    and (fd.sip.name = val(fd.name)
         or tolower(fd.sip.name) = lower.example.com
         or (never_true and fd.sip.name = dead.example.com)
         or fd.sip.name = live.example.com)
  output: o
  priority: NOTICE
"#,
    );
    let ruleset = &compiled.ruleset;
    assert_eq!(
        ruleset.constants_compared_with("fd.sip.name"),
        set(&["live.example.com"])
    );
    assert!(ruleset.constants_compared_with("fd.name").is_empty());
    assert!(ruleset.constants_compared_with("evt.num").is_empty());
}

#[test]
fn arguments_gather_under_the_registry_name() {
    let compiled = build(
        r#"
- rule: ancestors
  desc: d
  condition: evt.type = execve and (proc.aname[2] = sshd or proc.aname in (systemd, init))
  output: o
  priority: NOTICE
"#,
    );
    assert_eq!(
        compiled.ruleset.constants_compared_with("proc.aname"),
        set(&["init", "sshd", "systemd"])
    );
}

#[test]
fn falco_stable_rules_name_the_kubernetes_api_server() {
    let path = PathBuf::from(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../conformance/falco-rules/falco_rules.yaml"
    ));
    let source = RuleSource::from_file(&path).expect("conformance file is readable");
    let options = CompileOptions {
        registry: registry(),
        captured_event_types: captured(),
        ..CompileOptions::default()
    };
    let compiled = RulesetBuilder::new()
        .options(options)
        .source(source)
        .build();
    assert!(!compiled.report.has_errors(), "{}", compiled.report);
    assert!(matches!(
        status(&compiled, "Contact K8S API Server From Container"),
        RuleStatus::Compiled { enabled: true }
    ));
    let names = compiled.ruleset.constants_compared_with("fd.sip.name");
    assert!(
        names.contains("kubernetes.default.svc.cluster.local"),
        "{names:?}"
    );

    // Without `fd.sip.name` the rule is skipped and the name is not asked for.
    let compiled = RulesetBuilder::new()
        .captured_event_types(captured())
        .source(RuleSource::from_file(&path).expect("conformance file is readable"))
        .build();
    assert!(matches!(
        status(&compiled, "Contact K8S API Server From Container"),
        RuleStatus::Skipped { .. }
    ));
    assert!(compiled
        .ruleset
        .constants_compared_with("fd.sip.name")
        .is_empty());
}
