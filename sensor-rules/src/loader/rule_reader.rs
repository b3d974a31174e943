//! Reads `- rule:` items: definitions, the deprecated `append: true` and `enabled`-only forms,
//! `override` (append/replace) and exceptions. Follows Falco's `rule_loader_reader.cpp`.

use std::collections::BTreeSet;

use super::collector::Collector;
use super::decode::{
    optional_bool, optional_empty_string, optional_string, overrides, required_bool,
    required_string, string_sequence, unknown_key_warnings, FileContext,
};
use super::items::{ExceptionDef, ExceptionEntry, RuleDef, RuleUpdate};
use super::reader::{ERROR_OVERRIDE_APPEND, WARNING_APPEND};
use crate::diagnostic::{Diagnostic, Diagnostics};
use crate::output::Priority;
use crate::yaml::Node;

const WARNING_ENABLED: &str = "The standalone 'enabled' key usage is deprecated. The correct approach requires also a 'replace' entry under the 'override' key (i.e. 'enabled: replace').";

const APPENDABLE: &[&str] = &["condition", "output", "desc", "tags", "exceptions"];
const REPLACEABLE: &[&str] = &[
    "condition",
    "output",
    "desc",
    "priority",
    "capture",
    "capture_duration",
    "tags",
    "exceptions",
    "enabled",
    "warn_evttypes",
    "skip-if-unknown-filter",
];
const RULE_KEYS: &[&str] = &[
    "rule",
    "condition",
    "output",
    "desc",
    "priority",
    "source",
    "enabled",
    "capture",
    "capture_duration",
    "warn_evttypes",
    "skip-if-unknown-filter",
    "tags",
    "exceptions",
    "override",
    "append",
];

pub(crate) const SYSCALL_SOURCE: &str = "syscall";

pub fn read_rule(
    ctx: &FileContext,
    item: &Node,
    collector: &mut Collector,
    diagnostics: &mut Diagnostics,
) -> Result<(), Diagnostic> {
    let (name, _) = required_string(ctx, item, "rule")?;
    let item_name = format!("rule `{name}`");
    let result = read_named_rule(ctx, item, &name, collector, diagnostics);
    for warning in unknown_key_warnings(ctx, item, RULE_KEYS) {
        diagnostics.push(warning.with_item(item_name.clone()));
    }
    result.map_err(|error| error.with_item(item_name))
}

