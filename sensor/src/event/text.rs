//! Events as one readable line each, for people watching `sensor events`.

use super::{control_chars::escape_control, json::escape_bytes};
use crate::model::flags;
use crate::model::{ArgValue, Event};

/// The line, with the observed process's strings escaped so that they can neither break the
/// line nor reach the terminal as control sequences.
pub fn to_text(event: &Event) -> String {
    escape_control(&line(event)).into_owned()
}

fn line(event: &Event) -> String {
    let mut line = format!(
        "{} {} pid={} ppid={} uid={} proc={}",
        event.evt_type(),
        if event.syscall().is_some() {
            flags::result(event.res)
        } else {
            String::new()
        },
        event.task.pid,
        event.task.ppid,
        event.task.creds.euid,
        escape_bytes(event.comm()).0,
    );
    for (name, value) in event.args() {
        let shown = match value {
            ArgValue::Bytes(b) => escape_bytes(b).0,
            ArgValue::Int(i) => i.to_string(),
            ArgValue::Named { text, .. } => text,
        };
        line.push_str(&format!(" {name}={shown}"));
    }
    if let Some(p) = &event.process {
        line.push_str(&format!(" cmdline=\"{}\"", escape_bytes(&p.cmdline()).0));
    }
    line
}
