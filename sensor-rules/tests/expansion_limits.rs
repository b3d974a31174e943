//! Hostile rules files: macros, lists and YAML aliases that expand exponentially, chains of
//! macros and lists that would recurse without end, conditions at the depth limits, lists
//! multiplied into compiled matchers, files too large. Each is refused fast, at `file:line:col`, naming the item and the limit, on
//! the 2 MiB stack a live reload runs on; Falco's own files still load as before.

mod common;

use std::path::PathBuf;
use std::time::{Duration, Instant};

use sensor_rules::condition::{parse_condition, SourceId};
use sensor_rules::limits::{
    MAX_EXPANDED_DEPTH, MAX_EXPANDED_SIZE, MAX_LIST_NESTING, MAX_MACRO_NESTING,
    MAX_MODIFIER_VALUES, MAX_REGEX_PATTERNS, MAX_RULES_FILE_BYTES, MAX_TOTAL_EXPANDED_SIZE,
    MAX_YAML_NODES,
};
use sensor_rules::{
    check_sources, CheckReport, CompileOptions, LoadError, MapEvent, MatchMode, RuleSource,
    RuleStatus, RulesetBuilder,
};

/// The stack of the thread a live reload compiles on.
const RELOAD_STACK: usize = 2 << 20;

/// Debug builds on a loaded machine: a bomb refused before expanding takes milliseconds.
const FAST: Duration = Duration::from_secs(5);

fn on_reload_stack<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> T {
    std::thread::Builder::new()
        .stack_size(RELOAD_STACK)
        .spawn(f)
        .expect("thread starts")
        .join()
        .expect("no panic and no stack overflow")
}

/// `sensor rules check` of one file, on the reload stack, asserted fast.
fn check_fast(name: &'static str, text: String) -> CheckReport {
    let started = Instant::now();
    let report = on_reload_stack(move || {
        check_sources(vec![RuleSource::new(name, text)], CompileOptions::default())
    });
    assert!(started.elapsed() < FAST, "took {:?}", started.elapsed());
    report
}

fn rule(name: &str, condition: &str) -> String {
    format!("- rule: {name}\n  desc: d\n  condition: {condition}\n  output: o\n  priority: INFO\n")
}

/// The one error of `report` at `position` (`file:line:col`).
fn error_at<'r>(report: &'r CheckReport, position: &str) -> &'r sensor_rules::Diagnostic {
    report
        .errors()
        .find(|error| error.position.to_string() == position)
        .unwrap_or_else(|| panic!("no error at {position} in:\n{report}"))
}

#[test]
fn doubling_macros_are_refused_before_expanding() {
    // m1 has 3 nodes, each next macro twice the previous: m30 expands to 2^31 - 1 nodes.
    let mut text = "- macro: m1\n  condition: proc.name = a or proc.name = a\n".to_string();
    for k in 2..=30 {
        text.push_str(&format!(
            "- macro: m{k}\n  condition: m{} or m{}\n",
            k - 1,
            k - 1
        ));
    }
    text.push_str(&rule("boom", "evt.type = execve and m30"));
    let report = check_fast("bomb.yaml", text);

    // The first macro past the limit, at its condition (line 32: m16 = m15 or m15).
    let origin = error_at(&report, "bomb.yaml:32:14");
    assert_eq!(origin.item.as_deref(), Some("macro `m16`"));
    assert!(
        origin.message.starts_with(&format!(
            "expands to 131071 condition nodes and list items once macros and lists are substituted, more than the {MAX_EXPANDED_SIZE} allowed per condition (MAX_EXPANDED_SIZE); most of it is macro `m15` (65535 each, used 2 times)"
        )),
        "{origin}"
    );
    // The rule, at its use of m30, names the macro, the limit and where it starts.
    let at_rule = error_at(&report, "bomb.yaml:63:36");
    assert_eq!(at_rule.item.as_deref(), Some("rule `boom`"));
    assert!(
        at_rule.message.starts_with(
            "uses macro `m30`, which exceeds an expansion limit: macro `m16` expands to 131071"
        ),
        "{at_rule}"
    );
    assert!(at_rule.message.contains("MAX_EXPANDED_SIZE"), "{at_rule}");
    assert!(
        at_rule.message.ends_with("(at bomb.yaml:32:14)"),
        "{at_rule}"
    );
    assert_eq!(report.errors().count(), 2, "{report}");
    assert_eq!(common::status(&report, "boom"), &RuleStatus::Failed);
}

