//! Events as one readable line each, for people watching `sensor events`.

use super::{control_chars::escape_control, json::escape_bytes};
use sensor_rules::FieldValue;

use crate::model::fields::{self as f, rendered_arg, value_text, Field, View};
use crate::model::Event;

/// The line, with the observed process's strings escaped so that they can neither break the
/// line nor reach the terminal as control sequences.
pub fn to_text(event: &Event) -> String {
    escape_control(&line(event)).into_owned()
}

/// The fields as the model's table reads them (`model::fields`), so the line says what the
/// JSON output and the rules see.
fn line(event: &Event) -> String {
    let view = View::new(event);
    let shown = |field: &Field| match field.read(&view) {
        Some(FieldValue::Str(b)) => escape_bytes(b).0,
        Some(value) => value_text(&value).unwrap_or_default(),
        None => String::new(),
    };
    let mut line = format!(
        "{} {} pid={} ppid={} uid={} proc={}",
        shown(&f::EVT_TYPE),
        shown(&f::EVT_RES),
        shown(&f::PROC_PID),
        shown(&f::PROC_PPID),
        shown(&f::USER_UID),
        shown(&f::PROC_NAME),
    );
    for (name, value) in event.args() {
        line.push_str(&format!(" {name}={}", escape_bytes(&rendered_arg(value)).0));
    }
    if event.process.is_some() {
        line.push_str(&format!(" cmdline=\"{}\"", shown(&f::PROC_CMDLINE)));
    }
    line
}
