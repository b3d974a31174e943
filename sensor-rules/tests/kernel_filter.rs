//! The kernel filter derived from compiled rules: per event type, a predicate over atoms an
//! oracle says the kernel can evaluate, that never rejects an event some rule matches.

use std::sync::Arc;
use std::time::{Duration, Instant};

use sensor_rules::fields::{ArgSpec, Shape, FALCO_EVENT_TYPES};
use sensor_rules::kernel_filter::{Atom, AtomTest, KeepAllCause, Lowered, TypeFilter};
use sensor_rules::{
    Compiled, EventTypeId, FieldId, FieldRegistry, FieldType, MapEvent, MatchMode, RuleSource,
    Ruleset, RulesetBuilder,
};

const STABLE: &str = include_str!("../../conformance/falco-rules/falco_rules.yaml");
const INCUBATING: &str = include_str!("../../conformance/falco-rules/falco-incubating_rules.yaml");
const SANDBOX: &str = include_str!("../../conformance/falco-rules/falco-sandbox_rules.yaml");

fn build(yaml: &str) -> Compiled {
    let compiled = RulesetBuilder::new()
        .source(RuleSource::new("kernel_filter.yaml", yaml))
        .build();
    assert!(!compiled.report.has_errors(), "{}", compiled.report);
    compiled
}

fn rule(name: &str, condition: &str) -> String {
    format!(
        "- rule: {name}\n  desc: d\n  condition: {condition}\n  output: o\n  priority: WARNING\n"
    )
}

fn id(name: &str) -> EventTypeId {
    EventTypeId::from_name(name).expect("known event type")
}

/// A kernel that evaluates every check on the listed fields exactly, and nothing else.
fn exact_on<'r>(
    fields: &'r [&'r str],
) -> impl FnMut(EventTypeId, &Atom<'r>) -> Option<Lowered<Atom<'r>>> + 'r {
    move |_, atom| {
        fields
            .contains(&atom.field().name())
            .then_some(Lowered::Exact(*atom))
    }
}

/// The clauses of a filtered type, rendered: `(literals, rules)`.
fn clauses(filter: Option<&TypeFilter<Atom<'_>>>) -> Vec<(Vec<String>, Vec<String>)> {
    match filter {
        Some(TypeFilter::KeepWhen(clauses)) => clauses
            .iter()
            .map(|clause| {
                let mut literals: Vec<String> =
                    clause.literals.iter().map(ToString::to_string).collect();
                literals.sort();
                (literals, clause.rules.clone())
            })
            .collect(),
        other => panic!("expected a filtered type, got {other:?}"),
    }
}

fn keeps(ruleset: &Ruleset, fields: &[&str], event: &MapEvent) -> bool {
    ruleset
        .kernel_filter(exact_on(fields))
        .keeps(event, |atom, event| atom.matches(event))
}

#[test]
fn a_mode_bit_check_becomes_the_clause() {
    let compiled = build(&rule(
        "Setuid",
        "evt.type = chmod and evt.arg.mode contains S_ISUID and proc.cmdline contains make",
    ));
    let filter = compiled.ruleset.kernel_filter(exact_on(&["evt.arg.mode"]));
    assert_eq!(
        clauses(filter.get(id("chmod"))),
        [(
            vec!["evt.arg.mode contains S_ISUID".to_string()],
            vec!["Setuid".to_string()]
        )]
    );
    // Only chmod is evaluated; everything else is apart, not "filtered".
    assert_eq!(filter.iter().count(), 1);
    assert!(filter.without_rules().contains(id("execve")));
    assert!(filter.get(id("execve")).is_none());
}