#[test]
fn doubling_lists_are_refused_before_expanding() {
    // l30 names 2^30 items.
    let mut text = "- list: l1\n  items: [a, b]\n".to_string();
    for k in 2..=30 {
        text.push_str(&format!(
            "- list: l{k}\n  items: [l{}, l{}]\n",
            k - 1,
            k - 1
        ));
    }
    text.push_str(&rule("boom", "evt.type = execve and proc.name in (l30)"));
    let report = check_fast("lists.yaml", text);

    // l17 (2^17 items) is the first over the limit; reported at its first item.
    let origin = error_at(&report, "lists.yaml:34:11");
    assert_eq!(origin.item.as_deref(), Some("list `l17`"));
    assert!(
        origin.message.starts_with(&format!(
            "expands to 131072 condition nodes and list items once macros and lists are substituted, more than the {MAX_EXPANDED_SIZE} allowed per condition (MAX_EXPANDED_SIZE); most of it is list `l16` (65536 each, used 2 times): include each list once"
        )),
        "{origin}"
    );
    let at_rule = error_at(&report, "lists.yaml:63:50");
    assert_eq!(at_rule.item.as_deref(), Some("rule `boom`"));
    assert!(
        at_rule.message.starts_with(
            "uses list `l30`, which exceeds an expansion limit: list `l17` expands to 131072"
        ),
        "{at_rule}"
    );
    assert!(
        at_rule.message.ends_with("(at lists.yaml:34:11)"),
        "{at_rule}"
    );
    assert_eq!(common::status(&report, "boom"), &RuleStatus::Failed);
}

#[test]
fn lists_in_exceptions_are_bounded_too() {
    let mut text = "- list: l1\n  items: [a, b]\n".to_string();
    for k in 2..=30 {
        text.push_str(&format!(
            "- list: l{k}\n  items: [l{}, l{}]\n",
            k - 1,
            k - 1
        ));
    }
    text.push_str(&rule("excepted", "evt.type = execve"));
    text.push_str("  exceptions:\n    - name: bomb\n      fields: proc.name\n      comps: in\n      values: [l30]\n");
    let report = check_fast("exceptions.yaml", text);
    let error = report
        .errors()
        .find(|error| error.item.as_deref() == Some("rule `excepted`"))
        .unwrap_or_else(|| panic!("no error on the rule:\n{report}"));
    // Generated clauses are placed at their exception.
    assert_eq!(error.position.to_string(), "exceptions.yaml:67:7");
    assert!(error.message.starts_with("uses list `l30`"), "{error}");
    assert!(error.message.contains("MAX_EXPANDED_SIZE"), "{error}");
}

#[test]
fn yaml_alias_bomb_is_refused_before_copying() {
    // Ten aliases of the previous anchor per level, ten levels: 10^10 nodes once copied.
    let mut text =
        "- list: bomb\n  items: &l0 [lol, lol, lol, lol, lol, lol, lol, lol, lol, lol]\n"
            .to_string();
    for level in 1..10 {
        let aliases = vec![format!("*l{}", level - 1); 10].join(", ");
        text.push_str(&format!("  x{level}: &l{level} [{aliases}]\n"));
    }
    text.push_str(&rule("boom", "evt.type = execve and proc.name in (bomb)"));
    let report = check_fast("alias.yaml", text);

    let error = error_at(&report, "alias.yaml:7:22");
    assert!(
        error.message.starts_with(&format!(
            "alias `*l4` copies 111111 YAML nodes, which brings the file past {MAX_YAML_NODES} nodes (MAX_YAML_NODES"
        )),
        "{error}"
    );
    assert!(error.message.contains("alias bomb"), "{error}");
    assert!(
        error.message.ends_with("nothing from this file was loaded"),
        "{error}"
    );
    assert!(report.rules.is_empty());
}

