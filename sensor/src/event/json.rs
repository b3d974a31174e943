//! Events as JSON objects with Falco's field names, one per line on `sensor events --json`.
//!
//! Written straight into a byte buffer rather than through a `serde_json::Value`: at hundreds
//! of thousands of events a second the intermediate map's allocations were what made the
//! output fall behind the kernel.

use std::io::Write;

use sensor_rules::FieldValue;

use crate::model::fields::{Json, View, FIELDS};
use crate::model::{ArgValue, Event};

/// Makes bytes printable without losing any: valid UTF-8 passes unchanged; otherwise each
/// invalid byte becomes `\xHH` and a literal backslash `\\`, and the caller lists the field in
/// `evt.escaped` so a reader knows to undo it.
pub fn escape_bytes(bytes: &[u8]) -> (String, bool) {
    match std::str::from_utf8(bytes) {
        Ok(s) => (s.to_string(), false),
        Err(_) => {
            let mut out = String::with_capacity(bytes.len() + 8);
            for chunk in bytes.utf8_chunks() {
                for c in chunk.valid().chars() {
                    if c == '\\' {
                        out.push_str("\\\\");
                    } else {
                        out.push(c);
                    }
                }
                for b in chunk.invalid() {
                    out.push_str(&format!("\\x{b:02x}"));
                }
            }
            (out, true)
        }
    }
}

/// Appends `s` as a JSON string literal.
fn push_json_str(out: &mut Vec<u8>, s: &str) {
    out.push(b'"');
    let bytes = s.as_bytes();
    let mut start = 0;
    for (i, &b) in bytes.iter().enumerate() {
        let escape: &[u8] = match b {
            b'"' => b"\\\"",
            b'\\' => b"\\\\",
            b'\n' => b"\\n",
            b'\r' => b"\\r",
            b'\t' => b"\\t",
            0..=0x1f => {
                out.extend_from_slice(&bytes[start..i]);
                let _ = write!(out, "\\u{b:04x}");
                start = i + 1;
                continue;
            }
            _ => continue,
        };
        out.extend_from_slice(&bytes[start..i]);
        out.extend_from_slice(escape);
        start = i + 1;
    }
    out.extend_from_slice(&bytes[start..]);
    out.push(b'"');
}

struct Object<'a> {
    out: &'a mut Vec<u8>,
    first: bool,
    escaped: Vec<String>,
}

impl Object<'_> {
    fn key(&mut self, parts: &[&str]) {
        self.out.push(if self.first { b'{' } else { b',' });
        self.first = false;
        self.out.push(b'"');
        for p in parts {
            self.out.extend_from_slice(p.as_bytes());
        }
        self.out.extend_from_slice(b"\":");
    }

    fn str(&mut self, key: &[&str], value: &str) {
        self.key(key);
        push_json_str(self.out, value);
    }

    fn bytes(&mut self, key: &[&str], value: &[u8]) {
        match std::str::from_utf8(value) {
            Ok(s) => self.str(key, s),
            Err(_) => {
                let (text, _) = escape_bytes(value);
                self.str(key, &text);
                self.escaped.push(key.concat());
            }
        }
    }

    fn num(&mut self, key: &[&str], value: impl std::fmt::Display) {
        self.key(key);
        let _ = write!(self.out, "{value}");
    }

    /// A scalar field as its JSON type; a string's invalid UTF-8 is escaped (`evt.escaped`).
    fn value(&mut self, name: &str, value: &FieldValue<'_>) {
        match value {
            FieldValue::Str(b) => self.bytes(&[name], b),
            FieldValue::I64(v) => self.num(&[name], v),
            FieldValue::U64(v) => self.num(&[name], v),
            FieldValue::Bool(v) => self.num(&[name], v),
            FieldValue::Ip(ip) => self.str(&[name], &ip.to_string()),
            // Lists have a shape of their own (`Json::Labels`).
            FieldValue::List(_) => {}
        }
    }

    fn list(&mut self, key: &[&str], values: &[String]) {
        self.key(key);
        self.out.push(b'[');
        for (i, v) in values.iter().enumerate() {
            if i > 0 {
                self.out.push(b',');
            }
            push_json_str(self.out, v);
        }
        self.out.push(b']');
    }
}

