//! The field registry: every field the sensor supplies (name, type, argument, shape), the
//! names of the Falco fields it does not supply, and the event type names.

mod event_types;
mod falco_event_arguments;
mod falco_event_types;
mod falco_fields;
mod field_def;
mod registry;
mod sensor_fields;

pub use event_types::{is_falco_event_type, EventTypeId, EventTypeMask, SENSOR_EVENT_TYPES};
pub use falco_event_arguments::FALCO_EVENT_ARGUMENTS;
pub use falco_event_types::FALCO_EVENT_TYPES;
pub use falco_fields::FALCO_FIELDS;
pub use field_def::{ArgSpec, FieldDef, FieldId, FieldType, Shape};
pub use registry::{FieldRegistry, Resolution};
pub use sensor_fields::SENSOR_EVENT_ARGUMENTS;
