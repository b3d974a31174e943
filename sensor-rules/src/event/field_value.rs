//! Values an event hands to the engine, borrowed from the event.

use std::fmt;
use std::net::IpAddr;
use std::sync::Arc;

/// The value of one field. Strings are bytes: paths and command lines need not be UTF-8.
#[derive(Clone, Copy)]
pub enum FieldValue<'a> {
    Str(&'a [u8]),
    I64(i64),
    U64(u64),
    Bool(bool),
    /// An IP address, for fields of type `ipaddr` and `ipnet` alike (for an `ipnet` field
    /// the engine tests whether the address lies in the rule's networks). An IPv4-mapped
    /// IPv6 address (`::ffff:10.1.2.3`) compares as the IPv4 address.
    Ip(IpAddr),
    /// Several values: labels, or every ancestor for `proc.aname` without index.
    List(&'a dyn ValueList),
}

impl<'a> FieldValue<'a> {
    pub fn str(text: &'a str) -> Self {
        FieldValue::Str(text.as_bytes())
    }
}

impl fmt::Debug for FieldValue<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            FieldValue::Str(bytes) => write!(f, "Str({:?})", String::from_utf8_lossy(bytes)),
            FieldValue::I64(value) => write!(f, "I64({value})"),
            FieldValue::U64(value) => write!(f, "U64({value})"),
            FieldValue::Bool(value) => write!(f, "Bool({value})"),
            FieldValue::Ip(value) => write!(f, "Ip({value})"),
            FieldValue::List(list) => {
                let items: Vec<FieldValue<'_>> =
                    (0..list.len()).filter_map(|i| list.get(i)).collect();
                write!(f, "List({items:?})")
            }
        }
    }
}

/// A list of values an event can lend without copying.
pub trait ValueList {
    fn len(&self) -> usize;
    fn get(&self, index: usize) -> Option<FieldValue<'_>>;
    fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

macro_rules! string_list {
    ($($item:ty => |$value:ident| $bytes:expr;)*) => {$(
        impl ValueList for [$item] {
            fn len(&self) -> usize {
                <[$item]>::len(self)
            }
            fn get(&self, index: usize) -> Option<FieldValue<'_>> {
                <[$item]>::get(self, index).map(|$value| FieldValue::Str($bytes))
            }
        }
    )*};
}

string_list! {
    String => |value| value.as_bytes();
    &str => |value| value.as_bytes();
    Vec<u8> => |value| value.as_slice();
    Box<[u8]> => |value| value;
    Box<str> => |value| value.as_bytes();
    Arc<str> => |value| value.as_bytes();
}

impl ValueList for [i64] {
    fn len(&self) -> usize {
        <[i64]>::len(self)
    }
    fn get(&self, index: usize) -> Option<FieldValue<'_>> {
        <[i64]>::get(self, index).map(|value| FieldValue::I64(*value))
    }
}

impl ValueList for [u64] {
    fn len(&self) -> usize {
        <[u64]>::len(self)
    }
    fn get(&self, index: usize) -> Option<FieldValue<'_>> {
        <[u64]>::get(self, index).map(|value| FieldValue::U64(*value))
    }
}

/// Several addresses, e.g. both ends of a connection for `fd.ip` (a check then holds if it
/// holds for either end, and `!=` if neither end is equal, as Falco's `fd.ip`).
impl ValueList for [IpAddr] {
    fn len(&self) -> usize {
        <[IpAddr]>::len(self)
    }
    fn get(&self, index: usize) -> Option<FieldValue<'_>> {
        <[IpAddr]>::get(self, index).map(|value| FieldValue::Ip(*value))
    }
}

impl<T> ValueList for Vec<T>
where
    [T]: ValueList,
{
    fn len(&self) -> usize {
        self.as_slice().len()
    }
    fn get(&self, index: usize) -> Option<FieldValue<'_>> {
        ValueList::get(self.as_slice(), index)
    }
}