fn read_named_rule(
    ctx: &FileContext,
    item: &Node,
    name: &str,
    collector: &mut Collector,
    diagnostics: &mut Diagnostics,
) -> Result<(), Diagnostic> {
    let position = ctx.item_position(item);
    let source = optional_empty_string(ctx, item, "source")?;
    let has_append_flag = optional_bool(ctx, item, "append")?.unwrap_or(false);
    if has_append_flag {
        diagnostics.push(
            Diagnostic::warning(position.clone(), WARNING_APPEND)
                .with_item(format!("rule `{name}`")),
        );
    }
    let overrides = overrides(ctx, item, APPENDABLE, REPLACEABLE)?;
    if has_append_flag && !overrides.is_empty() {
        return Err(Diagnostic::error(position, ERROR_OVERRIDE_APPEND));
    }

    if !overrides.is_empty() {
        // Keys present in the item that an override could concern; each must be claimed.
        let mut expected: Vec<&str> = APPENDABLE
            .iter()
            .chain(REPLACEABLE)
            .copied()
            .filter(|key| item.get(key).is_some())
            .collect();
        expected.sort_unstable();
        expected.dedup();
        let mut claim = |key: &str, operation: &str| -> Result<(), Diagnostic> {
            match expected.iter().position(|k| *k == key) {
                Some(index) => {
                    expected.remove(index);
                    Ok(())
                }
                None => Err(Diagnostic::error(
                    position.clone(),
                    format!("An {operation} override for '{key}' was specified but '{key}' is not defined: add `{key}: ...` to this item"),
                )),
            }
        };
        if !overrides.append.is_empty() {
            let mut update = RuleUpdate::default();
            for key in &overrides.append {
                claim(key, "append")?;
                read_update_key(ctx, item, key, true, &mut update, diagnostics)?;
            }
            collector.append_rule(name, &source, update, &position)?;
        }
        if !overrides.replace.is_empty() {
            let mut update = RuleUpdate::default();
            for key in &overrides.replace {
                claim(key, "replace")?;
                read_update_key(ctx, item, key, false, &mut update, diagnostics)?;
            }
            collector.replace_rule(name, &source, update, &position)?;
        }
        if let Some(key) = expected.first() {
            let node = item.get_entry(key).map(|(k, _)| k).unwrap_or(item);
            return Err(ctx.error(
                node,
                format!("Unexpected key '{key}': no corresponding entry under 'override' is defined; add `{key}: append` or `{key}: replace` under `override`"),
            ));
        }
        return Ok(());
    }

    if has_append_flag {
        let mut update = RuleUpdate::default();
        if let Some((condition, node)) = optional_string(ctx, item, "condition")? {
            update.condition = Some(ctx.source_text(node, condition));
        }
        if item.get("exceptions").is_some() {
            update.exceptions = Some(read_exceptions(ctx, item, true, diagnostics)?);
        }
        return collector.append_rule(name, &source, update, &position);
    }

    let defines_rule = ["condition", "output", "desc", "priority"]
        .iter()
        .any(|key| item.get(key).is_some());
    if !defines_rule {
        let enabled = required_bool(ctx, item, "enabled")?;
        diagnostics.push(
            Diagnostic::warning(position.clone(), WARNING_ENABLED)
                .with_item(format!("rule `{name}`")),
        );
        return collector.enable_rule(name, enabled, &position);
    }

    let (condition, condition_node) = required_string(ctx, item, "condition")?;
    let (output, output_node) = required_string(ctx, item, "output")?;
    let (desc, _) = required_string(ctx, item, "desc")?;
    let (priority_text, priority_node) = required_string(ctx, item, "priority")?;
    let priority = Priority::parse(&priority_text).ok_or_else(|| {
        ctx.error(
            priority_node,
            format!("Invalid priority `{priority_text}`: use one of Emergency, Alert, Critical, Error, Warning, Notice, Informational (or Info), Debug"),
        )
    })?;
    let mut output = ctx.source_text(output_node, output);
    output.trim();
    let source = match optional_string(ctx, item, "source")? {
        Some((source, _)) => source,
        None => SYSCALL_SOURCE.to_string(),
    };
    let rule = RuleDef {
        name: name.to_string(),
        position,
        desc,
        condition: ctx.source_text(condition_node, condition),
        output,
        priority,
        tags: read_tags(ctx, item)?.unwrap_or_default(),
        enabled: optional_bool(ctx, item, "enabled")?.unwrap_or(true),
        source,
        exceptions: read_exceptions(ctx, item, false, diagnostics)?,
        warn_evttypes: optional_bool(ctx, item, "warn_evttypes")?.unwrap_or(true),
        skip_if_unknown_filter: optional_bool(ctx, item, "skip-if-unknown-filter")?
            .unwrap_or(false),
        index: 0,
    };
    // capture and capture_duration are Falco capture options; accepted and ignored here.
    optional_bool(ctx, item, "capture")?;
    collector.define_rule(rule)
}

fn read_update_key(
    ctx: &FileContext,
    item: &Node,
    key: &str,
    append: bool,
    update: &mut RuleUpdate,
    diagnostics: &mut Diagnostics,
) -> Result<(), Diagnostic> {
    match key {
        "condition" => {
            let (text, node) = required_string(ctx, item, key)?;
            update.condition = Some(ctx.source_text(node, text));
        }
        "output" => {
            let (text, node) = required_string(ctx, item, key)?;
            update.output = Some(ctx.source_text(node, text));
        }
        "desc" => update.desc = Some(required_string(ctx, item, key)?.0),
        "tags" => update.tags = Some(read_tags(ctx, item)?.unwrap_or_default()),
        "exceptions" => update.exceptions = Some(read_exceptions(ctx, item, append, diagnostics)?),
        "priority" => {
            let (text, node) = required_string(ctx, item, key)?;
            let priority = Priority::parse(&text).ok_or_else(|| {
                ctx.error(node, format!("Invalid priority `{text}`: use one of Emergency, Alert, Critical, Error, Warning, Notice, Informational (or Info), Debug"))
            })?;
            update.priority = Some(priority);
        }
        "enabled" => update.enabled = Some(required_bool(ctx, item, key)?),
        "warn_evttypes" => update.warn_evttypes = Some(required_bool(ctx, item, key)?),
        "skip-if-unknown-filter" => {
            update.skip_if_unknown_filter = Some(required_bool(ctx, item, key)?)
        }
        // capture, capture_duration: accepted, not used by the sensor.
        _ => {}
    }
    Ok(())
}

