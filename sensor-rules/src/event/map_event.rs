//! An owned event built from field names, for tests, benchmarks and replay tools.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::sync::Arc;

use super::field_ref::{FieldArg, FieldRef};
use super::field_value::{FieldValue, ValueList};
use super::Event;
use crate::fields::{EventTypeId, FieldRegistry, FieldType, Resolution};

/// A value owned by a [`MapEvent`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum OwnedValue {
    Str(Vec<u8>),
    I64(i64),
    U64(u64),
    Bool(bool),
    Ip(IpAddr),
    StrList(Vec<Vec<u8>>),
    I64List(Vec<i64>),
    IpList(Vec<IpAddr>),
}

impl OwnedValue {
    fn borrow(&self) -> FieldValue<'_> {
        match self {
            OwnedValue::Str(bytes) => FieldValue::Str(bytes),
            OwnedValue::I64(value) => FieldValue::I64(*value),
            OwnedValue::U64(value) => FieldValue::U64(*value),
            OwnedValue::Bool(value) => FieldValue::Bool(*value),
            OwnedValue::Ip(value) => FieldValue::Ip(*value),
            OwnedValue::StrList(items) => FieldValue::List(items as &dyn ValueList),
            OwnedValue::I64List(items) => FieldValue::List(items as &dyn ValueList),
            OwnedValue::IpList(items) => FieldValue::List(items as &dyn ValueList),
        }
    }
}

impl From<&str> for OwnedValue {
    fn from(value: &str) -> Self {
        OwnedValue::Str(value.as_bytes().to_vec())
    }
}

impl From<String> for OwnedValue {
    fn from(value: String) -> Self {
        OwnedValue::Str(value.into_bytes())
    }
}

impl From<&[u8]> for OwnedValue {
    fn from(value: &[u8]) -> Self {
        OwnedValue::Str(value.to_vec())
    }
}

impl From<i64> for OwnedValue {
    fn from(value: i64) -> Self {
        OwnedValue::I64(value)
    }
}

impl From<i32> for OwnedValue {
    fn from(value: i32) -> Self {
        OwnedValue::I64(i64::from(value))
    }
}

impl From<u64> for OwnedValue {
    fn from(value: u64) -> Self {
        OwnedValue::U64(value)
    }
}

impl From<u32> for OwnedValue {
    fn from(value: u32) -> Self {
        OwnedValue::U64(u64::from(value))
    }
}

impl From<bool> for OwnedValue {
    fn from(value: bool) -> Self {
        OwnedValue::Bool(value)
    }
}

impl From<IpAddr> for OwnedValue {
    fn from(value: IpAddr) -> Self {
        OwnedValue::Ip(value)
    }
}

impl From<Ipv4Addr> for OwnedValue {
    fn from(value: Ipv4Addr) -> Self {
        OwnedValue::Ip(IpAddr::V4(value))
    }
}

impl From<Ipv6Addr> for OwnedValue {
    fn from(value: Ipv6Addr) -> Self {
        OwnedValue::Ip(IpAddr::V6(value))
    }
}

impl From<Vec<IpAddr>> for OwnedValue {
    fn from(values: Vec<IpAddr>) -> Self {
        OwnedValue::IpList(values)
    }
}

impl From<Vec<&str>> for OwnedValue {
    fn from(values: Vec<&str>) -> Self {
        OwnedValue::StrList(values.into_iter().map(|v| v.as_bytes().to_vec()).collect())
    }
}

impl From<Vec<i64>> for OwnedValue {
    fn from(values: Vec<i64>) -> Self {
        OwnedValue::I64List(values)
    }
}

#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum MapEventError {
    #[error("`{name}` is not a field this sensor supplies; see FieldRegistry for the list")]
    UnknownField { name: String },
    #[error("field `{name}`: {message}")]
    BadArgument { name: String, message: String },
    #[error("field `{name}`: {message}")]
    BadValue { name: String, message: String },
}

/// An event that owns its values, keyed by field name (`proc.aname[2]`, `evt.arg.mode`).
///
/// ```
/// use sensor_rules::MapEvent;
/// let event = MapEvent::new("execve")
///     .with("proc.name", "bash")
///     .with("proc.pid", 42i64)
///     .with("proc.aname[1]", "sshd");
/// ```
#[derive(Clone, Debug)]
pub struct MapEvent {
    event_type: String,
    event_type_id: Option<EventTypeId>,
    registry: Arc<FieldRegistry>,
    plain: Vec<Option<OwnedValue>>,
    /// Fields with an argument; events have few, so a scan beats hashing the argument.
    with_argument: Vec<(FieldRef, OwnedValue)>,
}

impl MapEvent {
    pub fn new(event_type: &str) -> Self {
        MapEvent::with_registry(event_type, FieldRegistry::shared_default())
    }

    /// An event whose field names resolve against a registry the sensor extended.
    pub fn with_registry(event_type: &str, registry: Arc<FieldRegistry>) -> Self {
        MapEvent {
            event_type: event_type.to_string(),
            event_type_id: EventTypeId::from_name(event_type),
            registry,
            plain: Vec::new(),
            with_argument: Vec::new(),
        }
    }

