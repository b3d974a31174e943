//! Helpers shared by the integration tests.

#![allow(dead_code)]

use sensor_rules::{CheckReport, Compiled, Diagnostic, RuleSource, RuleStatus, RulesetBuilder};

pub fn build(files: &[(&str, &str)]) -> Compiled {
    let mut builder = RulesetBuilder::new();
    for (name, content) in files {
        builder.add_source(RuleSource::new(*name, *content));
    }
    builder.build()
}

/// The diagnostic whose message contains `needle`.
pub fn find<'r>(report: &'r CheckReport, needle: &str) -> &'r Diagnostic {
    report
        .diagnostics
        .iter()
        .find(|d| d.message.contains(needle))
        .unwrap_or_else(|| panic!("no diagnostic containing `{needle}` in:\n{report}"))
}

pub fn status<'r>(report: &'r CheckReport, rule: &str) -> &'r RuleStatus {
    &report
        .rules
        .iter()
        .find(|r| r.name == rule)
        .unwrap_or_else(|| panic!("no rule `{rule}` in:\n{report}"))
        .status
}

/// A small base file the loader and diagnostics tests amend: a list, a macro, a rule.
pub const BASE: &str = "\
- list: shells
  items: [bash]
- macro: interactive
  condition: proc.tty != 0
- rule: Shell
  desc: base description
  condition: evt.type = execve and proc.name in (shells)
  output: shell %proc.name
  priority: WARNING
  tags: [a]
";