#[test]
fn chains_of_macros_and_lists_stop_at_the_nesting_limits() {
    // Resolved with explicit stacks: a chain of 10,000 used to overflow the stack (lists)
    // or to be resolved however long (macros).
    let chain = 10_000;
    let mut text =
        "- macro: n0\n  condition: proc.name = a\n- list: c0\n  items: [a]\n".to_string();
    for k in 1..chain {
        text.push_str(&format!(
            "- macro: n{k}\n  condition: n{}\n- list: c{k}\n  items: [c{}]\n",
            k - 1,
            k - 1
        ));
    }
    let condition = format!(
        "evt.type = execve and n{} and proc.name in (c{})",
        chain - 1,
        chain - 1
    );
    text.push_str(&rule("deep", &condition));
    let report = check_fast("chain.yaml", text);

    // n40 is used 41 macros deep (n40 -> ... -> n0); each macro pair takes 4 lines.
    let macros = error_at(&report, "chain.yaml:162:14");
    assert_eq!(macros.item.as_deref(), Some("macro `n40`"));
    assert!(
        macros.message.starts_with(&format!(
            "nests macros 41 deep (through macro `n39`), more than the {MAX_MACRO_NESTING} allowed (MAX_MACRO_NESTING)"
        )),
        "{macros}"
    );
    // c20 holds a chain of 21 lists.
    let lists = error_at(&report, "chain.yaml:84:11");
    assert_eq!(lists.item.as_deref(), Some("list `c20`"));
    assert!(
        lists.message.starts_with(&format!(
            "nests lists 21 deep (through list `c19`), more than the {MAX_LIST_NESTING} allowed (MAX_LIST_NESTING)"
        )),
        "{lists}"
    );
    let at_rule = report
        .errors()
        .find(|error| error.item.as_deref() == Some("rule `deep`"))
        .unwrap_or_else(|| panic!("no error on the rule:\n{report}"));
    assert!(
        at_rule.message.starts_with("uses macro `n9999`, which exceeds an expansion limit: macro `n40` nests macros 41 deep"),
        "{at_rule}"
    );
}

/// `levels` nested groups alternating `and` and `or`, all evaluated for `proc.pid = -1`.
fn nested_groups(levels: usize) -> String {
    let mut condition = "proc.name = x".to_string();
    for level in 0..levels {
        condition = if level % 2 == 0 {
            format!("proc.pid != {level} and ({condition})")
        } else {
            format!("proc.pid = {level} or ({condition})")
        };
    }
    condition
}

/// Compiles `text`, evaluates an event that walks every level, renders the alert and drops
/// everything, on the reload stack.
fn compile_and_run(text: String) -> CheckReport {
    on_reload_stack(move || {
        let compiled = RulesetBuilder::new()
            .source(RuleSource::new("deep.yaml", text))
            .build();
        let event = MapEvent::new("execve")
            .with("proc.name", "x")
            .with("proc.pid", -1i64);
        for rule in compiled.ruleset.evaluate(&event, MatchMode::All) {
            let _ = rule.render_alert(&event, "host", 1);
        }
        compiled.report
    })
}

#[test]
fn deepest_condition_the_parser_accepts_runs_on_a_reload_stack() {
    let condition = |levels| format!("evt.type = execve and ({})", nested_groups(levels));
    let deepest = (1..1000)
        .take_while(|levels| parse_condition(&condition(*levels), SourceId(0)).is_ok())
        .last()
        .expect("some nesting parses");
    assert!(deepest >= 70, "only {deepest} levels parse");
    let error = parse_condition(&condition(deepest + 1), SourceId(0)).expect_err("too deep");
    assert!(error.message.contains("max depth limit of 400"), "{error}");

    let report = compile_and_run(rule("deepest", &condition(deepest)));
    assert!(!report.has_errors(), "{report}");
    assert_eq!(report.compiled(), 1, "{report}");
}