#[test]
fn two_rules_give_two_clauses_each_naming_its_rule() {
    let yaml = rule("Netcat", "evt.type = execve and proc.name = nc")
        + &rule("Shell", "evt.type = execve and proc.name in (bash, sh)");
    let compiled = build(&yaml);
    let filter = compiled.ruleset.kernel_filter(exact_on(&["proc.name"]));
    let mut got = clauses(filter.get(id("execve")));
    got.sort();
    assert_eq!(
        got,
        [
            (
                vec!["proc.name = nc".to_string()],
                vec!["Netcat".to_string()]
            ),
            (
                vec!["proc.name in (bash, sh)".to_string()],
                vec!["Shell".to_string()]
            ),
        ]
    );
    let text = filter.to_string();
    assert!(text.contains("execve: keep when"), "{text}");
    assert!(text.contains("proc.name = nc  <- Netcat"), "{text}");
}

#[test]
fn negation_of_an_exact_atom_is_the_negated_atom() {
    let compiled = build(&rule(
        "Not make",
        "evt.type = execve and not proc.name = make",
    ));
    let filter = compiled.ruleset.kernel_filter(exact_on(&["proc.name"]));
    assert_eq!(
        clauses(filter.get(id("execve"))),
        [(
            vec!["not proc.name = make".to_string()],
            vec!["Not make".to_string()]
        )]
    );
}

#[test]
fn negation_of_what_the_kernel_cannot_evaluate_keeps_everything() {
    let compiled = build(&rule(
        "Not cmdline",
        "evt.type = execve and not proc.cmdline contains x",
    ));
    let filter = compiled.ruleset.kernel_filter(exact_on(&["proc.name"]));
    assert_eq!(
        filter.get(id("execve")),
        Some(&TypeFilter::KeepAll {
            because: vec!["Not cmdline".to_string()],
            cause: KeepAllCause::NoPredicate,
        })
    );
    assert!(filter
        .to_string()
        .contains("execve: keep all: no kernel predicate from Not cmdline"));
}

#[test]
fn inexact_atoms_are_used_only_on_their_sound_side() {
    let yaml = rule("Pos", "evt.type = chmod and proc.name = a")
        + &rule("Neg", "evt.type = fchmod and not proc.name = a");
    let compiled = build(&yaml);
    // The check implies the kernel atom: fine where it is positive only.
    let filter = compiled
        .ruleset
        .kernel_filter(|_, atom| Some(Lowered::Implied(atom.to_string())));
    assert!(
        matches!(filter.get(id("chmod")), Some(TypeFilter::KeepWhen(c)) if c.len() == 1 && !c[0].literals[0].negated)
    );
    assert!(matches!(
        filter.get(id("fchmod")),
        Some(TypeFilter::KeepAll { .. })
    ));
    // The kernel atom implies the check: fine under `not` only.
    let filter = compiled
        .ruleset
        .kernel_filter(|_, atom| Some(Lowered::Implying(atom.to_string())));
    assert!(matches!(
        filter.get(id("chmod")),
        Some(TypeFilter::KeepAll { .. })
    ));
    assert!(
        matches!(filter.get(id("fchmod")), Some(TypeFilter::KeepWhen(c)) if c.len() == 1 && c[0].literals[0].negated)
    );
}

