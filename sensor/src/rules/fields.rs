//! The agent's events as the rules engine reads them: Falco's fields looked up on an enriched
//! [`Event`] through the model's one table of fields (`model::fields`), the same table the
//! JSON output and the gRPC message read.

use std::sync::{Arc, OnceLock};

use sensor_rules::fields::{ArgSpec, Shape};
use sensor_rules::{EventTypeId, FieldId, FieldRef, FieldRegistry, FieldValue};

use crate::model::fields::{Field, Rules, View, FIELDS};
use crate::model::Event;

/// The registry and, by field id, the table's field that supplies it.
struct Registry {
    registry: Arc<FieldRegistry>,
    by_id: Vec<Option<&'static Field>>,
}

static REGISTRY: OnceLock<Registry> = OnceLock::new();

fn registry_and_fields() -> &'static Registry {
    REGISTRY.get_or_init(|| {
        let mut registry = FieldRegistry::sensor_default();
        let mut supplied = Vec::new();
        for field in FIELDS {
            let id = match field.rules {
                Rules::Builtin => registry.by_name(field.name).map(|def| def.id),
                Rules::Added(description) => Some(registry.add_field(
                    field.name,
                    field.ty,
                    ArgSpec::NoArg,
                    Shape::Scalar,
                    description,
                )),
                Rules::Derived | Rules::No => None,
            };
            match id {
                Some(id) => supplied.push((id, *field)),
                None => debug_assert!(
                    !matches!(field.rules, Rules::Builtin),
                    "{} is not in the engine's registry",
                    field.name
                ),
            }
        }
        let mut by_id = Vec::new();
        for (id, field) in supplied {
            let index = usize::from(id.0);
            if by_id.len() <= index {
                by_id.resize(index + 1, None);
            }
            by_id[index] = Some(field);
        }
        Registry {
            registry: Arc::new(registry),
            by_id,
        }
    })
}

/// The field registry of this sensor: the engine's defaults plus the fields the agent adds.
pub fn registry() -> Arc<FieldRegistry> {
    registry_and_fields().registry.clone()
}

/// One event seen through Falco's field names.
pub struct RuleEvent<'a> {
    view: View<'a>,
    /// The table's field of each registry id, looked up once per event, not per field read.
    by_id: &'static [Option<&'static Field>],
    number: u64,
    hostname: &'a str,
    type_id: Option<EventTypeId>,
}

impl<'a> RuleEvent<'a> {
    /// `number` is Falco's `evt.num` (from 1).
    pub fn new(event: &'a Event, number: u64, hostname: &'a str) -> Self {
        Self {
            view: View::new(event),
            by_id: &registry_and_fields().by_id,
            number,
            hostname,
            type_id: EventTypeId::from_name(event.evt_type()),
        }
    }
}

impl sensor_rules::Event for RuleEvent<'_> {
    fn event_type(&self) -> &str {
        self.view.event.evt_type()
    }

    fn event_type_id(&self) -> Option<EventTypeId> {
        self.type_id
    }

    fn field(&self, field: &FieldRef) -> Option<FieldValue<'_>> {
        match field.id {
            // Not the event's: where and when in the stream it was seen.
            FieldId::EVT_NUM => Some(FieldValue::U64(self.number)),
            FieldId::EVT_HOSTNAME => Some(FieldValue::str(self.hostname)),
            // Fields this sensor does not fill (proc.loginshellid, ...) are missing, as in Falco
            // without that metadata.
            id => self
                .by_id
                .get(usize::from(id.0))
                .copied()
                .flatten()?
                .read_arg(&self.view, &field.arg),
        }
    }
}
