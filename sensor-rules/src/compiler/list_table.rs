//! Lists with the names of other lists resolved once, and the size of each list known before
//! any is expanded.
//!
//! A list item naming another list stands for that list's items (recursively), so lists that
//! each include the previous one twice double at every step: thirty of them name a billion
//! items. Each list's item count and nesting are computed here bottom-up, iteratively (a
//! chain of a hundred thousand lists must not overflow the stack), and a list past
//! [`MAX_EXPANDED_SIZE`] or [`MAX_LIST_NESTING`] is an error; conditions expand only lists
//! within the limits.
//!
//! Lists are walked in load order; an item naming a list that is being resolved (a cycle)
//! is taken literally, as the expansion of a cycle cannot end.

use std::collections::{HashMap, HashSet};

use super::limit_error::{HeaviestPart, LimitError, Place, Reference};
use crate::condition::unescape_quoted;
use crate::limits::{MAX_EXPANDED_SIZE, MAX_LIST_NESTING};
use crate::loader::{Indexed, ListDef};

/// How big a list is once nested lists are substituted.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct ListExtent {
    /// Items after substitution (saturating: the sum is never built).
    pub items: u64,
    /// Longest chain of lists including lists, this one counted.
    pub nesting: u32,
}

/// One item of a resolved list.
#[derive(Clone, Debug)]
enum Entry {
    Value(Vec<u8>),
    /// The items of this list go here.
    Nested(String),
}

#[derive(Clone, Debug)]
struct ResolvedList {
    entries: Vec<Entry>,
    extent: Result<ListExtent, LimitError>,
}

/// Every list of a load, resolved.
#[derive(Clone, Debug, Default)]
pub(crate) struct ListTable {
    lists: HashMap<String, ResolvedList>,
    /// List names in load order, for reports.
    order: Vec<String>,
}

/// A list item as Falco reads it after quoting it into the condition: quoted items are
/// unescaped, bare ones taken as written.
fn decode_list_item(item: &str) -> Vec<u8> {
    let bytes = item.as_bytes();
    let quoted =
        bytes.len() >= 2 && matches!(bytes[0], b'"' | b'\'') && bytes[bytes.len() - 1] == bytes[0];
    if quoted {
        if let Ok(value) = unescape_quoted(bytes) {
            return value;
        }
    }
    bytes.to_vec()
}

impl ListTable {
    pub fn new(lists: &Indexed<ListDef>) -> ListTable {
        let mut table = ListTable::default();
        for list in lists.iter() {
            table.order.push(list.name.clone());
            table.resolve(lists, &list.name);
        }
        table
    }

    /// Resolves `root` and every list it names that is not resolved yet, innermost first,
    /// with an explicit stack.
    fn resolve(&mut self, lists: &Indexed<ListDef>, root: &str) {
        if self.lists.contains_key(root) {
            return;
        }
        // The chain of lists being resolved, each with the index of its next item to visit.
        let mut chain: Vec<(&ListDef, usize)> = Vec::new();
        let mut on_chain: HashSet<&str> = HashSet::new();
        let Some(definition) = lists.get(root) else {
            return;
        };
        chain.push((definition, 0));
        on_chain.insert(root);
        while let Some((definition, next)) = chain.last_mut() {
            let definition: &ListDef = definition;
            if let Some(item) = definition.items.get(*next) {
                *next += 1;
                let name = item.value.as_str();
                if let Some(nested) = lists.get(name) {
                    if !on_chain.contains(name) && !self.lists.contains_key(name) {
                        chain.push((nested, 0));
                        on_chain.insert(name);
                    }
                }
                continue;
            }
            // Every list this one names is resolved, or on the chain (a cycle).
            let entries: Vec<Entry> = definition
                .items
                .iter()
                .map(|item| {
                    let name = item.value.as_str();
                    if lists.get(name).is_some() && !on_chain.contains(name) {
                        Entry::Nested(name.to_string())
                    } else {
                        Entry::Value(decode_list_item(name))
                    }
                })
                .collect();
            let extent = self.measure(definition, &entries);
            self.lists
                .insert(definition.name.clone(), ResolvedList { entries, extent });
            on_chain.remove(definition.name.as_str());
            chain.pop();
        }
    }

