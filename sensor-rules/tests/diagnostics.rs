//! The diagnostics users see: every error and warning with file:line:col and a message
//! saying what is wrong and what to do.

mod common;

use common::{build, find, status, BASE};
use sensor_rules::{RuleStatus, Severity};

#[test]
fn exception_errors_name_the_problem() {
    let rules = "\
- rule: Bad
  desc: d
  condition: evt.type = execve
  output: o
  priority: INFO
  exceptions:
    - name: lengths
      fields: [proc.name, proc.pname]
      comps: [=]
      values: []
";
    let compiled = build(&[("bad.yaml", rules)]);
    let error = find(
        &compiled.report,
        "Fields and comps lists must have equal length",
    );
    assert_eq!(
        error.to_string().split(": error").next(),
        Some("bad.yaml:7:7")
    );
    assert_eq!(error.item.as_deref(), Some("rule `Bad`"));
}

#[test]
fn append_to_missing_items_is_an_error_with_position() {
    let rules = "\
- list: nowhere
  items: [x]
  override:
    items: append
- macro: ghost
  condition: and proc.name = x
  append: true
- rule: Missing
  condition: and proc.name = x
  override:
    condition: append
";
    let report = build(&[("orphans.yaml", rules)]).report;
    let list = find(
        &report,
        "List uses 'append' or 'override.items: append' but no list by that name already exists",
    );
    assert_eq!(list.position.to_string(), "orphans.yaml:1:3");
    let macro_error = find(&report, "Macro uses 'append'");
    assert_eq!(macro_error.position.line, 5);
    let rule = find(
        &report,
        "Rule uses 'append' or 'override.<key>: append' but no rule by that name already exists",
    );
    assert_eq!(rule.position.line, 8);
    assert_eq!(rule.item.as_deref(), Some("rule `Missing`"));
}

#[test]
fn override_misuse() {
    let rules = "\
- rule: Shell
  condition: and proc.name = x
  append: true
  override:
    condition: append
- rule: Shell
  condition: and proc.name = x
  output: more
  override:
    condition: append
- rule: Shell
  override:
    output: append
- rule: Shell
  priority: INFO
  override:
    priority: append
";
    let report = build(&[("base.yaml", BASE), ("misuse.yaml", rules)]).report;
    find(
        &report,
        "Keys 'override' and 'append: true' cannot be used together",
    );
    let unexpected = find(
        &report,
        "Unexpected key 'output': no corresponding entry under 'override' is defined",
    );
    assert_eq!(unexpected.position.to_string(), "misuse.yaml:8:3");
    find(
        &report,
        "An append override for 'output' was specified but 'output' is not defined",
    );
    let append_priority = find(
        &report,
        "Key 'priority' cannot be appended to, use 'replace' instead",
    );
    assert_eq!(append_priority.position.to_string(), "misuse.yaml:17:5");
}

#[test]
fn missing_keys_and_bad_values() {
    let rules = "\
- rule: No output
  desc: d
  condition: evt.type = execve
  priority: INFO
- rule: Bad priority
  desc: d
  condition: evt.type = execve
  output: o
  priority: SEVERE
- rule: Bad enabled
  desc: d
  condition: evt.type = execve
  output: o
  priority: INFO
  enabled: maybe
  colour: blue
- list: not a sequence
  items: bash
- 42
";
    let report = build(&[("keys.yaml", rules)]).report;
    let missing = find(&report, "Item has no mapping for key 'output'");
    assert_eq!(missing.position.to_string(), "keys.yaml:1:3");
    let priority = find(&report, "Invalid priority `SEVERE`");
    assert_eq!(priority.position.to_string(), "keys.yaml:9:13");
    let enabled = find(&report, "'enabled' must be true or false, not `maybe`");
    assert_eq!(enabled.position.to_string(), "keys.yaml:15:12");
    let unknown = find(&report, "Unknown key 'colour'. The key will be ignored.");
    assert_eq!(unknown.severity, Severity::Warning);
    assert_eq!(unknown.position.to_string(), "keys.yaml:16:3");
    let items = find(&report, "'items' must be a list");
    assert_eq!(items.position.to_string(), "keys.yaml:18:10");
    find(&report, "Each element should be a yaml associative array");
}