#[test]
fn exceptions_keep_what_the_rule_still_matches() {
    let yaml = "
- rule: Shell from nc
  desc: d
  condition: evt.type = execve and proc.name = sh
  output: o
  priority: WARNING
  exceptions:
    - name: parents
      fields: [proc.pname, proc.cmdline]
      comps: [=, contains]
      values:
        - [sshd, -c]
        - [cron, x]
";
    let compiled = build(yaml);
    // With the exception fields beyond the kernel, the exception is dropped (weakened).
    let filter = compiled.ruleset.kernel_filter(exact_on(&["proc.name"]));
    assert_eq!(
        clauses(filter.get(id("execve"))),
        [(
            vec!["proc.name = sh".to_string()],
            vec!["Shell from nc".to_string()]
        )]
    );
    // With all of them lowerable the exception stays a negation, and events are kept
    // exactly when the rule matches them.
    let all = ["proc.name", "proc.pname", "proc.cmdline"];
    for (pname, cmdline, matched) in [
        ("sshd", "sh -c ls", false),
        ("sshd", "sh", true),
        ("cron", "sh -c x", false),
        ("bash", "sh -c x", true),
    ] {
        let event = MapEvent::new("execve")
            .with("proc.name", "sh")
            .with("proc.pname", pname)
            .with("proc.cmdline", cmdline);
        assert_eq!(
            !compiled
                .ruleset
                .evaluate(&event, MatchMode::First)
                .is_empty(),
            matched
        );
        // Sound: kept whenever matched. (Not necessarily exact: the budget may widen.)
        if matched {
            assert!(keeps(&compiled.ruleset, &all, &event), "{pname} {cmdline}");
        }
    }
    let filter = compiled.ruleset.kernel_filter(exact_on(&all));
    let text = filter.to_string();
    assert!(text.contains("not proc.pname = sshd"), "{text}");
}

#[test]
fn macros_and_lists_are_expanded() {
    let yaml = "
- list: editors
  items: [vi, nano]
- macro: spawned
  condition: evt.type in (execve, execveat) and evt.res = SUCCESS
- macro: editing
  condition: proc.name in (editors) or fd.name startswith /etc
"
    .to_string()
        + &rule("Edit", "spawned and editing");
    let compiled = RulesetBuilder::new()
        .registry(registry())
        .source(RuleSource::new("r.yaml", yaml))
        .build();
    assert!(!compiled.report.has_errors(), "{}", compiled.report);
    let filter = compiled
        .ruleset
        .kernel_filter(exact_on(&["proc.name", "fd.name", "evt.res"]));
    for event_type in ["execve", "execveat"] {
        let mut got = clauses(filter.get(id(event_type)));
        got.sort();
        assert_eq!(
            got,
            [
                (
                    vec![
                        "evt.res = SUCCESS".to_string(),
                        "fd.name startswith /etc".to_string()
                    ],
                    vec!["Edit".to_string()]
                ),
                (
                    vec![
                        "evt.res = SUCCESS".to_string(),
                        "proc.name in (nano, vi)".to_string()
                    ],
                    vec!["Edit".to_string()]
                ),
            ]
        );
    }
}

#[test]
fn conditions_that_fold_to_false_contribute_nothing() {
    let yaml = "
- macro: never_true
  condition: (evt.num=0)
"
    .to_string()
        + &rule("Real", "evt.type = execve and proc.name = a")
        + &rule("Never", "evt.type = execve and never_true and proc.name = b")
        // Known false only per type: `evt.dir` is always `<`, so on chmod nothing is left.
        + &rule(
            "Typed",
            "evt.type in (execve, chmod) and (evt.type = execve and proc.name = c or evt.dir = >)",
        );
    let compiled = build(&yaml);
    let filter = compiled.ruleset.kernel_filter(exact_on(&["proc.name"]));
    let mut got = clauses(filter.get(id("execve")));
    got.sort();
    assert_eq!(
        got,
        [
            (vec!["proc.name = a".to_string()], vec!["Real".to_string()]),
            (vec!["proc.name = c".to_string()], vec!["Typed".to_string()]),
        ]
    );
    assert_eq!(
        filter.get(id("chmod")),
        Some(&TypeFilter::KeepWhen(Vec::new()))
    );
    assert!(filter
        .to_string()
        .contains("chmod: keep nothing: no rule evaluated on it can match"));
}

