//! Compiles every rule of a collector: parses conditions and macros, adds exceptions,
//! expands macros and lists, derives event types, builds programs and outputs, and decides
//! for each rule whether it compiles, is skipped (with the reason) or fails.

use std::collections::HashMap;
use std::sync::Arc;

use super::check::{CheckBuilder, ComparedConstants, ConstantLog};
use super::event_types::event_types;
use super::exceptions::exception_clause;
use super::expand::{Dependency, ExpandError, Expander};
use super::operand::OperandBuilder;
use super::output_template::OutputTemplate;
use super::pattern_budget::PatternBudget;
use super::problems::Problems;
use super::program::{Node, Program};
use super::source_map::SourceMap;
use crate::condition::{parse_condition, Expr, ParseError, SourceId};
use crate::diagnostic::{Diagnostic, Diagnostics};
use crate::engine::Rule;
use crate::fields::{EventTypeId, EventTypeMask, FieldRegistry};
use crate::loader::{Collector, RuleDef, SYSCALL_SOURCE};
use crate::output::Priority;
use crate::report::{RuleReport, RuleStatus};

/// Falco warns when a rule matches more event types than this.
const MANY_EVENT_TYPES: usize = 100;

/// How rules are compiled for this sensor.
#[derive(Clone, Debug)]
pub struct CompileOptions {
    pub registry: Arc<FieldRegistry>,
    /// Event types the sensor captures; rules on other types are skipped.
    pub captured_event_types: Vec<String>,
    /// Rules less severe than this are loaded but disabled (Falco's `priority` option).
    pub min_priority: Priority,
    /// Rules with any of these tags are disabled.
    pub disabled_tags: Vec<String>,
    /// Rules with these names are disabled.
    pub disabled_rules: Vec<String>,
}

impl Default for CompileOptions {
    fn default() -> Self {
        CompileOptions {
            registry: FieldRegistry::shared_default(),
            captured_event_types: crate::fields::SENSOR_EVENT_TYPES
                .iter()
                .map(|s| s.to_string())
                .collect(),
            min_priority: Priority::Debug,
            disabled_tags: Vec::new(),
            disabled_rules: Vec::new(),
        }
    }
}

/// Everything compiling produced.
pub struct CompiledRules {
    pub rules: Vec<Rule>,
    pub reports: Vec<RuleReport>,
}

fn parse_error(
    sources: &SourceMap,
    source: SourceId,
    text: &str,
    error: &ParseError,
    what: &str,
) -> Diagnostic {
    let mut message = format!("{what} does not parse: {}", error.message);
    if let Some(related) = error.related {
        message.push_str(&format!(
            " (the opening is at {})",
            sources.position_at(source, related)
        ));
    }
    // An error at the very end (after trailing blanks or the final newline of a folded
    // block) is reported right after the last token, where the reader looks.
    let offset = if text
        .get(error.offset..)
        .is_some_and(|rest| rest.trim().is_empty())
    {
        text.trim_end().len()
    } else {
        error.offset
    };
    Diagnostic::error(sources.position_at(source, offset), message)
}

fn type_list(mask: &EventTypeMask) -> String {
    let names: Vec<&str> = mask.iter().map(EventTypeId::name).collect();
    if names.len() > 12 {
        format!("{}, ... ({} in all)", names[..12].join(", "), names.len())
    } else {
        names.join(", ")
    }
}

