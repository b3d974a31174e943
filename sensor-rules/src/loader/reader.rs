//! Reads one rules file into the collector: the top-level items, lists and macros
//! (rules are in `rule_reader`). Follows Falco's `rule_loader_reader.cpp`.

use super::collector::{Collector, PluginRequirement};
use super::decode::{
    optional_bool, overrides, required_string, string_sequence, unknown_key_warnings, FileContext,
};
use super::items::{ListDef, ListItemDef, MacroDef};
use super::rule_reader::read_rule;
use super::source::RuleSource;
use crate::diagnostic::{Diagnostic, Diagnostics, Position};
use crate::limits::MAX_RULES_FILE_BYTES;
use crate::yaml::{parse_documents, Node, YamlErrorKind};

/// The Falco engine version whose rule language this crate implements.
pub const ENGINE_VERSION: (u64, u64, u64) = (0, 63, 0);

pub(crate) const WARNING_APPEND: &str = "'append' key is deprecated. Add an 'append' entry (e.g. 'condition: append') under 'override' instead.";
pub(crate) const ERROR_OVERRIDE_APPEND: &str = "Keys 'override' and 'append: true' cannot be used together. Add an 'append' entry (e.g. 'condition: append') under 'override' instead.";

/// Reads every item of `source`; problems go to `diagnostics`, good items to `collector`.
/// A YAML syntax error discards the whole file (as Falco does); an invalid item is skipped
/// and reading goes on with the next one.
pub fn read_source(source: &RuleSource, collector: &mut Collector, diagnostics: &mut Diagnostics) {
    let ctx = FileContext {
        name: source.name.clone(),
        text: source.content.clone(),
    };
    if source.content.len() > MAX_RULES_FILE_BYTES {
        diagnostics.error(
            Position::file_start(ctx.name.clone()),
            format!(
                "the file has {} bytes, more than the {MAX_RULES_FILE_BYTES} a rules file may have (MAX_RULES_FILE_BYTES; Falco's largest rules file has 95 KB); nothing from this file was loaded, split it into several files",
                source.content.len()
            ),
        );
        return;
    }
    let documents = match parse_documents(&source.content) {
        Ok(documents) => documents,
        Err(error) => {
            let position = Position::new(ctx.name.clone(), error.mark.line, error.mark.column);
            diagnostics.error(
                position,
                match error.kind {
                    YamlErrorKind::Syntax => format!(
                        "YAML syntax error: {}; nothing from this file was loaded, fix the YAML (indentation, quotes, colons) here",
                        error.message
                    ),
                    YamlErrorKind::Limit => {
                        format!("{}; nothing from this file was loaded", error.message)
                    }
                },
            );
            return;
        }
    };
    for document in &documents {
        let Some(items) = document.as_sequence() else {
            diagnostics.error(
                ctx.position(document),
                "Rules content is not yaml array of objects: a rules file is a YAML list of items such as `- rule: ...`, `- macro: ...`, `- list: ...`",
            );
            continue;
        };
        for item in items.iter().filter(|item| !item.is_null()) {
            read_item(&ctx, item, collector, diagnostics);
        }
    }
}

fn read_item(
    ctx: &FileContext,
    item: &Node,
    collector: &mut Collector,
    diagnostics: &mut Diagnostics,
) {
    if item.as_mapping().is_none() {
        diagnostics.error(
            ctx.position(item),
            "Unexpected element type. Each element should be a yaml associative array (e.g. `- rule: name`).",
        );
        return;
    }
    let result = if item.get("required_engine_version").is_some() {
        read_engine_version(ctx, item, collector, diagnostics)
    } else if item.get("required_plugin_versions").is_some() {
        read_plugin_versions(ctx, item, collector, diagnostics)
    } else if item.get("list").is_some() {
        read_list(ctx, item, collector, diagnostics)
    } else if item.get("macro").is_some() {
        read_macro(ctx, item, collector, diagnostics)
    } else if item.get("rule").is_some() {
        read_rule(ctx, item, collector, diagnostics)
    } else {
        diagnostics.warning(
            ctx.item_position(item),
            "Unknown top level item: expected one of rule, macro, list, required_engine_version, required_plugin_versions; the item is ignored",
        );
        Ok(())
    };
    if let Err(error) = result {
        diagnostics.push(error);
    }
}