/// Appends the event as one JSON object (no newline) to `out`: every field of the model's
/// table that the JSON output shows, in the table's order, then which values were cut,
/// changed or escaped.
pub fn write_json(event: &Event, out: &mut Vec<u8>) {
    let mut w = Object {
        out,
        first: true,
        escaped: Vec::new(),
    };
    let view = View::new(event);
    for field in FIELDS {
        match field.json {
            Json::Hidden => {}
            Json::Shown | Json::IfTrue => match field.read(&view) {
                Some(FieldValue::Bool(false)) if field.json == Json::IfTrue => {}
                Some(value) => w.value(field.name, &value),
                None => {}
            },
            Json::OrNaInContainer => match field.read(&view) {
                Some(value) => w.value(field.name, &value),
                // A container whose pod is unknown (no cluster, API server unreachable, or
                // not a Kubernetes container): said explicitly, as Falco does.
                None if event.container.is_some() => w.str(&[field.name], "<NA>"),
                None => {}
            },
            Json::Arguments => arguments(&mut w, event),
            Json::Labels => {
                if let Some(info) = &event.pod {
                    w.key(&[field.name]);
                    w.out.push(b'{');
                    for (i, (k, v)) in info.pod.labels.iter().enumerate() {
                        if i > 0 {
                            w.out.push(b',');
                        }
                        push_json_str(w.out, k);
                        w.out.push(b':');
                        push_json_str(w.out, v);
                    }
                    w.out.push(b'}');
                }
            }
        }
    }

    let tampered = event.tampered_fields();
    if !tampered.is_empty() {
        w.list(&["evt.tampered_args"], &tampered);
    }
    let unverified = event.unverified_fields();
    if !unverified.is_empty() {
        w.list(&["evt.unverified_args"], &unverified);
    }
    let from_kernel = event.kernel_fields();
    if !from_kernel.is_empty() {
        w.list(&["evt.kernel_args"], &from_kernel);
    }
    let truncated = event.truncated_fields();
    if !truncated.is_empty() {
        w.list(&["evt.truncated"], &truncated);
    }
    if !w.escaped.is_empty() {
        let escaped = std::mem::take(&mut w.escaped);
        w.list(&["evt.escaped"], &escaped);
    }
    w.out.push(b'}');
}

/// `evt.arg.NAME` for every argument: strings and plain numbers as they are, named numbers
/// (modes, flags) as their text with the number beside as `evt.rawarg.NAME`. The rules
/// adapter reads the same [`Event::args`], as text (`model::fields::EVT_ARG`).
fn arguments(w: &mut Object<'_>, event: &Event) {
    for (name, value) in event.args() {
        match value {
            ArgValue::Bytes(b) => w.bytes(&["evt.arg.", name], b),
            ArgValue::Int(i) => w.num(&["evt.arg.", name], i),
            ArgValue::Named { text, raw } => {
                w.str(&["evt.arg.", name], &text);
                w.num(&["evt.rawarg.", name], raw);
            }
            ArgValue::Text(text) => w.str(&["evt.arg.", name], &text),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn utf8_passes_unchanged() {
        assert_eq!(escape_bytes(b"/tmp/a\\b"), ("/tmp/a\\b".to_string(), false));
    }

    #[test]
    fn invalid_bytes_are_escaped_losslessly() {
        let (s, escaped) = escape_bytes(b"/tmp/\xff\\x");
        assert!(escaped);
        assert_eq!(s, "/tmp/\\xff\\\\x");
    }

    #[test]
    fn json_strings_escape_quotes_and_controls() {
        let mut out = Vec::new();
        push_json_str(&mut out, "a\"b\\c\nd\u{1}é");
        let parsed: String = serde_json::from_slice(&out).unwrap();
        assert_eq!(parsed, "a\"b\\c\nd\u{1}é");
    }
}