pub(crate) fn compile_rules(
    collector: &Collector,
    options: &CompileOptions,
    diagnostics: &mut Diagnostics,
) -> CompiledRules {
    let mut sources = SourceMap::default();
    let mut captured = EventTypeMask::default();
    for name in &options.captured_event_types {
        match EventTypeId::from_name(name) {
            Some(id) => captured.insert(id),
            None => {
                tracing::warn!(event_type = %name, "captured event type unknown to Falco; ignored")
            }
        }
    }

    // Every macro is parsed once, used or not (Falco reports their syntax errors too).
    let mut parsed: HashMap<String, Option<Expr>> = HashMap::new();
    for definition in collector.macros.iter() {
        let label = format!("macro `{}`", definition.name);
        let source = sources.add_text(definition.condition.clone(), label.clone());
        match parse_condition(definition.condition.as_str(), source) {
            Ok(expr) => {
                parsed.insert(definition.name.clone(), Some(expr));
            }
            Err(error) => {
                diagnostics.push(
                    parse_error(
                        &sources,
                        source,
                        definition.condition.as_str(),
                        &error,
                        "condition",
                    )
                    .with_item(label),
                );
                parsed.insert(definition.name.clone(), None);
            }
        }
    }

    let mut expander = Expander::new(&collector.macros, &collector.lists, &parsed);
    for (list, error) in expander.list_limit_errors() {
        diagnostics.push(
            error
                .diagnostic(&sources)
                .with_item(format!("list `{list}`")),
        );
    }
    for definition in collector.macros.iter() {
        let label = || format!("macro `{}`", definition.name);
        match expander.measure_definition(&definition.name) {
            Err(ExpandError::Dependency(dependency))
                if !matches!(dependency, Dependency::BrokenMacro { .. }) =>
            {
                diagnostics.push(
                    Diagnostic::warning(
                        sources.position(dependency.span()),
                        format!(
                            "{}; rules using this macro will be skipped",
                            dependency.message()
                        ),
                    )
                    .with_item(label()),
                );
            }
            // A macro using an oversized macro or list is reported at that one only.
            Err(ExpandError::Limit(error)) if error.is_origin() => {
                diagnostics.push(error.diagnostic(&sources).with_item(label()));
            }
            _ => {}
        }
    }

    let patterns = PatternBudget::default();
    let mut definitions: Vec<&RuleDef> = collector.rules.iter().collect();
    definitions.sort_by_key(|rule| rule.index);
    let mut compiled = CompiledRules {
        rules: Vec::new(),
        reports: Vec::new(),
    };
    for definition in definitions {
        let mut context = RuleContext {
            options,
            patterns: &patterns,
            sources: &mut sources,
            expander: &mut expander,
            captured: &captured,
            diagnostics,
        };
        let (status, rule) = context.compile(definition);
        compiled.reports.push(RuleReport {
            name: definition.name.clone(),
            position: definition.position.clone(),
            status,
            event_types: rule
                .as_ref()
                .map(|r| r.event_types.clone())
                .unwrap_or_default(),
        });
        if let Some(rule) = rule {
            compiled.rules.push(rule);
        }
    }

    for (span, message) in std::mem::take(&mut expander.warnings) {
        diagnostics.push(
            Diagnostic::warning(sources.position(span), message)
                .with_item(sources.label(span).to_string()),
        );
    }
    for definition in collector.macros.iter() {
        if !expander.used_macros.contains(&definition.name) {
            diagnostics.push(
                Diagnostic::warning(
                    definition.position.clone(),
                    "Macro not referred to by any other rule/macro; use it in a condition or remove it",
                )
                .with_item(format!("macro `{}`", definition.name)),
            );
        }
    }
    for list in collector.lists.iter() {
        if !expander.used_lists.contains(&list.name) {
            diagnostics.push(
                Diagnostic::warning(
                    list.position.clone(),
                    "List not referred to by any other rule/macro; use it in a condition or remove it",
                )
                .with_item(format!("list `{}`", list.name)),
            );
        }
    }
    compiled
}

/// What a rule's condition (with its exceptions) compiled to.
struct CompiledCondition {
    types: EventTypeMask,
    root: Node,
    /// The constants its checks compare each field with.
    constants: ComparedConstants,
}

struct RuleContext<'a, 'c> {
    options: &'a CompileOptions,
    patterns: &'a PatternBudget,
    sources: &'a mut SourceMap,
    expander: &'a mut Expander<'c>,
    captured: &'a EventTypeMask,
    diagnostics: &'a mut Diagnostics,
}