fn parse_version(text: &str) -> Option<(u64, u64, u64)> {
    if let Ok(minor) = text.parse::<u32>() {
        // Before semver, engine versions were plain integers meaning 0.N.0.
        return Some((0, u64::from(minor), 0));
    }
    let core = text.split(['-', '+']).next()?;
    let mut parts = core.split('.');
    let version = (
        parts.next()?.parse().ok()?,
        parts.next()?.parse().ok()?,
        parts.next()?.parse().ok()?,
    );
    parts.next().is_none().then_some(version)
}

fn read_engine_version(
    ctx: &FileContext,
    item: &Node,
    collector: &mut Collector,
    diagnostics: &mut Diagnostics,
) -> Result<(), Diagnostic> {
    let (text, node) = required_string(ctx, item, "required_engine_version")?;
    let Some(version) = parse_version(&text) else {
        return Err(ctx.error(
            node,
            format!("Unable to parse engine version '{text}' as a semver string. Expected \"x.y.z\" semver format."),
        ));
    };
    let (major, minor, patch) = ENGINE_VERSION;
    let compatible = version.0 == major && (version.1, version.2) <= (minor, patch);
    if !compatible {
        return Err(ctx.error(
            node,
            format!(
                "Rules require engine version {}.{}.{}, but engine version is {major}.{minor}.{patch}; use rules written for this engine version or older",
                version.0, version.1, version.2
            ),
        ));
    }
    if collector
        .required_engine_version
        .is_none_or(|current| current < version)
    {
        collector.required_engine_version = Some(version);
    }
    for warning in unknown_key_warnings(ctx, item, &["required_engine_version"]) {
        diagnostics.push(warning);
    }
    Ok(())
}

fn read_plugin_versions(
    ctx: &FileContext,
    item: &Node,
    collector: &mut Collector,
    diagnostics: &mut Diagnostics,
) -> Result<(), Diagnostic> {
    let Some(value) = item.get("required_plugin_versions") else {
        return Ok(());
    };
    let Some(plugins) = value.as_sequence() else {
        return Err(ctx.error(
            value,
            "Value of required_plugin_versions must be a sequence of `{name: ..., version: ...}`",
        ));
    };
    for plugin in plugins {
        if plugin.as_mapping().is_none() {
            return Err(ctx.error(
                plugin,
                "Plugin version must be a mapping with `name` and `version`",
            ));
        }
        let mut alternatives = Vec::new();
        let (name, _) = required_string(ctx, plugin, "name")?;
        let (version, version_node) = required_string(ctx, plugin, "version")?;
        if parse_version(&version).is_none() {
            return Err(ctx.error(
                version_node,
                format!(
                    "Invalid required version '{version}' for plugin '{name}': expected \"x.y.z\""
                ),
            ));
        }
        alternatives.push((name, version));
        if let Some(list) = plugin.get("alternatives") {
            let Some(entries) = list.as_sequence() else {
                return Err(ctx.error(
                    list,
                    "Value of plugin version alternatives must be a sequence",
                ));
            };
            for entry in entries {
                if entry.as_mapping().is_none() {
                    return Err(ctx.error(
                        entry,
                        "Plugin version alternative must be a mapping with `name` and `version`",
                    ));
                }
                let (name, _) = required_string(ctx, entry, "name")?;
                let (version, _) = required_string(ctx, entry, "version")?;
                if alternatives.iter().any(|(n, _)| *n == name) {
                    return Err(ctx.error(
                        entry,
                        format!(
                            "Defined multiple alternative version requirements for plugin '{name}'"
                        ),
                    ));
                }
                alternatives.push((name, version));
            }
        }
        collector.plugin_requirements.push(PluginRequirement {
            alternatives,
            position: ctx.position(plugin),
        });
    }
    for warning in unknown_key_warnings(ctx, item, &["required_plugin_versions"]) {
        diagnostics.push(warning);
    }
    Ok(())
}

/// Falco's `RGX_BARESTR`: what a list name must look like to be usable in conditions.
fn is_bare_string(name: &str) -> bool {
    !name.is_empty()
        && !name.bytes().any(|b| {
            matches!(b, b'(' | b')' | b'"' | b'\'' | b'=' | b',') || b.is_ascii_whitespace()
        })
}

