//! The compiled, immutable rule set the agent evaluates events against.

use std::collections::BTreeSet;

use smallvec::SmallVec;

use super::rule::Rule;
use crate::event::Event;
use crate::fields::EventTypeId;

/// Falco's `rule_matching` option.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum MatchMode {
    /// Stop at the first matching rule, in load order (Falco's default).
    #[default]
    First,
    /// Every matching rule.
    All,
}

#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("invalid rule_matching `{0}`: use `first` or `all`")]
pub struct InvalidMatchMode(pub String);

impl std::str::FromStr for MatchMode {
    type Err = InvalidMatchMode;

    /// Falco's `rule_matching` values, case-insensitive.
    fn from_str(text: &str) -> Result<Self, Self::Err> {
        if text.eq_ignore_ascii_case("first") {
            Ok(MatchMode::First)
        } else if text.eq_ignore_ascii_case("all") {
            Ok(MatchMode::All)
        } else {
            Err(InvalidMatchMode(text.to_string()))
        }
    }
}

/// Rules that matched one event, in load order.
pub type Matches<'r> = SmallVec<[&'r Rule; 4]>;

/// Compiled rules indexed by event type. Immutable, `Send + Sync`: share it behind an
/// `Arc` and swap the `Arc` to reload.
#[derive(Debug, Default)]
pub struct Ruleset {
    rules: Vec<Rule>,
    /// For each event type id, the enabled rules that can match it, in load order.
    by_event_type: Vec<Box<[u32]>>,
    /// Rules for event types Falco does not know (rules without any `evt.type` check).
    any_event_type: Box<[u32]>,
}

impl Ruleset {
    /// Rules in load order; `rules` must already be sorted that way.
    pub(crate) fn new(rules: Vec<Rule>) -> Self {
        let mut by_event_type: Vec<Vec<u32>> = vec![Vec::new(); EventTypeId::count()];
        let mut any_event_type = Vec::new();
        for (index, rule) in rules.iter().enumerate() {
            if !rule.enabled {
                continue;
            }
            let index = u32::try_from(index).unwrap_or(u32::MAX);
            let types = rule.program.event_types();
            for id in types.iter() {
                if let Some(slot) = by_event_type.get_mut(usize::from(id.0)) {
                    slot.push(index);
                }
            }
            if types.is_full() {
                any_event_type.push(index);
            }
        }
        Ruleset {
            rules,
            by_event_type: by_event_type
                .into_iter()
                .map(Vec::into_boxed_slice)
                .collect(),
            any_event_type: any_event_type.into_boxed_slice(),
        }
    }

    /// Every compiled rule (enabled or not) in load order, for listings.
    pub fn rules(&self) -> &[Rule] {
        &self.rules
    }

    /// The event types any enabled rule is evaluated on: what a sensor must capture for
    /// these rules to see every event they could match.
    pub fn event_types(&self) -> BTreeSet<&'static str> {
        self.rules
            .iter()
            .filter(|rule| rule.enabled)
            .flat_map(|rule| rule.event_types().iter().copied())
            .collect()
    }

    /// The constants the enabled rules compare `field` with (`=`, `!=`, `in`, `intersects`,
    /// `pmatch`, `startswith`, ... every operator whose right side is constants, `evt.type`
    /// included), after macros and lists are expanded and exceptions added; sorted,
    /// deduplicated. What a sensor must prepare for these rules, e.g. the host names of
    /// `fd.sip.name = kubernetes.default.svc.cluster.local` to resolve.
    ///
    /// `field` is the registry name, without argument: `proc.aname` gathers the constants
    /// of `proc.aname[2]` too. Each constant is the text the check compares, unquoted with
    /// escapes resolved (bytes that are not UTF-8 replaced by U+FFFD); `bcontains` and
    /// `bstartswith` constants are the hex text as written. Not counted: comparisons with
    /// other fields (`val(...)`), checks on a transformed field (`tolower(fd.name)`),
    /// checks the compiler folded away (a branch that is always true or false, such as
    /// `evt.num = 0`), rules that were skipped or failed, and disabled rules (which never
    /// run; see [`Rule::constants_compared_with`] for any one rule).
    ///
    /// ```
    /// use sensor_rules::{RulesetBuilder, RuleSource};
    /// let compiled = RulesetBuilder::new()
    ///     .source(RuleSource::new("r.yaml", "- list: shells\n  items: [bash, \"z sh\"]\n- rule: r\n  desc: d\n  condition: evt.type = execve and proc.name in (shells)\n  output: o\n  priority: WARNING\n"))
    ///     .build();
    /// let names: Vec<String> = compiled.ruleset.constants_compared_with("proc.name").into_iter().collect();
    /// assert_eq!(names, ["bash", "z sh"]);
    /// ```
    pub fn constants_compared_with(&self, field: &str) -> BTreeSet<String> {
        self.rules
            .iter()
            .filter(|rule| rule.enabled)
            .filter_map(|rule| rule.constants_compared_with(field))
            .flatten()
            .cloned()
            .collect()
    }

    pub fn rule(&self, name: &str) -> Option<&Rule> {
        self.rules.iter().find(|rule| rule.name == name)
    }

    pub fn len(&self) -> usize {
        self.rules.len()
    }

    pub fn is_empty(&self) -> bool {
        self.rules.is_empty()
    }

    /// Indices into [`Ruleset::rules`] of the enabled rules evaluated on events of type
    /// `id`, in load order.
    pub(crate) fn rule_indices(&self, id: EventTypeId) -> &[u32] {
        self.by_event_type.get(usize::from(id.0)).map_or(&[], |v| v)
    }

    /// The enabled rules that could match events of this type.
    pub fn candidates(&self, event_type: Option<EventTypeId>) -> impl Iterator<Item = &Rule> {
        let indices: &[u32] = match event_type {
            Some(id) => self.by_event_type.get(usize::from(id.0)).map_or(&[], |v| v),
            None => &self.any_event_type,
        };
        indices
            .iter()
            .filter_map(|index| self.rules.get(*index as usize))
    }

    /// The rules `event` matches: only rules whose event types include the event's type are
    /// tested, in load order; with [`MatchMode::First`] evaluation stops at the first match.
    pub fn evaluate<'r, E: Event + ?Sized>(&'r self, event: &E, mode: MatchMode) -> Matches<'r> {
        let event_type = event.event_type_id();
        let indices: &[u32] = match event_type {
            Some(id) => self.by_event_type.get(usize::from(id.0)).map_or(&[], |v| v),
            None => &self.any_event_type,
        };
        let mut matches = Matches::new();
        for index in indices {
            let Some(rule) = self.rules.get(*index as usize) else {
                continue;
            };
            if rule.program.eval(event, event_type) {
                matches.push(rule);
                if mode == MatchMode::First {
                    break;
                }
            }
        }
        matches
    }
}