    /// Sets a field given by name, with its argument: `proc.aname[2]`, `evt.arg.mode`.
    pub fn set(
        &mut self,
        name: &str,
        value: impl Into<OwnedValue>,
    ) -> Result<&mut Self, MapEventError> {
        let (base, arg) = match name.split_once('[') {
            Some((base, rest)) => (base, Some(rest.strip_suffix(']').unwrap_or(rest))),
            None => (name, None),
        };
        let (field, field_type) = match self.registry.resolve(base, arg) {
            Resolution::Supplied { field, def } => (field, def.field_type),
            Resolution::BadArgument { name, message } => {
                return Err(MapEventError::BadArgument { name, message })
            }
            Resolution::NotSupplied { name } | Resolution::Unknown { name, .. } => {
                return Err(MapEventError::UnknownField { name })
            }
        };
        let mut value = value.into();
        // Text for an address field (`.with("fd.sip", "10.0.0.1")`, or a replayed alert's
        // `output_fields`) is parsed: the engine compares addresses, never text, with them.
        if field_type.is_ip() {
            if let OwnedValue::Str(text) = &value {
                value = address_value(name, field_type, text)?;
            }
        }
        if field.arg == FieldArg::None {
            let index = usize::from(field.id.0);
            if self.plain.len() <= index {
                self.plain.resize(index + 1, None);
            }
            self.plain[index] = Some(value);
        } else {
            match self
                .with_argument
                .iter_mut()
                .find(|(existing, _)| *existing == field)
            {
                Some((_, slot)) => *slot = value,
                None => self.with_argument.push((field, value)),
            }
        }
        Ok(self)
    }

    /// Builder form of [`MapEvent::set`]; a name that does not resolve is logged and ignored.
    pub fn with(mut self, name: &str, value: impl Into<OwnedValue>) -> Self {
        if let Err(error) = self.set(name, value) {
            tracing::warn!(%error, "MapEvent field ignored");
        }
        self
    }
}

fn address_value(
    name: &str,
    field_type: FieldType,
    text: &[u8],
) -> Result<OwnedValue, MapEventError> {
    std::str::from_utf8(text)
        .ok()
        .and_then(|text| text.parse::<IpAddr>().ok())
        .map(OwnedValue::Ip)
        .ok_or_else(|| MapEventError::BadValue {
            name: name.to_string(),
            message: format!(
                "`{}` is not an IP address, and the field is {field_type}",
                String::from_utf8_lossy(text)
            ),
        })
}

impl Event for MapEvent {
    fn event_type(&self) -> &str {
        &self.event_type
    }

    fn event_type_id(&self) -> Option<EventTypeId> {
        self.event_type_id
    }

    fn field(&self, field: &FieldRef) -> Option<FieldValue<'_>> {
        let value = if field.arg == FieldArg::None {
            self.plain.get(usize::from(field.id.0))?.as_ref()
        } else {
            self.with_argument
                .iter()
                .find(|(existing, _)| existing.id == field.id && existing.arg == field.arg)
                .map(|(_, value)| value)
        };
        value.map(OwnedValue::borrow)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fields::FieldId;

    #[test]
    fn stores_and_returns_fields() {
        let event = MapEvent::new("execve")
            .with("proc.name", "bash")
            .with("proc.aname[2]", "sshd")
            .with("evt.arg.mode", "S_ISUID");
        let name = FieldRef::new(FieldId::PROC_NAME, FieldArg::None, "proc.name");
        assert!(matches!(event.field(&name), Some(FieldValue::Str(b"bash"))));
        let aname = FieldRef::new(FieldId::PROC_ANAME, FieldArg::Index(2), "proc.aname[2]");
        assert!(matches!(
            event.field(&aname),
            Some(FieldValue::Str(b"sshd"))
        ));
        let mode = FieldRef::new(
            FieldId::EVT_ARG,
            FieldArg::Key("mode".into()),
            "evt.arg.mode",
        );
        assert!(matches!(
            event.field(&mode),
            Some(FieldValue::Str(b"S_ISUID"))
        ));
        assert_eq!(event.event_type_id().map(|id| id.name()), Some("execve"));
    }

    #[test]
    fn stores_addresses_and_parses_text_for_address_fields() {
        let mut registry = FieldRegistry::sensor_default();
        let sip = registry.add_field(
            "fd.sip",
            FieldType::Ip,
            crate::fields::ArgSpec::NoArg,
            crate::fields::Shape::Scalar,
            "server address",
        );
        let registry = Arc::new(registry);
        let sip = FieldRef::new(sip, FieldArg::None, "fd.sip");
        let event = MapEvent::with_registry("connect", registry.clone()).with("fd.sip", "::1");
        assert!(matches!(
            event.field(&sip),
            Some(FieldValue::Ip(address)) if address == IpAddr::V6(Ipv6Addr::LOCALHOST)
        ));
        let event = MapEvent::with_registry("connect", registry.clone())
            .with("fd.sip", Ipv4Addr::new(10, 0, 0, 1));
        assert!(matches!(
            event.field(&sip),
            Some(FieldValue::Ip(address)) if address == IpAddr::V4(Ipv4Addr::new(10, 0, 0, 1))
        ));
        let mut event = MapEvent::with_registry("connect", registry);
        assert!(matches!(
            event.set("fd.sip", "10.0.0.0/8"),
            Err(MapEventError::BadValue { .. })
        ));
        assert!(event.field(&sip).is_none());
    }

    #[test]
    fn rejects_unknown_names() {
        let mut event = MapEvent::new("execve");
        assert!(event.set("fd.name", "x").is_err());
        assert!(event.set("proc.name[1]", "x").is_err());
    }
}