/// Falco's `RGX_IDENTIFIER`: what a macro name must look like to be usable in conditions.
fn is_identifier(name: &str) -> bool {
    let mut bytes = name.bytes();
    bytes.next().is_some_and(|b| b.is_ascii_alphabetic())
        && bytes.all(|b| b.is_ascii_alphanumeric() || b == b'_')
}

fn read_list(
    ctx: &FileContext,
    item: &Node,
    collector: &mut Collector,
    diagnostics: &mut Diagnostics,
) -> Result<(), Diagnostic> {
    let (name, _) = required_string(ctx, item, "list")?;
    let position = ctx.item_position(item);
    let item_name = format!("list `{name}`");
    if !is_bare_string(&name) {
        diagnostics.push(
            Diagnostic::warning(
                position.clone(),
                "List has an invalid name. List names should match a regular expression: ([^()\"'[:space:]=,]+)",
            )
            .with_item(item_name.clone()),
        );
    }
    let items = string_sequence(ctx, item, "items")
        .map_err(|e| e.with_item(item_name.clone()))?
        .ok_or_else(|| {
            Diagnostic::error(
                position.clone(),
                "Item has no mapping for key 'items': add `items: [a, b]`",
            )
            .with_item(item_name.clone())
        })?;
    let items: Vec<ListItemDef> = items
        .into_iter()
        .map(|(value, position)| ListItemDef { value, position })
        .collect();
    let mut append = optional_bool(ctx, item, "append")?.unwrap_or(false);
    if append {
        diagnostics.push(
            Diagnostic::warning(position.clone(), WARNING_APPEND).with_item(item_name.clone()),
        );
    }
    let overrides =
        overrides(ctx, item, &["items"], &["items"]).map_err(|e| e.with_item(item_name.clone()))?;
    if append && !overrides.is_empty() {
        return Err(Diagnostic::error(position, ERROR_OVERRIDE_APPEND).with_item(item_name));
    }
    append |= overrides.appends("items");
    if append {
        collector
            .append_list(&name, items, &position)
            .map_err(|e| e.with_item(item_name.clone()))?;
    } else {
        collector.define_list(ListDef {
            name,
            items,
            position,
            index: 0,
            visibility: 0,
        });
    }
    for warning in unknown_key_warnings(ctx, item, &["list", "items", "append", "override"]) {
        diagnostics.push(warning.with_item(item_name.clone()));
    }
    Ok(())
}

fn read_macro(
    ctx: &FileContext,
    item: &Node,
    collector: &mut Collector,
    diagnostics: &mut Diagnostics,
) -> Result<(), Diagnostic> {
    let (name, _) = required_string(ctx, item, "macro")?;
    let position = ctx.item_position(item);
    let item_name = format!("macro `{name}`");
    if !is_identifier(&name) {
        diagnostics.push(
            Diagnostic::warning(
                position.clone(),
                "Macro has an invalid name. Macro names should match a regular expression: ([a-zA-Z]+[a-zA-Z0-9_]*)",
            )
            .with_item(item_name.clone()),
        );
    }
    let (condition, condition_node) =
        required_string(ctx, item, "condition").map_err(|e| e.with_item(item_name.clone()))?;
    let condition = ctx.source_text(condition_node, condition);
    let mut append = optional_bool(ctx, item, "append")?.unwrap_or(false);
    if append {
        diagnostics.push(
            Diagnostic::warning(position.clone(), WARNING_APPEND).with_item(item_name.clone()),
        );
    }
    let overrides = overrides(ctx, item, &["condition"], &["condition"])
        .map_err(|e| e.with_item(item_name.clone()))?;
    if append && !overrides.is_empty() {
        return Err(Diagnostic::error(position, ERROR_OVERRIDE_APPEND).with_item(item_name));
    }
    append |= overrides.appends("condition");
    if append {
        collector
            .append_macro(&name, &condition, &position)
            .map_err(|e| e.with_item(item_name.clone()))?;
    } else {
        collector.define_macro(MacroDef {
            name,
            condition,
            position,
            index: 0,
            visibility: 0,
        });
    }
    for warning in unknown_key_warnings(ctx, item, &["macro", "condition", "append", "override"]) {
        diagnostics.push(warning.with_item(item_name.clone()));
    }
    Ok(())
}
