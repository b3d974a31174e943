//! What the registry knows about one field: name, type, argument and shape.

use std::borrow::Cow;
use std::fmt;

/// Identifies a field the sensor supplies. Built-in ids are constants (see
/// [`FieldId::PROC_NAME`] and its siblings); fields added at run time get the next free id.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct FieldId(pub u16);

/// The type of a field's value; it decides which operators and values a condition may use.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum FieldType {
    /// Text, compared as bytes (may hold any byte, not only UTF-8).
    String,
    /// Raw bytes (Falco `bytebuf`): no ordering, `bcontains`/`bstartswith` with hex values.
    Bytes,
    Int64,
    Uint64,
    Bool,
    /// Nanoseconds since the epoch.
    AbsTime,
    /// An IPv4 or IPv6 address (Falco `ipaddr`: `fd.ip`, `fd.sip`, `fd.cip`, `fd.lip`,
    /// `fd.rip`). The event supplies [`crate::FieldValue::Ip`]; constants are addresses
    /// (`fd.sip = 10.0.0.1`, `fd.rip in (::1, 127.0.0.1)`), compared for equality.
    Ip,
    /// An address tested for membership in networks (Falco `ipnet`: `fd.net`, `fd.snet`,
    /// `fd.cnet`, `fd.lnet`, `fd.rnet`). The event supplies the address as
    /// [`crate::FieldValue::Ip`]; constants are networks (`10.0.0.0/8`, `fd00::/8`) or single
    /// addresses, and `=` means "lies in".
    IpNet,
}

impl FieldType {
    pub fn name(self) -> &'static str {
        match self {
            FieldType::String => "string",
            FieldType::Bytes => "bytebuf",
            FieldType::Int64 => "int64",
            FieldType::Uint64 => "uint64",
            FieldType::Bool => "bool",
            FieldType::AbsTime => "abstime",
            FieldType::Ip => "ipaddr",
            FieldType::IpNet => "ipnet",
        }
    }

    /// True for `ipaddr` and `ipnet`, whose values are [`crate::FieldValue::Ip`].
    pub fn is_ip(self) -> bool {
        matches!(self, FieldType::Ip | FieldType::IpNet)
    }

    pub fn is_numeric(self) -> bool {
        matches!(
            self,
            FieldType::Int64 | FieldType::Uint64 | FieldType::AbsTime
        )
    }
}

impl fmt::Display for FieldType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Which argument a field takes: `proc.aname[2]` (index), `k8s.pod.label[app]` (key),
/// `evt.arg.mode` (key written after a dot).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ArgSpec {
    NoArg,
    Index { required: bool },
    Key { required: bool, dotted: bool },
    IndexOrKey { required: bool, dotted: bool },
}

impl ArgSpec {
    pub fn required(self) -> bool {
        match self {
            ArgSpec::NoArg => false,
            ArgSpec::Index { required }
            | ArgSpec::Key { required, .. }
            | ArgSpec::IndexOrKey { required, .. } => required,
        }
    }

    /// True for fields whose key can follow a dot: `evt.arg.mode`, `k8s.pod.label.app`.
    pub fn dotted(self) -> bool {
        matches!(
            self,
            ArgSpec::Key { dotted: true, .. } | ArgSpec::IndexOrKey { dotted: true, .. }
        )
    }
}

/// How many values a field yields and how operators apply to them.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Shape {
    /// One value.
    Scalar,
    /// A list (labels): `in` means every element is in the set, `intersects` means one is;
    /// the other string operators apply to Falco's rendering `k1:v1,k2:v2`.
    List,
    /// Ancestor fields (`proc.aname`, `proc.apid`, ...): with an index one value, without an
    /// index every ancestor, and a check matches if it matches any of them (as Falco).
    Ancestors,
}

/// The registry's description of a field the sensor supplies.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FieldDef {
    pub id: FieldId,
    pub name: Cow<'static, str>,
    pub field_type: FieldType,
    pub arg: ArgSpec,
    pub shape: Shape,
    pub description: Cow<'static, str>,
}
