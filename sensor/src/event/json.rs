//! Events as JSON objects with Falco's field names, one per line on `sensor events --json`.

use serde_json::{Map, Value};

use super::{ArgValue, Event, EventKind};

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

struct Writer {
    map: Map<String, Value>,
    escaped: Vec<String>,
}

impl Writer {
    fn bytes(&mut self, key: &str, bytes: &[u8]) {
        let (text, escaped) = escape_bytes(bytes);
        if escaped {
            self.escaped.push(key.to_string());
        }
        self.map.insert(key.to_string(), Value::String(text));
    }

    fn set(&mut self, key: &str, value: impl Into<Value>) {
        self.map.insert(key.to_string(), value.into());
    }
}

/// Joins argv the way /proc shows a command line: arguments separated by spaces.
pub fn join_args(args: &[super::Bytes]) -> Vec<u8> {
    let mut out = Vec::new();
    for (i, a) in args.iter().enumerate() {
        if i > 0 {
            out.push(b' ');
        }
        out.extend_from_slice(a);
    }
    out
}

/// Renders an event as a JSON object.
pub fn to_json(event: &Event) -> Value {
    let mut w = Writer {
        map: Map::new(),
        escaped: Vec::new(),
    };
    let wall = std::time::UNIX_EPOCH + std::time::Duration::from_nanos(event.wall_ns);
    w.set(
        "evt.time",
        humantime::format_rfc3339_nanos(wall).to_string(),
    );
    w.set("evt.rawtime", event.wall_ns);
    w.set("evt.monotime", event.mono_ns);
    w.set("evt.type", event.evt_type());
    w.set("evt.dir", "<");
    if let EventKind::Syscall(_) = event.kind {
        w.set("evt.latency", event.mono_ns.saturating_sub(event.enter_ns));
        w.set("evt.res", super::flags::result(event.res));
        w.set("evt.rawres", event.res);
        w.set("evt.failed", event.res < 0);
    }
    for (name, value) in event.args() {
        let key = format!("evt.arg.{name}");
        match value {
            ArgValue::Bytes(b) => w.bytes(&key, &b),
            ArgValue::Int(i) => w.set(&key, i),
            ArgValue::Named { text, raw } => {
                w.set(&key, text);
                w.set(&format!("evt.rawarg.{name}"), raw);
            }
        }
    }
    if let Some(path) = &event.fd_path {
        w.bytes("fd.name", path);
    }
    if let Some(before) = &event.creds_before {
        for (key, value) in [
            ("caller.ruid", before.uid),
            ("caller.euid", before.euid),
            ("caller.suid", before.suid),
            ("caller.fsuid", before.fsuid),
            ("caller.rgid", before.gid),
            ("caller.egid", before.egid),
            ("caller.sgid", before.sgid),
            ("caller.fsgid", before.fsgid),
        ] {
            w.set(key, value);
        }
    }

    let t = &event.task;
    w.set("proc.pid", t.pid);
    w.set("thread.tid", t.tid);
    w.set("proc.ppid", t.ppid);
    w.set("proc.vpid", t.vpid);
    w.bytes("proc.name", event.comm());
    if let Some(p) = &event.process {
        w.bytes("proc.exe", &p.exe);
        w.bytes("proc.exepath", &p.exepath);
        w.bytes("proc.cmdline", &p.cmdline());
        w.bytes("proc.args", &join_args(&p.args));
        if let Some(parent) = &p.parent_name {
            w.bytes("proc.pname", parent);
        }
    } else {
        w.bytes("proc.cmdline", event.comm());
    }
    // Falco's user.uid and group.gid are the effective ids.
    w.set("user.uid", t.creds.euid);
    w.set("user.loginuid", t.loginuid as i32);
    w.set("group.gid", t.creds.egid);
    w.set("proc.cgroup_id", t.cgroup_id);
    w.set("proc.mnt_ns", t.mnt_ns);
    w.set("proc.pid_ns", t.pid_ns);

    let truncated = event.truncated_fields();
    if !truncated.is_empty() {
        w.set("evt.truncated", truncated);
    }
    if !w.escaped.is_empty() {
        let escaped = std::mem::take(&mut w.escaped);
        w.set("evt.escaped", escaped);
    }
    Value::Object(w.map)
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
}
