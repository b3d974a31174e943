//! Property: the kernel filter never drops an event a rule matches. Random rules (macros,
//! lists, `and`/`or`/`not`, string, number and `exists` checks, `evt.type` checks) over a
//! handful of fields, an oracle that lowers some fields exactly, some inexactly and some
//! not at all, and random events: filter-then-match equals match.

use std::fmt;
use std::hash::{Hash, Hasher};
use std::sync::{Arc, OnceLock};

use proptest::prelude::*;
use sensor_rules::fields::{ArgSpec, Shape};
use sensor_rules::kernel_filter::{Atom, Budget, Lowered};
use sensor_rules::{
    Event, EventTypeId, FieldArg, FieldId, FieldRef, FieldRegistry, FieldType, MapEvent, MatchMode,
    RuleSource, RulesetBuilder,
};

const NAMES: &[&str] = &["a", "b", "sh", "nc"];
const PATHS: &[&str] = &["/etc/x", "/etc/ssh/y", "/usr/bin/a", "/tmp", "/etcx"];
const NUMBERS: &[i64] = &[-2, 0, 1, 5];
const TYPES: &[&str] = &["execve", "chmod", "clone"];

fn pick<T: Clone + std::fmt::Debug + 'static>(items: &'static [T]) -> impl Strategy<Value = T> {
    prop::sample::select(items)
}

fn set(items: &'static [&'static str]) -> impl Strategy<Value = String> {
    prop::sample::subsequence(items, 1..=items.len()).prop_map(|items| items.join(", "))
}

fn leaf() -> impl Strategy<Value = String> {
    let str_field = || pick(&["proc.name", "proc.pname", "fd.name", "evt.res"][..]);
    let value = || {
        pick(
            &[
                "a", "b", "sh", "/etc", "/etc/x", "/tmp", "SUCCESS", "ENOENT",
            ][..],
        )
    };
    prop_oneof![
        (
            str_field(),
            pick(&["=", "!=", "startswith", "contains"][..]),
            value()
        )
            .prop_map(|(f, op, v)| format!("{f} {op} {v}")),
        (str_field(), set(NAMES)).prop_map(|(f, s)| format!("{f} in ({s})")),
        (str_field(), set(PATHS)).prop_map(|(f, s)| format!("{f} pmatch ({s})")),
        (
            pick(&["proc.pid", "evt.rawres"][..]),
            pick(&["=", "!=", "<", ">"][..]),
            pick(NUMBERS)
        )
            .prop_map(|(f, op, v)| format!("{f} {op} {v}")),
        pick(&["proc.pid", "evt.rawres"][..]).prop_map(|f| format!("{f} in (0, 5)")),
        pick(&["fd.name", "proc.pid", "proc.pname"][..]).prop_map(|f| format!("{f} exists")),
        set(TYPES).prop_map(|s| format!("evt.type in ({s})")),
        pick(TYPES).prop_map(|t| format!("evt.type != {t}")),
        Just("proc.name in (names)".to_string()),
        Just("m1".to_string()),
        Just("m2".to_string()),
        Just("evt.num = 0".to_string()),
    ]
}

fn condition() -> impl Strategy<Value = String> {
    leaf().prop_recursive(4, 24, 3, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 2..4)
                .prop_map(|c| format!("({})", c.join(" and "))),
            prop::collection::vec(inner.clone(), 2..4)
                .prop_map(|c| format!("({})", c.join(" or "))),
            inner.prop_map(|c| format!("not ({c})")),
        ]
    })
}

fn rules_text(macros: &(String, String), rules: &[(Option<String>, String)]) -> String {
    let mut text = format!(
        "- list: names\n  items: [sh, nc]\n- macro: m1\n  condition: {}\n- macro: m2\n  condition: {}\n",
        macros.0, macros.1
    );
    for (index, (types, condition)) in rules.iter().enumerate() {
        let condition = match types {
            Some(types) => format!("evt.type in ({types}) and {condition}"),
            None => condition.clone(),
        };
        text += &format!(
            "- rule: r{index}\n  desc: d\n  condition: {condition}\n  output: o\n  priority: WARNING\n"
        );
    }
    text
}

#[derive(Clone, Debug)]
struct EventSpec {
    event_type: &'static str,
    name: Option<&'static str>,
    pname: Option<&'static str>,
    fd: Option<&'static str>,
    pid: Option<i64>,
    rawres: Option<i64>,
}

fn event() -> impl Strategy<Value = EventSpec> {
    let names = &["a", "b", "sh", "nc", "/etc", "SUCCESS"][..];
    (
        pick(TYPES),
        prop::option::of(pick(names)),
        prop::option::of(pick(names)),
        prop::option::of(pick(PATHS)),
        prop::option::of(pick(NUMBERS)),
        prop::option::of(pick(NUMBERS)),
    )
        .prop_map(|(event_type, name, pname, fd, pid, rawres)| EventSpec {
            event_type,
            name,
            pname,
            fd,
            pid,
            rawres,
        })
}

