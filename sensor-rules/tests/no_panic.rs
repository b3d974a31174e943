//! Property tests: the condition parser, the YAML loader and the whole compile-and-evaluate
//! path never panic, whatever the input: arbitrary text, mutations of Falco's own rules, and
//! graphs of macros and lists that expand exponentially.

use std::sync::OnceLock;

use proptest::prelude::*;
use sensor_rules::condition::{parse_condition, SourceId};
use sensor_rules::{MapEvent, MatchMode, RuleSource, RulesetBuilder};

const STABLE: &str = include_str!("../../conformance/falco-rules/falco_rules.yaml");
const SANDBOX: &str = include_str!("../../conformance/falco-rules/falco-sandbox_rules.yaml");

/// Cases per property: `default`, or `SENSOR_RULES_FUZZ_CASES` for a deeper run.
fn cases(default: u32) -> u32 {
    std::env::var("SENSOR_RULES_FUZZ_CASES")
        .ok()
        .and_then(|value| value.parse().ok())
        .unwrap_or(default)
}

/// Every condition of the conformance files, as written.
fn real_conditions() -> &'static [String] {
    static CONDITIONS: OnceLock<Vec<String>> = OnceLock::new();
    CONDITIONS.get_or_init(|| {
        let mut out = Vec::new();
        for text in [STABLE, SANDBOX] {
            let documents =
                sensor_rules::yaml::parse_documents(text).expect("conformance YAML parses");
            for item in documents.iter().filter_map(|d| d.as_sequence()).flatten() {
                if let Some(condition) = item.get("condition").and_then(|c| c.as_scalar()) {
                    out.push(condition.to_string());
                }
            }
        }
        out
    })
}

#[derive(Clone, Debug)]
enum Mutation {
    Insert(usize, char),
    Delete(usize),
    Replace(usize, char),
    Truncate(usize),
    Duplicate(usize, usize),
}

fn token_char() -> impl Strategy<Value = char> {
    prop_oneof![
        prop::sample::select(vec![
            '(', ')', '"', '\'', '\\', ',', '=', '!', '<', '>', '[', ']', ' ', '\n', '%', '.', 'x',
            '0'
        ]),
        any::<char>(),
    ]
}

fn mutation() -> impl Strategy<Value = Mutation> {
    prop_oneof![
        (any::<usize>(), token_char()).prop_map(|(at, c)| Mutation::Insert(at, c)),
        any::<usize>().prop_map(Mutation::Delete),
        (any::<usize>(), token_char()).prop_map(|(at, c)| Mutation::Replace(at, c)),
        any::<usize>().prop_map(Mutation::Truncate),
        (any::<usize>(), any::<usize>()).prop_map(|(a, b)| Mutation::Duplicate(a, b)),
    ]
}

fn apply(text: &str, mutations: &[Mutation]) -> String {
    let mut chars: Vec<char> = text.chars().collect();
    for mutation in mutations {
        let len = chars.len().max(1);
        match *mutation {
            Mutation::Insert(at, c) => chars.insert(at % (chars.len() + 1), c),
            Mutation::Delete(at) if !chars.is_empty() => {
                chars.remove(at % len);
            }
            Mutation::Replace(at, c) if !chars.is_empty() => chars[at % len] = c,
            Mutation::Truncate(at) => chars.truncate(at % (chars.len() + 1)),
            Mutation::Duplicate(a, b) if !chars.is_empty() => {
                let (start, end) = ((a % len).min(b % len), (a % len).max(b % len));
                let copy: Vec<char> = chars[start..end].to_vec();
                chars.splice(end..end, copy);
            }
            _ => {}
        }
    }
    chars.into_iter().collect()
}

fn sample_event() -> MapEvent {
    MapEvent::new("execve")
        .with("proc.name", "bash")
        .with("proc.cmdline", "bash -c id")
        .with("proc.pid", 7i64)
        .with("proc.aname", vec!["sshd", "systemd"])
        .with("k8s.pod.labels", vec!["app:x"])
        .with("user.uid", 0u32)
        .with("container.id", "host")
}