#[test]
fn a_type_whose_rules_use_no_lowerable_field_is_kept_whole() {
    let yaml = rule("A", "evt.type = execve and proc.cmdline contains x")
        + &rule("B", "evt.type = execve and proc.name = nc")
        + &rule("C", "evt.type = chmod and user.name = root");
    let compiled = build(&yaml);
    let filter = compiled.ruleset.kernel_filter(exact_on(&["proc.name"]));
    assert_eq!(
        filter.get(id("execve")),
        Some(&TypeFilter::KeepAll {
            because: vec!["A".to_string()],
            cause: KeepAllCause::NoPredicate,
        })
    );
    assert!(matches!(
        filter.get(id("chmod")),
        Some(TypeFilter::KeepAll { because, .. }) if because == &["C"]
    ));
}

#[test]
fn too_many_alternatives_widen_within_the_budget() {
    let mut yaml = String::new();
    for index in 0..40 {
        yaml += &rule(
            &format!("R{index}"),
            &format!("evt.type = execve and evt.res = SUCCESS and proc.name = p{index}"),
        );
    }
    let compiled = build(&yaml);
    // Atoms compare by identity (each rule has its own `evt.res` check); an oracle whose
    // kernel atoms compare by structure lets clauses of different rules share literals.
    let structural = |fields: &'static [&'static str]| {
        move |_: EventTypeId, atom: &Atom<'_>| {
            fields
                .contains(&atom.field().name())
                .then(|| Lowered::Exact(atom.to_string()))
        }
    };
    let filter = compiled
        .ruleset
        .kernel_filter(structural(&["proc.name", "evt.res"]));
    // Forty clauses share `evt.res = SUCCESS`: merged into it, naming every rule.
    let Some(TypeFilter::KeepWhen(clauses)) = filter.get(id("execve")) else {
        panic!("execve is filtered:\n{filter}");
    };
    assert_eq!(clauses.len(), 1);
    assert_eq!(clauses[0].literals.len(), 1);
    assert_eq!(clauses[0].literals[0].atom, "evt.res = SUCCESS");
    assert_eq!(clauses[0].rules.len(), 40);
    // Without a shared literal the only widening left is `true`.
    let filter = compiled.ruleset.kernel_filter(structural(&["proc.name"]));
    assert!(matches!(
        filter.get(id("execve")),
        Some(TypeFilter::KeepAll { because, cause: KeepAllCause::OverBudget }) if because.len() == 40
    ));
}

// Falco's own rules, with an oracle close to what an eBPF program can do.

fn registry() -> Arc<FieldRegistry> {
    let mut registry = FieldRegistry::sensor_default();
    for (name, field_type) in [
        ("fd.name", FieldType::String),
        ("fd.directory", FieldType::String),
        ("fd.filename", FieldType::String),
        ("fd.typechar", FieldType::String),
        ("fd.type", FieldType::String),
        ("fd.num", FieldType::Int64),
        ("fd.nameraw", FieldType::String),
        ("fd.l4proto", FieldType::String),
        ("fd.sip", FieldType::Ip),
        ("fd.snet", FieldType::IpNet),
        ("fd.sport", FieldType::Uint64),
        ("fd.ip", FieldType::Ip),
        ("fd.net", FieldType::IpNet),
        ("fd.rnet", FieldType::IpNet),
        ("fd.cip", FieldType::Ip),
        ("fd.cnet", FieldType::IpNet),
        ("fd.sip.name", FieldType::String),
        ("fd.cip.name", FieldType::String),
        ("fd.connected", FieldType::Bool),
        ("fd.name_changed", FieldType::Bool),
        ("evt.is_open_read", FieldType::Bool),
        ("evt.is_open_write", FieldType::Bool),
        ("evt.is_open_exec", FieldType::Bool),
        ("evt.buffer", FieldType::Bytes),
        ("container.privileged", FieldType::Bool),
        ("proc.is_vpgid_leader", FieldType::Bool),
    ] {
        if registry.by_name(name).is_none() {
            registry.add_field(
                name,
                field_type,
                ArgSpec::NoArg,
                Shape::Scalar,
                "test field",
            );
        }
    }
    Arc::new(registry)
}

