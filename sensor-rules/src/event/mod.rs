//! The contract between the engine and the sensor: how the engine reads an event.

mod field_ref;
mod field_value;
mod map_event;

pub use field_ref::{FieldArg, FieldRef};
pub use field_value::{FieldValue, ValueList};
pub use map_event::{MapEvent, MapEventError, OwnedValue};

use crate::fields::EventTypeId;

/// An event as the engine sees it. The sensor implements this on its own event type.
///
/// `field` is called with fields resolved when the rules were compiled (a [`FieldRef`] holds
/// the field id and its argument), so an implementation is typically a `match` on
/// `field.id` against the [`crate::fields::FieldId`] constants.
///
/// Missing values are `None`: every comparison on them is false (as in Falco) and only
/// `exists` tells them apart. Fields the engine can compute itself (`evt.type`, `evt.dir`,
/// `evt.source`, `syscall.type`, the time strings from `evt.rawtime`, and `evt.res` /
/// `evt.failed` from `evt.rawres`) need not be supplied.
///
/// ```
/// use sensor_rules::{Event, FieldArg, FieldId, FieldRef, FieldValue};
///
/// struct Exec {
///     pid: i64,
///     comm: String,
///     ancestors: Vec<String>, // parent first
///     filename: Vec<u8>,      // not necessarily UTF-8
/// }
///
/// impl Event for Exec {
///     fn event_type(&self) -> &str {
///         "execve"
///     }
///     fn field(&self, field: &FieldRef) -> Option<FieldValue<'_>> {
///         match (field.id, &field.arg) {
///             (FieldId::PROC_PID, _) => Some(FieldValue::I64(self.pid)),
///             (FieldId::PROC_NAME, _) => Some(FieldValue::str(&self.comm)),
///             (FieldId::PROC_ANAME, FieldArg::None) => Some(FieldValue::List(&self.ancestors)),
///             (FieldId::PROC_ANAME, FieldArg::Index(n)) => {
///                 let n = usize::try_from(*n).ok()?;
///                 self.ancestors.get(n.checked_sub(1)?).map(|a| FieldValue::str(a))
///             }
///             (FieldId::EVT_ARG, FieldArg::Key(name)) if &**name == "filename" => {
///                 Some(FieldValue::Str(&self.filename))
///             }
///             _ => None,
///         }
///     }
/// }
/// ```
pub trait Event {
    /// Falco's name of the event type (`execve`, `chmod`, `clone`, `procexit`, ...).
    fn event_type(&self) -> &str;

    /// The id of [`Event::event_type`]; override to return a precomputed id and save a
    /// hash lookup per event.
    fn event_type_id(&self) -> Option<EventTypeId> {
        EventTypeId::from_name(self.event_type())
    }

    /// The value of a field, borrowed from the event.
    fn field(&self, field: &FieldRef) -> Option<FieldValue<'_>>;
}

impl<E: Event + ?Sized> Event for &E {
    fn event_type(&self) -> &str {
        (**self).event_type()
    }

    fn event_type_id(&self) -> Option<EventTypeId> {
        (**self).event_type_id()
    }

    fn field(&self, field: &FieldRef) -> Option<FieldValue<'_>> {
        (**self).field(field)
    }
}
