//! A field resolved at load time: its id plus its argument.

use std::fmt;
use std::hash::{Hash, Hasher};
use std::sync::Arc;

use crate::fields::FieldId;

/// The argument of a field: `proc.aname[2]` has `Index(2)`, `evt.arg.mode` has `Key("mode")`.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum FieldArg {
    None,
    Index(u32),
    Key(Box<str>),
}

/// A field as a rule uses it, resolved against the registry. Equality and hashing look at
/// the id and argument only.
#[derive(Clone, Debug)]
pub struct FieldRef {
    pub id: FieldId,
    pub arg: FieldArg,
    name: Arc<str>,
}

impl FieldRef {
    pub fn new(id: FieldId, arg: FieldArg, name: impl Into<Arc<str>>) -> Self {
        FieldRef {
            id,
            arg,
            name: name.into(),
        }
    }

    /// The field as Falco prints it: `proc.aname[2]`, `evt.arg.mode`.
    pub fn name(&self) -> &str {
        &self.name
    }

    pub fn index(&self) -> Option<u32> {
        match self.arg {
            FieldArg::Index(index) => Some(index),
            _ => None,
        }
    }

    pub fn key(&self) -> Option<&str> {
        match &self.arg {
            FieldArg::Key(key) => Some(key),
            _ => None,
        }
    }
}

impl PartialEq for FieldRef {
    fn eq(&self, other: &Self) -> bool {
        self.id == other.id && self.arg == other.arg
    }
}

impl Eq for FieldRef {}

impl Hash for FieldRef {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.id.hash(state);
        self.arg.hash(state);
    }
}

impl fmt::Display for FieldRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.name)
    }
}
