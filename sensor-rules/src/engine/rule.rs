//! A compiled rule: metadata for listings, the program to match, the output to render.

use std::collections::{BTreeMap, BTreeSet};

use crate::compiler::{OutputTemplate, Program};
use crate::diagnostic::Position;
use crate::event::{Event, FieldRef, FieldValue};
use crate::fields::{EventTypeId, FieldId};
use crate::output::{time_format, Alert, Priority};

/// Priority shown in Falco's text output prefix (`12:00:00.000000000: Warning ...`).
fn output_prefix(time_ns: u64, priority: Priority) -> String {
    format!("{}: {}", time_format::time_of_day_nanos(time_ns), priority)
}

/// An event seen through the alert being rendered: supplies `evt.rawtime` and
/// `evt.hostname` when the event itself does not.
struct AlertContext<'a, E: ?Sized> {
    event: &'a E,
    hostname: &'a str,
    time_ns: u64,
}

impl<E: Event + ?Sized> Event for AlertContext<'_, E> {
    fn event_type(&self) -> &str {
        self.event.event_type()
    }

    fn event_type_id(&self) -> Option<EventTypeId> {
        self.event.event_type_id()
    }

    fn field(&self, field: &FieldRef) -> Option<FieldValue<'_>> {
        self.event.field(field).or(match field.id {
            FieldId::EVT_RAWTIME => Some(FieldValue::U64(self.time_ns)),
            FieldId::EVT_HOSTNAME => Some(FieldValue::str(self.hostname)),
            _ => None,
        })
    }
}

#[derive(Debug)]
pub struct Rule {
    pub(crate) name: String,
    pub(crate) description: String,
    pub(crate) priority: Priority,
    pub(crate) tags: Vec<String>,
    pub(crate) enabled: bool,
    pub(crate) source: String,
    pub(crate) event_types: Vec<&'static str>,
    pub(crate) position: Position,
    pub(crate) program: Program,
    pub(crate) output: OutputTemplate,
    /// The constants the rule's checks compare each field with, by field registry name.
    pub(crate) constants: BTreeMap<String, BTreeSet<String>>,
}

impl Rule {
    pub fn name(&self) -> &str {
        &self.name
    }

    pub fn description(&self) -> &str {
        &self.description
    }

    pub fn priority(&self) -> Priority {
        self.priority
    }

    /// Tags, sorted (Falco keeps them as a set).
    pub fn tags(&self) -> &[String] {
        &self.tags
    }

    pub fn enabled(&self) -> bool {
        self.enabled
    }

    /// The event source; always `syscall` for rules that compile on the sensor.
    pub fn source(&self) -> &str {
        &self.source
    }

    /// The captured event types this rule is evaluated on, sorted.
    pub fn event_types(&self) -> &[&'static str] {
        &self.event_types
    }

    /// Where the rule was (first) defined.
    pub fn position(&self) -> &Position {
        &self.position
    }

    /// The constants this rule's condition (exceptions included, macros and lists expanded)
    /// compares `field` with, by any operator whose right side is constants; sorted. See
    /// [`crate::Ruleset::constants_compared_with`].
    pub fn constants_compared_with(&self, field: &str) -> Option<&BTreeSet<String>> {
        self.constants.get(field)
    }

    /// Tests the rule's condition alone (the ruleset's event type index is not consulted).
    pub fn matches<E: Event + ?Sized>(&self, event: &E) -> bool {
        self.program.matches(event)
    }

    /// The rule's output line for `event`, without Falco's time/priority prefix.
    pub fn render_output<E: Event + ?Sized>(&self, event: &E) -> String {
        self.output.render(event)
    }

    /// The alert for an event that matched this rule, as Falco's JSON output has it.
    /// `time_ns` is the event time in nanoseconds since the epoch.
    pub fn render_alert<E: Event + ?Sized>(
        &self,
        event: &E,
        hostname: &str,
        time_ns: u64,
    ) -> Alert {
        // `%evt.time` and `%evt.hostname` in the output agree with the alert's own time and
        // hostname even when the event does not carry them.
        let event = AlertContext {
            event,
            hostname,
            time_ns,
        };
        let message = self.output.render(&event);
        let mut output_fields: BTreeMap<String, serde_json::Value> =
            self.output.fields(&event).into_iter().collect();
        // Falco's prefix `%evt.time: Priority` contributes evt.time to output_fields.
        output_fields.insert("evt.time".to_string(), serde_json::Value::from(time_ns));
        Alert {
            time: time_format::rfc3339_nanos(time_ns),
            rule: self.name.clone(),
            priority: self.priority,
            source: self.source.clone(),
            hostname: hostname.to_string(),
            output: format!("{} {}", output_prefix(time_ns, self.priority), message),
            output_fields,
            tags: self.tags.clone(),
        }
    }
}