#[test]
fn yaml_syntax_error_position() {
    let report = build(&[("broken.yaml", "- rule: x\n  desc: [unclosed\n- rule: y\n")]).report;
    let error = find(&report, "YAML syntax error");
    assert_eq!(error.position.file.as_ref(), "broken.yaml");
    assert!(error.position.line >= 2, "{error}");
    let not_a_list = build(&[("map.yaml", "rule: x\n")]).report;
    find(&not_a_list, "Rules content is not yaml array of objects");
}

#[test]
fn condition_errors_point_into_folded_conditions() {
    let rules = "\
- rule: Typed
  desc: d
  condition: >
    evt.type = execve
    and proc.name = bash
    and proc.pid contains 1
  output: o
  priority: INFO
- rule: Uid
  desc: d
  condition: evt.type = execve and user.uid = abc
  output: o
  priority: INFO
- rule: Syntax
  desc: d
  condition: >
    evt.type = execve and
    (proc.name = a or
     proc.name = b
  output: o
  priority: INFO
- rule: Typo
  desc: d
  condition: evt.type = execve and fd.nmae = /etc
  output: o
  priority: INFO
- rule: Bad regex
  desc: d
  condition: evt.type = execve and proc.name regex \"(\"
  output: o
  priority: INFO
- rule: Bad type
  desc: d
  condition: evt.type in (execve, exceve)
  output: o
  priority: INFO
";
    let report = build(&[("typed.yaml", rules)]).report;
    let contains = find(
        &report,
        "'contains' operator not supported for numeric filters",
    );
    assert_eq!(contains.position.to_string(), "typed.yaml:6:9");
    assert!(contains
        .message
        .contains("`proc.pid` is int64; use one of =, !=, <, <=, >, >=, in, intersects"));
    let uid = find(
        &report,
        "`abc` is not a valid number value for field `user.uid`",
    );
    assert_eq!(uid.position.to_string(), "typed.yaml:11:47");
    let syntax = find(&report, "expected a ')' token");
    assert_eq!(syntax.position.to_string(), "typed.yaml:19:19");
    assert!(
        syntax.message.contains("typed.yaml:18:5"),
        "points at the open parenthesis: {syntax}"
    );
    let typo = find(&report, "unknown field `fd.nmae`");
    assert!(typo.message.contains("did you mean `fd.name`?"));
    assert_eq!(typo.position.to_string(), "typed.yaml:24:36");
    let regex = find(&report, "invalid regex pattern `(`");
    assert_eq!(regex.position.line, 29);
    let event_type = find(&report, "unknown event type exceve");
    assert_eq!(event_type.position.to_string(), "typed.yaml:34:35");
    for rule in ["Typed", "Uid", "Syntax", "Typo", "Bad regex", "Bad type"] {
        assert_eq!(status(&report, rule), &RuleStatus::Failed, "{rule}");
    }
}

#[test]
fn engine_version_requirements() {
    let report = build(&[("v.yaml", "- required_engine_version: 0.99.0\n")]).report;
    let error = find(&report, "Rules require engine version 0.99.0");
    assert_eq!(error.position.to_string(), "v.yaml:1:28");
    let ok = build(&[("v.yaml", "- required_engine_version: 10\n- required_plugin_versions:\n    - name: container\n      version: 0.4.0\n")]).report;
    assert!(!ok.has_errors(), "{ok}");
    let bad = build(&[("v.yaml", "- required_engine_version: banana\n")]).report;
    find(&bad, "Unable to parse engine version 'banana'");
}
