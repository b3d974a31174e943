//! Values during evaluation: borrowed from the event when possible, owned when a
//! transformer or a derived field had to build them.

use std::borrow::Cow;
use std::net::IpAddr;

use crate::event::{FieldValue, ValueList};

pub(crate) enum Val<'a> {
    Str(Cow<'a, [u8]>),
    I64(i64),
    U64(u64),
    Bool(bool),
    Ip(IpAddr),
    List(&'a dyn ValueList),
    OwnedList(Vec<Val<'a>>),
}

impl<'a> From<FieldValue<'a>> for Val<'a> {
    #[inline]
    fn from(value: FieldValue<'a>) -> Self {
        match value {
            FieldValue::Str(bytes) => Val::Str(Cow::Borrowed(bytes)),
            FieldValue::I64(v) => Val::I64(v),
            FieldValue::U64(v) => Val::U64(v),
            FieldValue::Bool(v) => Val::Bool(v),
            FieldValue::Ip(v) => Val::Ip(v),
            FieldValue::List(list) => Val::List(list),
        }
    }
}

impl<'a> Val<'a> {
    /// Numbers (and booleans as 0/1) widened for comparison.
    #[inline]
    pub fn as_number(&self) -> Option<i128> {
        match self {
            Val::I64(v) => Some(i128::from(*v)),
            Val::U64(v) => Some(i128::from(*v)),
            Val::Bool(v) => Some(i128::from(*v)),
            _ => None,
        }
    }

    #[inline]
    pub fn as_bytes(&self) -> Option<&[u8]> {
        match self {
            Val::Str(bytes) => Some(bytes),
            _ => None,
        }
    }

    #[inline]
    pub fn as_ip(&self) -> Option<IpAddr> {
        match self {
            Val::Ip(address) => Some(*address),
            _ => None,
        }
    }

    pub fn is_list(&self) -> bool {
        matches!(self, Val::List(_) | Val::OwnedList(_))
    }

    /// A list without elements (a scalar is never empty).
    pub fn is_empty_list(&self) -> bool {
        match self {
            Val::List(list) => list.is_empty(),
            Val::OwnedList(items) => items.is_empty(),
            _ => false,
        }
    }

    /// The elements of a list value (a scalar is a list of one).
    pub fn elements(self) -> Vec<Val<'a>> {
        match self {
            Val::List(list) => (0..list.len())
                .filter_map(|i| list.get(i))
                .map(Val::from)
                .collect(),
            Val::OwnedList(items) => items,
            scalar => vec![scalar],
        }
    }

    /// Text as Falco prints the value.
    pub fn render(&self) -> String {
        match self {
            Val::Str(bytes) => String::from_utf8_lossy(bytes).into_owned(),
            Val::I64(v) => v.to_string(),
            Val::U64(v) => v.to_string(),
            Val::Bool(v) => v.to_string(),
            // As inet_ntop(3) prints it: `127.0.0.1`, `::1`, `fd00::1`, `::ffff:10.1.2.3`
            // (the address as the event supplied it; only comparisons make it canonical).
            Val::Ip(v) => v.to_string(),
            Val::List(list) => {
                let items: Vec<String> = (0..list.len())
                    .filter_map(|i| list.get(i))
                    .map(|item| Val::from(item).render())
                    .collect();
                items.join(",")
            }
            Val::OwnedList(items) => items.iter().map(Val::render).collect::<Vec<_>>().join(","),
        }
    }

    /// The value as JSON for `output_fields`.
    pub fn to_json(&self) -> serde_json::Value {
        match self {
            Val::Str(bytes) => {
                serde_json::Value::String(String::from_utf8_lossy(bytes).into_owned())
            }
            Val::I64(v) => serde_json::Value::from(*v),
            Val::U64(v) => serde_json::Value::from(*v),
            Val::Bool(v) => serde_json::Value::Bool(*v),
            // Falco's `output_fields` carry addresses as strings.
            Val::Ip(v) => serde_json::Value::String(v.to_string()),
            Val::List(list) => serde_json::Value::Array(
                (0..list.len())
                    .filter_map(|i| list.get(i))
                    .map(|item| Val::from(item).to_json())
                    .collect(),
            ),
            Val::OwnedList(items) => {
                serde_json::Value::Array(items.iter().map(Val::to_json).collect())
            }
        }
    }
}