/// Loads `yaml` as a rules file and evaluates an event; only panics matter.
fn load_and_run(yaml: &str) {
    let compiled = RulesetBuilder::new()
        .source(RuleSource::new("fuzz.yaml", yaml))
        .build();
    let _ = compiled.report.to_string();
    let event = sample_event();
    for rule in compiled.ruleset.evaluate(&event, MatchMode::All) {
        let _ = rule.render_alert(&event, "host", 1);
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: cases(512), failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn parser_survives_arbitrary_text(text in ".{0,200}") {
        let _ = parse_condition(&text, SourceId(0));
    }

    #[test]
    fn parser_survives_token_soup(tokens in prop::collection::vec(prop::sample::select(vec![
        "proc.name", "=", "!=", "in", "(", ")", ",", "and", "or", "not", "\"x y\"", "'a'", "bash",
        "exists", "contains", "startswith", "glob", "pmatch", "intersects", "oneof", "anyof",
        "tolower(", "val(", "len(", "[", "]", "2", "0x1f", "-1", "evt.arg.mode", "<", ">=", " ", "\n",
    ]), 0..40)) {
        let text: String = tokens.concat();
        let _ = parse_condition(&text, SourceId(0));
    }

    #[test]
    fn parser_survives_mutated_real_conditions(index in any::<usize>(), mutations in prop::collection::vec(mutation(), 1..6)) {
        let conditions = real_conditions();
        let original = &conditions[index % conditions.len()];
        let _ = parse_condition(&apply(original, &mutations), SourceId(0));
    }
}

/// A rules file of macros and lists, each using one to three of the four defined just
/// before it (`uses` picks which, repeats included), and a rule using the last of each:
/// doubling, chains and their mixes, growing up to exponentially.
fn expansion_graph(macros: &[(Vec<usize>, bool)], lists: &[Vec<usize>], operator: &str) -> String {
    let mut text =
        "- macro: m0\n  condition: proc.name = a\n- list: l0\n  items: [a, b]\n".to_string();
    for (index, (uses, conjunction)) in macros.iter().enumerate() {
        let k = index + 1;
        let names: Vec<String> = uses
            .iter()
            .map(|used| format!("m{}", k - 1 - used % k.min(4)))
            .collect();
        let joined = names.join(if *conjunction { " and " } else { " or " });
        text.push_str(&format!(
            "- macro: m{k}\n  condition: ({joined}) or proc.pid = {k}\n"
        ));
    }
    for (index, uses) in lists.iter().enumerate() {
        let k = index + 1;
        let items: Vec<String> = uses
            .iter()
            .map(|used| format!("l{}", k - 1 - used % k.min(4)))
            .collect();
        text.push_str(&format!(
            "- list: l{k}\n  items: [{}, x{k}]\n",
            items.join(", ")
        ));
    }
    text.push_str(&format!(
        "- rule: graph\n  desc: d\n  condition: evt.type = execve and m{} and proc.name {operator} (l{})\n  output: o\n  priority: INFO\n",
        macros.len(),
        lists.len()
    ));
    text
}

proptest! {
    #![proptest_config(ProptestConfig { cases: cases(96), failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn loader_survives_arbitrary_yaml(text in "[-a-z:\\[\\]{}\"'>|&*!%#, \n.=()]{0,300}") {
        load_and_run(&text);
    }

    #[test]
    fn loader_survives_mutated_rules(condition_index in any::<usize>(), mutations in prop::collection::vec(mutation(), 1..5), output in ".{0,40}") {
        let conditions = real_conditions();
        let condition = apply(&conditions[condition_index % conditions.len()], &mutations);
        let yaml = format!(
            "- macro: spawned_process\n  condition: evt.type in (execve, execveat)\n- macro: container\n  condition: container.id != host\n- rule: fuzzed\n  desc: d\n  condition: {}\n  output: \"{}\"\n  priority: INFO\n  exceptions:\n    - name: e\n      fields: [proc.name]\n      values: [[\"{}\"]]\n",
            serde_json::to_string(&condition).unwrap_or_default(),
            output.replace(['"', '\\'], ""),
            output.replace(['"', '\\'], ""),
        );
        load_and_run(&yaml);
    }

    #[test]
    fn loader_survives_mutated_rule_files(start in any::<usize>(), mutations in prop::collection::vec(mutation(), 1..8)) {
        // A window of a real rules file, mutated: exercises keys, lists, overrides, macros.
        let begin = (start % STABLE.len().max(1)).min(STABLE.len());
        let begin = (0..=begin).rev().find(|i| STABLE.is_char_boundary(*i)).unwrap_or(0);
        let window: String = STABLE[begin..].chars().take(1500).collect();
        load_and_run(&apply(&window, &mutations));
    }
}

proptest! {
    // Each case may expand to the limits (some tens of milliseconds in debug builds).
    #![proptest_config(ProptestConfig { cases: cases(32), failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn expansion_graphs_load_or_hit_a_limit(
        macros in prop::collection::vec((prop::collection::vec(any::<usize>(), 1..4), any::<bool>()), 0..50),
        lists in prop::collection::vec(prop::collection::vec(any::<usize>(), 1..4), 0..30),
        operator in prop::sample::select(vec!["in", "pmatch", "contains anyof", "regex oneof", "= anyof"]),
    ) {
        // Up to 2^50 nodes and 3^30 items: every one must load at once or stop at a limit.
        let started = std::time::Instant::now();
        let compiled = RulesetBuilder::new()
            .source(RuleSource::new("graph.yaml", expansion_graph(&macros, &lists, operator)))
            .build();
        prop_assert!(started.elapsed() < std::time::Duration::from_secs(10), "took {:?}", started.elapsed());
        for error in compiled.report.errors() {
            prop_assert!(error.message.contains("(MAX_"), "{}", compiled.report);
        }
        let event = sample_event();
        for rule in compiled.ruleset.evaluate(&event, MatchMode::All) {
            let _ = rule.render_alert(&event, "host", 1);
        }
    }
}