    /// The extent of a list whose nested lists are all resolved, or the limit it exceeds.
    fn measure(&self, definition: &ListDef, entries: &[Entry]) -> Result<ListExtent, LimitError> {
        let mut extent = ListExtent {
            items: 0,
            nesting: 1,
        };
        // Uses of each nested list: (items each, uses, first item naming it).
        let mut parts: Vec<(&str, u64, u64, usize)> = Vec::new();
        let mut deepest: Option<(&str, u32, usize)> = None;
        for (index, entry) in entries.iter().enumerate() {
            let Entry::Nested(name) = entry else {
                extent.items = extent.items.saturating_add(1);
                continue;
            };
            let place = || Place::Definition(definition.items[index].position.clone());
            let nested = match self.lists.get(name).map(|list| &list.extent) {
                Some(Ok(nested)) => *nested,
                Some(Err(error)) => {
                    return Err(LimitError::uses(
                        Reference::List(name.clone()),
                        place(),
                        error,
                    ))
                }
                None => ListExtent::default(),
            };
            extent.items = extent.items.saturating_add(nested.items);
            extent.nesting = extent.nesting.max(nested.nesting.saturating_add(1));
            if deepest.is_none_or(|(_, nesting, _)| nested.nesting > nesting) {
                deepest = Some((name, nested.nesting, index));
            }
            match parts.iter_mut().find(|(part, ..)| *part == name) {
                Some((_, _, uses, _)) => *uses += 1,
                None => parts.push((name, nested.items, 1, index)),
            }
        }
        if extent.nesting > MAX_LIST_NESTING {
            let (via, index) = deepest.map_or((None, 0), |(name, _, index)| {
                (Some(Reference::List(name.to_string())), index)
            });
            return Err(LimitError::ListsTooDeep {
                list: definition.name.clone(),
                nesting: extent.nesting,
                via,
                place: Place::Definition(self_or_item_position(definition, index)),
            });
        }
        if extent.items > MAX_EXPANDED_SIZE {
            let heaviest = parts
                .iter()
                .max_by_key(|(_, items, uses, _)| items.saturating_mul(*uses));
            let index = heaviest.map_or(0, |(.., index)| *index);
            return Err(LimitError::TooLarge {
                what: Some(Reference::List(definition.name.clone())),
                size: extent.items,
                heaviest: heaviest.map(|(name, items, uses, _)| HeaviestPart {
                    reference: Reference::List(name.to_string()),
                    size: *items,
                    uses: *uses,
                }),
                place: Place::Definition(self_or_item_position(definition, index)),
            });
        }
        Ok(extent)
    }

    pub fn is_list(&self, name: &str) -> bool {
        self.lists.contains_key(name)
    }

    /// How big `name` is, or the limit it exceeds; `None` if no such list.
    pub fn extent(&self, name: &str) -> Option<&Result<ListExtent, LimitError>> {
        self.lists.get(name).map(|list| &list.extent)
    }

    /// Appends the items of `name` with nested lists substituted. Recurses along the
    /// nesting, so only for lists whose extent is within the limits.
    pub fn push_values(&self, name: &str, out: &mut Vec<Vec<u8>>) {
        let Some(list) = self.lists.get(name) else {
            return;
        };
        for entry in &list.entries {
            match entry {
                Entry::Value(value) => out.push(value.clone()),
                Entry::Nested(nested) => self.push_values(nested, out),
            }
        }
    }

    /// Marks `name` and every list it includes as used.
    pub fn mark_used(&self, name: &str, used: &mut HashSet<String>) {
        let mut pending = vec![name];
        while let Some(name) = pending.pop() {
            if !used.insert(name.to_string()) {
                continue;
            }
            if let Some(list) = self.lists.get(name) {
                pending.extend(list.entries.iter().filter_map(|entry| match entry {
                    Entry::Nested(nested) => Some(nested.as_str()),
                    Entry::Value(_) => None,
                }));
            }
        }
    }

    /// Lists that exceed a limit themselves (not only through a list they include), in
    /// load order.
    pub fn limit_errors(&self) -> impl Iterator<Item = (&str, &LimitError)> {
        self.order.iter().filter_map(|name| {
            let error = self.lists.get(name)?.extent.as_ref().err()?;
            error.is_origin().then_some((name.as_str(), error))
        })
    }
}

/// The position of item `index` of a list, or of the list if it has no such item.
fn self_or_item_position(definition: &ListDef, index: usize) -> crate::diagnostic::Position {
    definition
        .items
        .get(index)
        .map_or_else(|| definition.position.clone(), |item| item.position.clone())
}