/// Numeric checks on `evt.rawres` and `evt.arg.*`, string `=`/`in`/`startswith`/`pmatch` on
/// `evt.res`, `fd.name`, `fd.directory`, `proc.name` and `evt.arg.*`, `contains` on
/// `evt.arg.*` (mode bits).
fn realistic<'r>(_: EventTypeId, atom: &Atom<'r>) -> Option<Lowered<Atom<'r>>> {
    use sensor_rules::compiler::matchers::StrTest;
    let field = atom.field();
    let lowerable = match atom.test() {
        AtomTest::Num(_) => matches!(field.id, FieldId::EVT_RAWRES | FieldId::EVT_ARG),
        AtomTest::Str(
            StrTest::Eq(_) | StrTest::In(_) | StrTest::StartsWith(_) | StrTest::PMatch(_),
        ) => {
            matches!(
                field.name(),
                "evt.res" | "fd.name" | "fd.directory" | "proc.name"
            ) || field.id == FieldId::EVT_ARG
        }
        // Flag arguments rendered as `S_ISUID|S_IXUSR`: a bit test in the kernel.
        AtomTest::Str(StrTest::Contains(_)) => field.id == FieldId::EVT_ARG,
        _ => false,
    };
    lowerable.then_some(Lowered::Exact(*atom))
}

#[test]
fn falco_rules_analyse_fast_and_explain() {
    let compiled = RulesetBuilder::new()
        .registry(registry())
        .captured_event_types(FALCO_EVENT_TYPES.iter().copied())
        .source(RuleSource::new("falco_rules.yaml", STABLE))
        .source(RuleSource::new("falco-incubating_rules.yaml", INCUBATING))
        .source(RuleSource::new("falco-sandbox_rules.yaml", SANDBOX))
        .build();
    assert!(!compiled.report.has_errors(), "{}", compiled.report);
    assert!(compiled.report.compiled() > 50, "{}", compiled.report);

    let start = Instant::now();
    let filter = compiled.ruleset.kernel_filter(realistic);
    let elapsed = start.elapsed();
    let text = filter.to_string();
    println!("{text}\n(analysis took {elapsed:?})");
    // Generous for debug builds on a busy machine; release is far below.
    assert!(elapsed < Duration::from_secs(20), "took {elapsed:?}");

    // Every type with rules is accounted for, and apart from the types without.
    for (event_type, _) in filter.iter() {
        assert!(!filter.without_rules().contains(event_type));
        assert!(compiled
            .ruleset
            .candidates(Some(event_type))
            .next()
            .is_some());
    }
    // `Set Setuid or Setgid bit` is the one enabled rule on chmod: the kernel keeps the
    // chmods that set the bits, apart from the rule's exceptions by process name.
    let Some(TypeFilter::KeepWhen(chmod)) = filter.get(id("chmod")) else {
        panic!("chmod is filtered:\n{text}");
    };
    let chmod: Vec<String> = chmod.iter().map(ToString::to_string).collect();
    assert!(
        chmod
            .iter()
            .any(|clause| clause.contains("evt.arg.mode contains S_ISUID")),
        "{chmod:?}"
    );
    assert!(
        chmod
            .iter()
            .any(|clause| clause.contains("evt.arg.mode contains S_ISGID")),
        "{chmod:?}"
    );
    assert!(
        chmod
            .iter()
            .all(|clause| clause.ends_with("<- Set Setuid or Setgid bit")),
        "{chmod:?}"
    );
    // execve is watched by rules on `proc.cmdline`, `proc.args`, container fields ...:
    // some of them give no kernel predicate, so the kernel keeps every execve.
    assert!(matches!(
        filter.get(id("execve")),
        Some(TypeFilter::KeepAll {
            cause: KeepAllCause::NoPredicate,
            ..
        })
    ));
    // Types no rule looks at are listed apart.
    assert!(filter.without_rules().contains(id("read")));
    assert!(text.contains("other event types: no rule is evaluated on them"));
}