fn read_tags(ctx: &FileContext, item: &Node) -> Result<Option<BTreeSet<String>>, Diagnostic> {
    Ok(string_sequence(ctx, item, "tags")?
        .map(|tags| tags.into_iter().map(|(tag, _)| tag).collect()))
}

fn read_entry(ctx: &FileContext, node: &Node, what: &str) -> Result<ExceptionEntry, Diagnostic> {
    if let Some(elements) = node.as_sequence() {
        let items = elements
            .iter()
            .map(|element| read_entry(ctx, element, what))
            .collect::<Result<Vec<_>, _>>()?;
        return Ok(ExceptionEntry::List(items, ctx.position(node)));
    }
    match node.as_scalar() {
        Some(text) if !text.is_empty() && !node.is_null() => {
            Ok(ExceptionEntry::Scalar(text.to_string(), ctx.position(node)))
        }
        Some(_) => Err(ctx.error(
            node,
            format!("Value must be non-empty: give the exception {what} a value"),
        )),
        None => Err(ctx.error(
            node,
            format!(
                "exception {what} must be a string or a list, not {}",
                node.kind_name()
            ),
        )),
    }
}

fn read_exceptions(
    ctx: &FileContext,
    item: &Node,
    append: bool,
    diagnostics: &mut Diagnostics,
) -> Result<Vec<ExceptionDef>, Diagnostic> {
    let Some(node) = item.get("exceptions") else {
        return Ok(Vec::new());
    };
    if node.is_null() {
        return Ok(Vec::new());
    }
    let Some(entries) = node.as_sequence() else {
        return Err(ctx.error(
            node,
            "Rule exceptions must be a sequence of `- name: ...` items",
        ));
    };
    let mut exceptions: Vec<ExceptionDef> = Vec::new();
    for entry in entries {
        if entry.as_mapping().is_none() {
            return Err(ctx.error(
                entry,
                "Rule exception must be a mapping with name, fields, comps and values",
            ));
        }
        let (name, _) = required_string(ctx, entry, "name")?;
        let position = ctx.item_position(entry);
        if exceptions.iter().any(|e| e.name == name) {
            diagnostics.warning(
                position.clone(),
                format!("Multiple definitions of exception '{name}' in the same rule; give each exception its own name"),
            );
        }
        let fields = match entry.get("fields") {
            Some(fields) => Some(read_entry(ctx, fields, "fields")?),
            None if append => None,
            None => {
                return Err(Diagnostic::error(
                    position,
                    format!("Item has no mapping for key 'fields': exception `{name}` needs `fields: [proc.name, ...]`"),
                ))
            }
        };
        let comps = entry
            .get("comps")
            .map(|comps| read_entry(ctx, comps, "comps"))
            .transpose()?;
        let mut values = Vec::new();
        match entry.get("values") {
            Some(list) => {
                let Some(elements) = list.as_sequence() else {
                    return Err(ctx.error(list, "Rule exception values must be a sequence"));
                };
                for element in elements {
                    values.push(read_entry(ctx, element, "values")?);
                }
            }
            None if append => diagnostics.warning(
                position.clone(),
                "Overriding/appending exception with no values; add `values: [...]`",
            ),
            None => {}
        }
        exceptions.push(ExceptionDef {
            name,
            position,
            fields,
            comps,
            values,
        });
    }
    Ok(exceptions)
}