/// `macros` macros, each wrapping the previous in `and`, `nots` negations and `or`.
fn macro_tower(macros: usize, nots: usize) -> String {
    let mut text = "- macro: d0\n  condition: proc.name = x\n".to_string();
    for k in 1..=macros {
        let mut inner = format!("d{} or proc.pid = {k}", k - 1);
        for _ in 0..nots {
            inner = format!("not ({inner})");
        }
        text.push_str(&format!(
            "- macro: d{k}\n  condition: proc.pid != {k} and ({inner})\n"
        ));
    }
    text + &rule("tower", &format!("evt.type = execve and d{macros}"))
}

#[test]
fn deepest_macro_expansion_allowed_runs_on_a_reload_stack() {
    // 39 macros on d0 make a chain of 40; 3 + 4 levels each make the expansion 280 deep.
    let report = compile_and_run(macro_tower(39, 4));
    assert!(!report.has_errors(), "{report}");
    assert_eq!(report.compiled(), 1, "{report}");

    // One more negation per macro passes MAX_EXPANDED_DEPTH.
    let report = compile_and_run(macro_tower(39, 5));
    let error = report
        .errors()
        .find(|error| error.message.contains("MAX_EXPANDED_DEPTH"))
        .unwrap_or_else(|| panic!("no depth error in:\n{report}"));
    assert!(
        error.message.contains(&format!(
            "more than the {MAX_EXPANDED_DEPTH} allowed (MAX_EXPANDED_DEPTH)"
        )),
        "{error}"
    );
    assert_eq!(report.compiled(), 0, "{report}");

    // One more macro passes MAX_MACRO_NESTING: the macro that makes the chain 41 long is
    // the error, and the rule using it.
    let report = compile_and_run(macro_tower(40, 0));
    let error = error_at(&report, "deep.yaml:82:34");
    assert_eq!(error.item.as_deref(), Some("macro `d40`"));
    assert!(
        error
            .message
            .starts_with("nests macros 41 deep (through macro `d39`)"),
        "{error}"
    );
    let at_rule = error_at(&report, "deep.yaml:85:36");
    assert!(at_rule.message.starts_with("uses macro `d40`"), "{at_rule}");
}

#[test]
fn all_rules_together_are_bounded() {
    // l16 names 65,536 items, within the limit per condition; eight rules using it pass
    // the limit for the whole load.
    let mut text = "- list: l1\n  items: [a, b]\n".to_string();
    for k in 2..=16 {
        text.push_str(&format!(
            "- list: l{k}\n  items: [l{}, l{}]\n",
            k - 1,
            k - 1
        ));
    }
    for index in 0..8 {
        text.push_str(&rule(
            &format!("r{index}"),
            "evt.type = execve and proc.name in (l16)",
        ));
    }
    let report = check_fast("many.yaml", text);
    assert_eq!(report.compiled(), 7, "{report}");
    assert_eq!(common::status(&report, "r7"), &RuleStatus::Failed);
    let error = report.errors().next().expect("an error");
    assert_eq!(error.item.as_deref(), Some("rule `r7`"));
    assert_eq!(error.position.to_string(), "many.yaml:70:14");
    assert!(
        error.message.starts_with(&format!(
            "the condition expands to 65539 condition nodes and list items, which would bring the rules loaded so far (458773) past the {MAX_TOTAL_EXPANDED_SIZE} allowed in all (MAX_TOTAL_EXPANDED_SIZE)"
        )),
        "{error}"
    );
}