/// The default registry plus `fd.name`, which this sensor adds for opens.
fn registry() -> Arc<FieldRegistry> {
    static REGISTRY: OnceLock<Arc<FieldRegistry>> = OnceLock::new();
    REGISTRY
        .get_or_init(|| {
            let mut registry = FieldRegistry::sensor_default();
            if registry.by_name("fd.name").is_none() {
                registry.add_field(
                    "fd.name",
                    FieldType::String,
                    ArgSpec::NoArg,
                    Shape::Scalar,
                    "test field",
                );
            }
            Arc::new(registry)
        })
        .clone()
}

fn map_event(spec: &EventSpec) -> MapEvent {
    let mut event = MapEvent::with_registry(spec.event_type, registry());
    let mut set = |name: &str, value: Option<sensor_rules::event::OwnedValue>| {
        if let Some(value) = value {
            event.set(name, value).expect("test fields resolve");
        }
    };
    set("proc.name", spec.name.map(Into::into));
    set("proc.pname", spec.pname.map(Into::into));
    set("fd.name", spec.fd.map(Into::into));
    set("proc.pid", spec.pid.map(Into::into));
    set("evt.rawres", spec.rawres.map(Into::into));
    event
}

/// How this test's kernel evaluates an atom: exactly, or with slack tied to another field
/// of the event so that inexact atoms really differ from the check on some events.
#[derive(Clone, Copy, Debug)]
enum Kernel<'r> {
    Exact(Atom<'r>),
    /// The check, or `proc.pid` is present: implied by the check.
    Wider(Atom<'r>),
    /// The check and `proc.pid` is present: implies the check.
    Narrower(Atom<'r>),
}

impl<'r> Kernel<'r> {
    fn parts(&self) -> (u8, &Atom<'r>) {
        match self {
            Kernel::Exact(atom) => (0, atom),
            Kernel::Wider(atom) => (1, atom),
            Kernel::Narrower(atom) => (2, atom),
        }
    }

    fn eval(&self, event: &MapEvent) -> bool {
        let pid = FieldRef::new(FieldId::PROC_PID, FieldArg::None, "proc.pid");
        let slack = event.field(&pid).is_some();
        match self {
            Kernel::Exact(atom) => atom.matches(event),
            Kernel::Wider(atom) => atom.matches(event) || slack,
            Kernel::Narrower(atom) => atom.matches(event) && slack,
        }
    }
}

impl fmt::Display for Kernel<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Kernel::Exact(atom) => write!(f, "{atom}"),
            Kernel::Wider(atom) => write!(f, "({atom} or proc.pid exists)"),
            Kernel::Narrower(atom) => write!(f, "({atom} and proc.pid exists)"),
        }
    }
}

impl PartialEq for Kernel<'_> {
    fn eq(&self, other: &Self) -> bool {
        self.parts() == other.parts()
    }
}

impl Eq for Kernel<'_> {}

impl Hash for Kernel<'_> {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.parts().hash(state);
    }
}

fn oracle<'r>(_: EventTypeId, atom: &Atom<'r>) -> Option<Lowered<Kernel<'r>>> {
    match atom.field().name() {
        "proc.name" | "evt.rawres" | "evt.res" => Some(Lowered::Exact(Kernel::Exact(*atom))),
        "fd.name" => Some(Lowered::Implied(Kernel::Wider(*atom))),
        "proc.pname" => Some(Lowered::Implying(Kernel::Narrower(*atom))),
        // proc.pid: beyond this kernel.
        _ => None,
    }
}

/// Cases per run: 256, or `SENSOR_RULES_FUZZ_CASES` for a deeper run.
fn cases(default: u32) -> u32 {
    std::env::var("SENSOR_RULES_FUZZ_CASES")
        .ok()
        .and_then(|value| value.parse().ok())
        .unwrap_or(default)
}

proptest! {
    #![proptest_config(ProptestConfig { cases: cases(256), ..ProptestConfig::default() })]

    #[test]
    fn filter_then_match_is_match(
        macros in (condition(), condition()),
        rules in prop::collection::vec((prop::option::of(set(TYPES)), condition()), 1..4),
        events in prop::collection::vec(event(), 1..24),
        budget in prop::sample::select(&[(2, 1), (2, 2), (3, 3), (16, 4)][..]),
    ) {
        let text = rules_text(&macros, &rules);
        let compiled = RulesetBuilder::new()
            .registry(registry())
            .source(RuleSource::new("random.yaml", text.clone()))
            .build();
        prop_assume!(!compiled.report.has_errors());
        // Tight budgets exercise every widening.
        let budget = Budget { max_clauses: budget.0, max_literals: budget.1 };
        let filter = compiled.ruleset.kernel_filter_within(budget, oracle);
        for spec in &events {
            let event = map_event(spec);
            let matched = compiled.ruleset.evaluate(&event, MatchMode::All);
            if !matched.is_empty() {
                prop_assert!(
                    filter.keeps(&event, |kernel, event| kernel.eval(event)),
                    "dropped {spec:?} matched by {:?}\nrules:\n{text}\nfilter:\n{}",
                    matched.iter().map(|r| r.name()).collect::<Vec<_>>(),
                    filter.to_string(),
                );
            }
        }
    }
}
