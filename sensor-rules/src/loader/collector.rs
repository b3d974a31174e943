//! Gathers lists, macros and rules across files in load order, applying later files'
//! definitions, appends and overrides to earlier ones exactly as Falco's collector does.

use std::collections::HashMap;

use super::exception_check::validate_exception;
use super::items::{ListDef, ListItemDef, MacroDef, RuleDef, RuleUpdate};
use super::source_text::SourceText;
use crate::diagnostic::{Diagnostic, Position};

const NO_PREVIOUS_LIST: &str = "List uses 'append' or 'override.items: append' but no list by that name already exists; define the list first (or load the file that defines it earlier)";
const NO_PREVIOUS_MACRO: &str = "Macro uses 'append' or 'override.condition: append' but no macro by that name already exists; define the macro first (or load the file that defines it earlier)";
const NO_PREVIOUS_RULE_APPEND: &str = "Rule uses 'append' or 'override.<key>: append' but no rule by that name already exists; define the rule first (or load the file that defines it earlier)";
const NO_PREVIOUS_RULE_REPLACE: &str = "An 'override.<key>: replace' to a rule was requested but no rule by that name already exists; define the rule first (or load the file that defines it earlier)";

/// Items in first-definition order, addressable by name.
#[derive(Clone, Debug)]
pub struct Indexed<T> {
    items: Vec<T>,
    by_name: HashMap<String, usize>,
}

impl<T> Default for Indexed<T> {
    fn default() -> Self {
        Indexed {
            items: Vec::new(),
            by_name: HashMap::new(),
        }
    }
}

impl<T> Indexed<T> {
    pub fn get(&self, name: &str) -> Option<&T> {
        self.by_name.get(name).map(|index| &self.items[*index])
    }

    fn get_mut(&mut self, name: &str) -> Option<&mut T> {
        self.by_name.get(name).map(|index| &mut self.items[*index])
    }

    fn insert(&mut self, name: String, item: T) {
        match self.by_name.get(&name) {
            Some(index) => self.items[*index] = item,
            None => {
                self.by_name.insert(name, self.items.len());
                self.items.push(item);
            }
        }
    }

    pub fn iter(&self) -> impl Iterator<Item = &T> {
        self.items.iter()
    }

    pub fn len(&self) -> usize {
        self.items.len()
    }

    pub fn is_empty(&self) -> bool {
        self.items.is_empty()
    }
}

/// A plugin version requirement (`required_plugin_versions`), with its alternatives.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PluginRequirement {
    pub alternatives: Vec<(String, String)>,
    pub position: Position,
}

#[derive(Clone, Debug, Default)]
pub struct Collector {
    pub lists: Indexed<ListDef>,
    pub macros: Indexed<MacroDef>,
    pub rules: Indexed<RuleDef>,
    pub plugin_requirements: Vec<PluginRequirement>,
    /// The highest `required_engine_version` seen, as (major, minor, patch).
    pub required_engine_version: Option<(u64, u64, u64)>,
    next_index: u32,
}

impl Collector {
    fn take_index(&mut self) -> u32 {
        let index = self.next_index;
        self.next_index += 1;
        index
    }

    pub fn define_list(&mut self, mut list: ListDef) {
        let order = self.take_index();
        list.visibility = order;
        list.index = self
            .lists
            .get(&list.name)
            .map_or(order, |previous| previous.index);
        self.lists.insert(list.name.clone(), list);
    }

    pub fn append_list(
        &mut self,
        name: &str,
        items: Vec<ListItemDef>,
        position: &Position,
    ) -> Result<(), Diagnostic> {
        let order = self.take_index();
        let Some(previous) = self.lists.get_mut(name) else {
            return Err(Diagnostic::error(position.clone(), NO_PREVIOUS_LIST));
        };
        previous.items.extend(items);
        previous.visibility = order;
        Ok(())
    }

    pub fn define_macro(&mut self, mut definition: MacroDef) {
        let order = self.take_index();
        definition.visibility = order;
        definition.index = self
            .macros
            .get(&definition.name)
            .map_or(order, |previous| previous.index);
        self.macros.insert(definition.name.clone(), definition);
    }

    pub fn append_macro(
        &mut self,
        name: &str,
        condition: &SourceText,
        position: &Position,
    ) -> Result<(), Diagnostic> {
        let order = self.take_index();
        let Some(previous) = self.macros.get_mut(name) else {
            return Err(Diagnostic::error(position.clone(), NO_PREVIOUS_MACRO));
        };
        previous.condition.append(condition);
        previous.visibility = order;
        Ok(())
    }

    fn check_same_source(
        &self,
        name: &str,
        source: &str,
        position: &Position,
    ) -> Result<(), Diagnostic> {
        match self.rules.get(name) {
            Some(previous) if !previous.source.is_empty() && !source.is_empty() && previous.source != source => {
                Err(Diagnostic::error(
                    position.clone(),
                    format!(
                        "Rule has been re-defined with a different source (`{}` before, `{}` now); give the new rule another name",
                        previous.source, source
                    ),
                ))
            }
            _ => Ok(()),
        }
    }