#[test]
fn matchers_compiled_per_value_are_bounded() {
    // l16 names 65,536 values: a set entry each for `in` and `= anyof`, but a compiled
    // matcher each for `icontains oneof` (seven such rules took 400 MB, of `regex oneof`
    // 2.8 GB).
    let mut text = "- list: l1\n  items: [a, b]\n".to_string();
    for k in 2..=16 {
        text.push_str(&format!(
            "- list: l{k}\n  items: [l{}, l{}]\n",
            k - 1,
            k - 1
        ));
    }
    let patterns: Vec<String> = (0..300).map(|n| format!("'a{{{n}}}'")).collect();
    text.push_str(&format!(
        "- list: patterns\n  items: [{}]\n",
        patterns.join(", ")
    ));
    text.push_str(&rule(
        "sets",
        "evt.type = execve and proc.name in (l15) and proc.name = anyof (l15)",
    ));
    text.push_str(&rule(
        "searchers",
        "evt.type = execve and proc.name icontains oneof (l16)",
    ));
    text.push_str(&rule(
        "regexes",
        "evt.type = execve and proc.name regex anyof (patterns)",
    ));
    let report = check_fast("matchers.yaml", text);

    assert!(
        matches!(common::status(&report, "sets"), RuleStatus::Compiled { .. }),
        "{report}"
    );
    let searchers = error_at(&report, "matchers.yaml:42:36");
    assert_eq!(searchers.item.as_deref(), Some("rule `searchers`"));
    assert!(
        searchers.message.starts_with(&format!(
            "`icontains oneof` compiles a matcher for each of its 65536 values, which would bring the rules loaded so far (0 such values) past the {MAX_MODIFIER_VALUES} allowed (MAX_MODIFIER_VALUES)"
        )),
        "{searchers}"
    );
    let regexes = error_at(&report, "matchers.yaml:47:36");
    assert!(
        regexes.message.starts_with(&format!(
            "the check compiles 300 regular expressions, which would bring the rules loaded so far (0) past the {MAX_REGEX_PATTERNS} allowed (MAX_REGEX_PATTERNS)"
        )),
        "{regexes}"
    );
}

#[test]
fn oversized_files_are_refused_before_parsing() {
    let text = "#".repeat(MAX_RULES_FILE_BYTES + 1);
    let report = check_fast("big.yaml", text.clone());
    let error = error_at(&report, "big.yaml:1:1");
    assert!(error.message.contains("MAX_RULES_FILE_BYTES"), "{error}");

    let path = std::env::temp_dir().join(format!("sensor-rules-big-{}.yaml", std::process::id()));
    std::fs::write(&path, text).expect("temp file written");
    let read = RuleSource::from_file(&path);
    let report = sensor_rules::check(&[&path]);
    std::fs::remove_file(&path).expect("temp file removed");
    assert!(
        matches!(read, Err(LoadError::TooLarge { limit, .. }) if limit == MAX_RULES_FILE_BYTES)
    );
    assert!(
        report
            .errors()
            .any(|error| error.message.contains("MAX_RULES_FILE_BYTES")),
        "{report}"
    );
}

fn conformance_file(name: &str) -> RuleSource {
    let dir = PathBuf::from(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../conformance/falco-rules"
    ));
    RuleSource::from_file(&dir.join(name)).expect("conformance file is readable")
}

#[test]
fn falco_rules_load_unchanged_on_a_reload_stack() {
    // The counts of tests/conformance.rs: the limits leave Falco's files alone.
    let sources = [
        "falco_rules.yaml",
        "falco-incubating_rules.yaml",
        "falco-sandbox_rules.yaml",
    ]
    .map(conformance_file)
    .to_vec();
    let report = on_reload_stack(move || check_sources(sources, CompileOptions::default()));
    assert!(!report.has_errors(), "{report}");
    assert_eq!(report.rules.len(), 93);
    assert_eq!(report.compiled(), 30);
    assert_eq!(report.skipped(), 63);
    assert!(
        !report
            .diagnostics
            .iter()
            .any(|d| d.message.contains("MAX_")),
        "{report}"
    );
}