impl RuleContext<'_, '_> {
    fn compile(&mut self, definition: &RuleDef) -> (RuleStatus, Option<Rule>) {
        let label = format!("rule `{}`", definition.name);
        if definition.source != SYSCALL_SOURCE {
            self.diagnostics.push(
                Diagnostic::warning(
                    definition.position.clone(),
                    format!(
                        "Unknown source {}, skipping: this sensor runs `syscall` rules only",
                        definition.source
                    ),
                )
                .with_item(label),
            );
            return (
                RuleStatus::Skipped {
                    reasons: vec![format!(
                        "source `{}` is not supported by this sensor (only `syscall` rules run here)",
                        definition.source
                    )],
                    silent: false,
                },
                None,
            );
        }

        let Some(condition) = self.condition_with_exceptions(definition, &label) else {
            return (RuleStatus::Failed, None);
        };
        let expanded = match self.expander.expand_rule(&condition) {
            Ok(expanded) => expanded,
            Err(ExpandError::Limit(error)) => {
                self.diagnostics
                    .push(error.diagnostic(self.sources).with_item(label));
                return (RuleStatus::Failed, None);
            }
            Err(ExpandError::Dependency(dependency)) => {
                let reason = format!(
                    "{} (at {})",
                    dependency.message(),
                    self.sources.position(dependency.span())
                );
                return (
                    RuleStatus::Skipped {
                        reasons: vec![reason],
                        silent: false,
                    },
                    None,
                );
            }
        };
        let types = event_types(&expanded);

        let operands = OperandBuilder {
            registry: &self.options.registry,
            sources: self.sources,
        };
        let builder = CheckBuilder {
            operands,
            registry: &self.options.registry,
            budget: self.patterns,
            constants: ConstantLog::default(),
        };
        let mut problems = Problems::default();
        let root = builder.build(&expanded, &mut problems);
        // Kept in the rule only if it compiles: a failed or skipped rule takes them along.
        let constants = builder.constants.into_constants();
        let output_source = self.register_output(definition, &label);
        let output = {
            let operands = OperandBuilder {
                registry: &self.options.registry,
                sources: self.sources,
            };
            OutputTemplate::compile(
                definition.output.as_str(),
                output_source,
                &operands,
                self.sources,
                &mut problems,
            )
        };
        self.finish(
            definition,
            label,
            problems,
            CompiledCondition {
                types,
                root,
                constants,
            },
            output,
        )
    }

    fn register_output(&mut self, definition: &RuleDef, label: &str) -> SourceId {
        self.sources
            .add_text(definition.output.clone(), format!("{label} output"))
    }

    /// The rule condition `and not` each exception clause (Falco's layout).
    fn condition_with_exceptions(&mut self, definition: &RuleDef, label: &str) -> Option<Expr> {
        let source = self
            .sources
            .add_text(definition.condition.clone(), label.to_string());
        let condition = match parse_condition(definition.condition.as_str(), source) {
            Ok(expr) => expr,
            Err(error) => {
                self.diagnostics.push(
                    parse_error(
                        self.sources,
                        source,
                        definition.condition.as_str(),
                        &error,
                        "condition",
                    )
                    .with_item(label.to_string()),
                );
                return None;
            }
        };
        let mut children = vec![condition];
        let mut failed = false;
        for exception in &definition.exceptions {
            let source = self.sources.add_fixed(
                exception.position.clone(),
                format!("{label} exception `{}`", exception.name),
            );
            match exception_clause(exception, source) {
                Ok(Some(clause)) => {
                    let span = clause.span();
                    children.push(Expr::Not(Box::new(clause), span));
                }
                Ok(None) => {}
                Err(error) => {
                    self.diagnostics.push(error.with_item(label.to_string()));
                    failed = true;
                }
            }
        }
        if failed {
            return None;
        }
        Some(if children.len() == 1 {
            children.remove(0)
        } else {
            let span = children[0].span();
            Expr::And(children, span)
        })
    }