    pub fn define_rule(&mut self, mut rule: RuleDef) -> Result<(), Diagnostic> {
        self.check_same_source(&rule.name, &rule.source, &rule.position)?;
        for exception in &mut rule.exceptions {
            validate_exception(exception)?;
        }
        let order = self.take_index();
        rule.index = self
            .rules
            .get(&rule.name)
            .map_or(order, |previous| previous.index);
        self.rules.insert(rule.name.clone(), rule);
        Ok(())
    }

    pub fn append_rule(
        &mut self,
        name: &str,
        source: &str,
        update: RuleUpdate,
        position: &Position,
    ) -> Result<(), Diagnostic> {
        self.check_same_source(name, source, position)?;
        self.take_index();
        let Some(previous) = self.rules.get_mut(name) else {
            return Err(Diagnostic::error(position.clone(), NO_PREVIOUS_RULE_APPEND));
        };
        if update.is_empty() {
            return Err(Diagnostic::error(
                position.clone(),
                "Appended rule must have exceptions or condition property (or another appendable key: output, desc, tags)",
            ));
        }
        if let Some(condition) = update.condition.filter(|c| !c.is_empty()) {
            previous.condition.append(&condition);
        }
        if let Some(output) = update.output.filter(|o| !o.is_empty()) {
            previous.output.append(&output);
        }
        if let Some(desc) = update.desc.filter(|d| !d.is_empty()) {
            previous.desc.push(' ');
            previous.desc.push_str(&desc);
        }
        if let Some(tags) = update.tags {
            previous.tags.extend(tags);
        }
        for mut exception in update.exceptions.unwrap_or_default() {
            match previous
                .exceptions
                .iter_mut()
                .find(|e| e.name == exception.name)
            {
                None => {
                    if exception.fields.is_none() {
                        return Err(Diagnostic::error(
                            exception.position.clone(),
                            format!("Rule exception `{}` must have fields property with a list of fields", exception.name),
                        ));
                    }
                    if exception.values.is_empty() {
                        return Err(Diagnostic::error(
                            exception.position.clone(),
                            format!("Rule exception `{}` must have values property with a list of values", exception.name),
                        ));
                    }
                    validate_exception(&mut exception)?;
                    previous.exceptions.push(exception);
                }
                Some(existing) => {
                    if exception.fields.is_some() {
                        return Err(Diagnostic::error(
                            exception.position.clone(),
                            format!("Can not append exception fields to existing exception `{}`, only values", exception.name),
                        ));
                    }
                    if exception.comps.is_some() {
                        return Err(Diagnostic::error(
                            exception.position.clone(),
                            format!("Can not append exception comps to existing exception `{}`, only values", exception.name),
                        ));
                    }
                    existing.values.extend(exception.values);
                }
            }
        }
        Ok(())
    }

    pub fn replace_rule(
        &mut self,
        name: &str,
        source: &str,
        update: RuleUpdate,
        position: &Position,
    ) -> Result<(), Diagnostic> {
        self.check_same_source(name, source, position)?;
        self.take_index();
        let Some(previous) = self.rules.get_mut(name) else {
            return Err(Diagnostic::error(
                position.clone(),
                NO_PREVIOUS_RULE_REPLACE,
            ));
        };
        if update.is_empty() {
            return Err(Diagnostic::error(
                position.clone(),
                "The rule must have at least one field that can be replaced: add the key named under `override`",
            ));
        }
        if let Some(condition) = update.condition {
            previous.condition = condition;
        }
        if let Some(output) = update.output {
            previous.output = output;
        }
        if let Some(desc) = update.desc {
            previous.desc = desc;
        }
        if let Some(tags) = update.tags {
            previous.tags = tags;
        }
        if let Some(mut exceptions) = update.exceptions {
            for exception in &mut exceptions {
                validate_exception(exception)?;
            }
            previous.exceptions = exceptions;
        }
        if let Some(priority) = update.priority {
            previous.priority = priority;
        }
        if let Some(enabled) = update.enabled {
            previous.enabled = enabled;
        }
        if let Some(warn) = update.warn_evttypes {
            previous.warn_evttypes = warn;
        }
        if let Some(skip) = update.skip_if_unknown_filter {
            previous.skip_if_unknown_filter = skip;
        }
        Ok(())
    }

    /// The deprecated form `- rule: X` + `enabled: false` with no other keys.
    pub fn enable_rule(
        &mut self,
        name: &str,
        enabled: bool,
        position: &Position,
    ) -> Result<(), Diagnostic> {
        let Some(previous) = self.rules.get_mut(name) else {
            return Err(Diagnostic::error(
                position.clone(),
                "Rule has 'enabled' key but no rule by that name already exists; check the rule name or load the file that defines it earlier",
            ));
        };
        previous.enabled = enabled;
        Ok(())
    }
}
