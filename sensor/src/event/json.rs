//! Events as JSON objects with Falco's field names, one per line on `sensor events --json`.
//!
//! Written straight into a byte buffer rather than through a `serde_json::Value`: at hundreds
//! of thousands of events a second the intermediate map's allocations were what made the
//! output fall behind the kernel.

use std::io::Write;

use crate::model::{ArgValue, Event, EventKind};

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

/// Joins argv the way /proc shows a command line: arguments separated by spaces.
pub fn join_args(args: &[crate::model::Bytes]) -> Vec<u8> {
    let mut out = Vec::new();
    for (i, a) in args.iter().enumerate() {
        if i > 0 {
            out.push(b' ');
        }
        out.extend_from_slice(a);
    }
    out
}

/// Appends the event as one JSON object (no newline) to `out`.
pub fn write_json(event: &Event, out: &mut Vec<u8>) {
    let mut w = Object {
        out,
        first: true,
        escaped: Vec::new(),
    };
    let wall = std::time::UNIX_EPOCH + std::time::Duration::from_nanos(event.wall_ns);
    w.str(
        &["evt.time"],
        &humantime::format_rfc3339_nanos(wall).to_string(),
    );
    w.num(&["evt.rawtime"], event.wall_ns);
    w.num(&["evt.monotime"], event.mono_ns);
    w.str(&["evt.type"], event.evt_type());
    w.str(&["evt.dir"], "<");
    if let EventKind::Syscall(_) = event.kind {
        // Known only where an enter program ran (exec, set*id, capset).
        if event.enter_ns != 0 {
            w.num(
                &["evt.latency"],
                event.mono_ns.saturating_sub(event.enter_ns),
            );
        }
        w.str(&["evt.res"], &crate::model::flags::result(event.res));
        w.num(&["evt.rawres"], event.res);
        w.num(&["evt.failed"], event.res < 0);
    }
    for (name, value) in event.args() {
        match value {
            ArgValue::Bytes(b) => w.bytes(&["evt.arg.", name], b),
            ArgValue::Int(i) => w.num(&["evt.arg.", name], i),
            ArgValue::Named { text, raw } => {
                w.str(&["evt.arg.", name], &text);
                w.num(&["evt.rawarg.", name], raw);
            }
        }
    }
    if let Some(path) = &event.fd_path {
        w.bytes(&["fd.name"], path);
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
            w.num(&[key], value);
        }
    }

    let t = &event.task;
    w.num(&["proc.pid"], t.pid);
    w.num(&["thread.tid"], t.tid);
    w.num(&["proc.ppid"], t.ppid);
    w.num(&["proc.vpid"], t.vpid);
    w.num(&["proc.sid"], t.sid);
    w.num(&["proc.tty"], t.tty);
    w.bytes(&["proc.name"], event.comm());
    if let Some(p) = &event.process {
        w.bytes(&["proc.exe"], &p.exe);
        w.bytes(&["proc.exepath"], &p.exepath);
        if let Some(cwd) = &p.cwd {
            w.bytes(&["proc.cwd"], cwd);
        }
        if p.exe_from_memfd {
            w.num(&["proc.is_exe_from_memfd"], true);
        }
        w.bytes(&["proc.cmdline"], &p.cmdline());
        w.bytes(&["proc.args"], &join_args(&p.args));
        if let Some(parent) = &p.parent {
            w.bytes(&["proc.pname"], &parent.comm);
        }
    } else {
        w.bytes(&["proc.cmdline"], event.comm());
    }
    // Falco's user.uid and group.gid are the effective ids; the real ones are added beside.
    w.num(&["user.uid"], t.creds.euid);
    w.num(&["user.ruid"], t.creds.uid);
    if let Some(name) = &event.user_name {
        w.str(&["user.name"], name);
    }
    w.num(&["user.loginuid"], t.loginuid as i32);
    if let Some(name) = &event.login_name {
        w.str(&["user.loginname"], name);
    }
    w.num(&["group.gid"], t.creds.egid);
    w.num(&["group.rgid"], t.creds.gid);
    if let Some(name) = &event.group_name {
        w.str(&["group.name"], name);
    }
    match &event.container {
        Some(c) => {
            w.str(&["container.id"], c.id());
            w.str(&["container.full_id"], &c.full_id);
            w.str(&["container.runtime"], c.runtime.name());
        }
        None => w.str(&["container.id"], "host"),
    }
    if let Some(info) = &event.pod {
        w.str(&["container.name"], &info.container_name);
        w.str(&["container.image"], &info.image);
        w.str(&["container.image.repository"], &info.image_repository);
        if let Some(tag) = &info.image_tag {
            w.str(&["container.image.tag"], tag);
        }
        let pod = &info.pod;
        w.str(&["k8s.pod.name"], &pod.name);
        w.str(&["k8s.ns.name"], &pod.namespace);
        w.str(&["k8s.pod.uid"], &pod.uid);
        w.key(&["k8s.pod.labels"]);
        w.out.push(b'{');
        for (i, (k, v)) in pod.labels.iter().enumerate() {
            if i > 0 {
                w.out.push(b',');
            }
            push_json_str(w.out, k);
            w.out.push(b':');
            push_json_str(w.out, v);
        }
        w.out.push(b'}');
        w.str(&["k8s.workload.kind"], &pod.workload.kind);
        w.str(&["k8s.workload.name"], &pod.workload.name);
    } else if event.container.is_some() {
        // A container whose pod is unknown (no cluster, API server unreachable, or not a
        // Kubernetes container): said explicitly, as Falco does.
        w.str(&["k8s.pod.name"], "<NA>");
        w.str(&["k8s.ns.name"], "<NA>");
    }
    w.num(&["proc.cgroup_id"], t.cgroup_id);
    w.num(&["proc.mnt_ns"], t.mnt_ns);
    w.num(&["proc.pid_ns"], t.pid_ns);

    let tampered = event.tampered_fields();
    if !tampered.is_empty() {
        w.num(&["evt.tampered"], true);
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