    fn finish(
        &mut self,
        definition: &RuleDef,
        label: String,
        problems: Problems,
        condition: CompiledCondition,
        output: OutputTemplate,
    ) -> (RuleStatus, Option<Rule>) {
        let CompiledCondition {
            types,
            root,
            constants,
        } = condition;
        for warning in problems.warnings {
            self.diagnostics.push(warning.with_item(label.clone()));
        }
        if !problems.errors.is_empty() {
            for error in problems.errors {
                self.diagnostics.push(error.with_item(label.clone()));
            }
            return (RuleStatus::Failed, None);
        }
        if !problems.unknown.is_empty() {
            if definition.skip_if_unknown_filter {
                let reasons: Vec<String> =
                    problems.unknown.iter().map(|d| d.message.clone()).collect();
                for unknown in problems.unknown {
                    self.diagnostics.push(
                        Diagnostic::warning(unknown.position, unknown.message)
                            .with_item(label.clone()),
                    );
                }
                return (
                    RuleStatus::Skipped {
                        reasons,
                        silent: true,
                    },
                    None,
                );
            }
            for unknown in problems.unknown {
                self.diagnostics.push(unknown.with_item(label.clone()));
            }
            return (RuleStatus::Failed, None);
        }

        let mut reasons: Vec<String> = problems
            .unsupported
            .into_iter()
            .map(|(reason, _)| reason)
            .collect();
        let runs_on = types.intersection(self.captured);
        if runs_on.is_empty() && !types.is_empty() {
            reasons.insert(
                0,
                format!("event types `{}` are not captured", type_list(&types)),
            );
        }
        if !reasons.is_empty() {
            return (
                RuleStatus::Skipped {
                    reasons,
                    silent: definition.skip_if_unknown_filter,
                },
                None,
            );
        }

        if types.is_empty() {
            self.diagnostics.push(
                Diagnostic::warning(definition.position.clone(), "the condition can never match any event type (e.g. it uses `never_true`); the rule never fires")
                    .with_item(label.clone()),
            );
        } else if types.len() > MANY_EVENT_TYPES {
            if definition.warn_evttypes {
                self.diagnostics.push(
                    Diagnostic::warning(
                        definition.position.clone(),
                        "Rule matches too many evt.type values. This has a significant performance penalty. Add `evt.type in (...)` to the condition (or `warn_evttypes: false`)",
                    )
                    .with_item(label.clone()),
                );
            }
        } else {
            let missing = types.intersection(&self.captured.complement());
            if !missing.is_empty() {
                self.diagnostics.push(
                    Diagnostic::warning(
                        definition.position.clone(),
                        format!(
                            "event types `{}` are not captured by this sensor; the rule runs on `{}` only",
                            type_list(&missing),
                            type_list(&runs_on)
                        ),
                    )
                    .with_item(label.clone()),
                );
            }
        }

        for warning in problems.output_warnings {
            self.diagnostics.push(warning.with_item(label.clone()));
        }
        let enabled = definition.enabled
            && definition.priority.at_least(self.options.min_priority)
            && !definition
                .tags
                .iter()
                .any(|tag| self.options.disabled_tags.contains(tag))
            && !self.options.disabled_rules.contains(&definition.name);
        let event_types: Vec<&'static str> = runs_on.iter().map(EventTypeId::name).collect();
        let rule = Rule {
            name: definition.name.clone(),
            description: definition.desc.clone(),
            priority: definition.priority,
            tags: definition.tags.iter().cloned().collect(),
            enabled,
            source: definition.source.clone(),
            event_types,
            position: definition.position.clone(),
            program: Program::new(root, types),
            output,
            constants,
        };
        (RuleStatus::Compiled { enabled }, Some(rule))
    }
}
