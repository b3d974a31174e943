//! One function per fuzz target. Each takes libFuzzer's bytes, calls the library's parser for
//! one kind of outside input and checks what it returns; any panic is a finding.

use std::collections::BTreeSet;
use std::hash::{Hash, Hasher};
use std::path::{Path, PathBuf};

use prost::Message as _;
use sensor::config::Config;
use sensor::enrich::{container, process_table, users};
use sensor::event::Event;
use sensor::probe::decode::{self, Decoder};
use sensor::profile::recording::{MountRule, Recording};
use sensor::profile::seccomp::{Mode, SeccompProfile};
use sensor::profile::{apparmor, arch, spo, verify};
use sensor::sinks::filter::AlertFilter;
use sensor::sinks::label_selector::LabelSelector;
use sensor_api::v1 as api;
use sensor_rules::condition::{parse_condition, SourceId};

use crate::apparmor_text;
use crate::inputs::{self, text, yaml_quoted};

/// Ring buffer records, as `sensor::probe` reads them from the kernel, through
/// [`Decoder::decode`] (one decoder per input, so an exec's records join), then every way the
/// agent shows an event: text, JSON (which must parse), and the built-in rules with their
/// alerts.
pub fn record_decoder(data: &[u8]) {
    let mut decoder = Decoder::new();
    for record in inputs::records(data) {
        let split = decode::parse(record).is_some();
        if let Some(event) = decoder.decode(record) {
            assert!(split, "decoded a record `parse` rejects");
            show(&event);
        }
    }
}

fn show(event: &Event) {
    let _ = sensor::event::text::to_text(event);
    let _ = event.args();
    let _ = event.truncated_fields();
    let mut json = Vec::new();
    sensor::event::json::write_json(event, &mut json);
    if let Err(e) = serde_json::from_slice::<serde_json::Value>(&json) {
        panic!(
            "event JSON does not parse ({e}): {}",
            String::from_utf8_lossy(&json)
        );
    }
    inputs::alerts(inputs::default_rules(), event);
}

/// A Subscribe request's `pod_selector` (`sensor::sinks::label_selector`).
pub fn label_selector(data: &[u8]) {
    let text = text(data);
    match LabelSelector::parse(&text) {
        Ok(selector) => {
            let labels = [("app", "web"), ("env", "prod"), ("in", "x")];
            selector.matches(|k| labels.iter().find(|(lk, _)| *lk == k).map(|(_, v)| *v));
            selector.matches(|_| None);
        }
        Err(e) => {
            // Positions count characters, from 1 up to just past the end.
            let chars = text.chars().count();
            assert!(
                (1..=chars + 1).contains(&e.at),
                "error position {} outside 1..={} of {text:?}",
                e.at,
                chars + 1
            );
            let _ = e.to_string();
        }
    }
}

/// A Subscribe request as its protobuf bytes arrive (`tonic-prost` decodes them the same way),
/// compiled into the subscriber's filter (`AlertFilter::new`), then run against alerts.
pub fn subscribe_filter(data: &[u8]) {
    let Ok(request) = api::SubscribeRequest::decode(data) else {
        return;
    };
    match AlertFilter::new(&request) {
        Ok(filter) => {
            let records = inputs::sample_records();
            let matched = records.iter().filter(|r| filter.matches(r)).count();
            if request == api::SubscribeRequest::default() {
                assert_eq!(matched, records.len(), "an empty request lets all through");
            }
        }
        Err(e) => {
            let _ = e.to_string();
        }
    }
}

/// The configuration file (`sensor run --config`): parsed, then checked as `Config::load` does.
pub fn config_file(data: &[u8]) {
    let text = text(data);
    let path = Path::new("fuzz.yaml");
    // YAML breaks lines at \r\n, \r and \n.
    let lines = text.replace("\r\n", "\n").matches(['\r', '\n']).count() + 1;
    let problems = match Config::parse(path, &text) {
        Ok(mut config) => {
            defuse_paths(&mut config);
            config.check(path, &text)
        }
        Err(e) => e.0,
    };
    for p in problems {
        assert!(
            p.line.is_none_or(|l| (1..=lines).contains(&l)),
            "line {:?} outside the text: {p}",
            p.line
        );
        let _ = p.to_string();
    }
}

/// `Config::check` looks at the files the configuration names (`exists`, `File::open`): a
/// fuzzed path could name a FIFO (and block) or an automount. They are moved into a directory
/// that does not exist; where the key is in the text, which is what `check` reports, stays.
fn defuse_paths(config: &mut Config) {
    let nowhere = |what: &str| PathBuf::from(format!("/nonexistent/sensor-fuzz/{what}"));
    for (i, file) in config.rules.files.iter_mut().enumerate() {
        *file = nowhere(&format!("rules{i}"));
    }
    if let Some(k) = &mut config.kubernetes.kubeconfig {
        *k = nowhere("kubeconfig");
    }
    let tls = &mut config.grpc.tcp.tls;
    tls.ca = nowhere("ca");
    tls.cert = nowhere("cert");
    tls.key = nowhere("key");
}

/// A rules file (`sensor run -r`, `sensor rules check`): the loader, condition parser, macro
/// and list expansion, exceptions, output formats and compiler; when it compiles, every sample
/// event is evaluated and its alerts rendered.
pub fn rules_loader(data: &[u8]) {
    let text = text(data);
    if let Some(rules) = inputs::compile_rules(&text) {
        for event in inputs::sample_events() {
            inputs::alerts(&rules, &event);
        }
    }
}

/// A rule's condition: `parse_condition` alone, then as the condition of a rule, compiled and
/// evaluated.
pub fn condition_parser(data: &[u8]) {
    let text = text(data);
    if let Err(e) = parse_condition(&text, SourceId(0)) {
        assert!(
            e.offset <= text.len() && e.related.is_none_or(|r| r <= text.len()),
            "error offset {} (related {:?}) past the end of {text:?}",
            e.offset,
            e.related
        );
    }
    let rules = format!(
        "- rule: Fuzzed\n  desc: d\n  condition: {}\n  output: \"%evt.type %proc.name\"\n  priority: WARNING\n",
        yaml_quoted(&text)
    );
    if let Some(rules) = inputs::compile_rules(&rules) {
        for event in inputs::sample_events() {
            inputs::alerts(&rules, &event);
        }
    }
}

/// A rule's output format (`%proc.name`, `%(...)`, `%20...`, transformers), compiled in a rule
/// that matches every sample event, and rendered into alerts.
pub fn output_template(data: &[u8]) {
    let text = text(data);
    let rules = format!(
        "- rule: Fuzzed\n  desc: d\n  condition: evt.num > 0\n  output: {}\n  priority: WARNING\n",
        yaml_quoted(&text)
    );
    if let Some(rules) = inputs::compile_rules(&rules) {
        for event in inputs::sample_events() {
            assert_eq!(inputs::alerts(&rules, &event).len(), 1);
        }
    }
}

/// A cgroup path (`/proc/PID/cgroup`'s, or one found walking the hierarchy) to a container:
/// `container::from_cgroup_path`, and the whole `/proc/PID/cgroup` text through
/// `container::cgroup_path_in`.
pub fn cgroup_path(data: &[u8]) {
    let text = text(data);
    if let Some(c) = container::from_cgroup_path(&text) {
        assert!(
            c.full_id.len() == 64 && c.full_id.bytes().all(|b| b.is_ascii_hexdigit()),
            "container id {:?} is not 64 hex digits",
            c.full_id
        );
        assert!(text.contains(&c.full_id), "the id is not from the path");
        assert_eq!(c.id(), &c.full_id[..12]);
    }
    if let Some(path) = container::cgroup_path_in(&text) {
        assert!(text.contains(&path), "the path is not from the text");
        let _ = container::from_cgroup_path(&path);
    }
}

/// What enrichment reads about a process that it did not see start: `/proc/PID/stat` (its comm
/// is the process's own choice), `/proc/PID/cmdline`, and `/etc/passwd` and `/etc/group` in the
/// process's root (a container's files). The same bytes go to each parser.
pub fn proc_files(data: &[u8]) {
    if let Some((comm, _ppid)) = process_table::parse_stat(data) {
        let open = data.iter().position(|&b| b == b'(');
        let close = data.iter().rposition(|&b| b == b')');
        let (Some(open), Some(close)) = (open, close) else {
            panic!("a comm without parentheses");
        };
        assert_eq!(
            &*comm,
            &data[open + 1..close],
            "comm is not what the parentheses hold"
        );
    }
    let (exe, args) = process_table::parse_cmdline(data);
    let mut joined = exe.to_vec();
    for a in &args {
        joined.push(0);
        joined.extend_from_slice(a);
    }
    assert_eq!(
        joined,
        data.strip_suffix(&[0]).unwrap_or(data),
        "argv does not join back into the cmdline"
    );
    let ids = users::parse_ids(&text(data));
    for name in ids.values() {
        assert!(!name.contains(':') && !name.contains('\n'), "name {name:?}");
    }
}

/// The seccomp writer and reader. An input starting with `{` is a profile file as `sensor
/// profile merge/diff/verify` read it: parsed, written back (which must parse to the same
/// profile), merged with itself and diffed against itself (nothing), and compiled by
/// libseccomp. Any other input is lines: a recording name, a namespace, then syscall names,
/// which become a profile (`SeccompProfile::generate`, log mode for inputs of odd length)
/// that must round-trip and compile when every name is a syscall libseccomp knows, and an SPO
/// manifest whose object name is a Kubernetes name.
pub fn seccomp_writer(data: &[u8]) {
    let text = text(data);
    if text.starts_with('{') {
        let Ok(profile) = SeccompProfile::parse(&text, "fuzz.json") else {
            return;
        };
        round_trip(&profile);
        let _ = profile.allowed();
        let merged = SeccompProfile::merge(&[
            ("a".to_string(), profile.clone()),
            ("b".to_string(), profile.clone()),
        ]);
        if let Ok(diff) = profile.diff(&profile) {
            assert!(diff.is_empty(), "a profile differs from itself: {diff:?}");
            let merged = merged.expect("merge fails where diff works");
            let diff = profile.diff(&merged).expect("the merged profile diffs");
            assert!(
                diff.is_empty(),
                "merging a profile with itself changes it: {diff:?}"
            );
        }
        let _ = verify::compile(&profile, "fuzz.json");
        return;
    }
    let mut lines = text.split('\n');
    let name = lines.next().unwrap_or_default();
    let namespace = lines.next().filter(|n| !n.is_empty());
    let names: BTreeSet<String> = lines.map(str::to_string).collect();
    let mode = if data.len() % 2 == 1 {
        Mode::Log
    } else {
        Mode::Enforce
    };
    let profile = SeccompProfile::generate(&names, mode);
    round_trip(&profile);
    let known = names
        .iter()
        .all(|n| libseccomp::ScmpSyscall::from_name(n).is_ok() || arch::is_known_syscall(n));
    match verify::compile(&profile, "fuzz") {
        Ok(_) => assert!(known, "libseccomp compiled a profile with unknown syscalls"),
        Err(e) => assert!(!known, "a profile of known syscalls does not compile: {e}"),
    }
    let object = spo::object_name(name);
    assert!(
        is_dns_subdomain(&object),
        "`{object}` (from {name:?}) is not a Kubernetes object name"
    );
    let manifest = spo::seccomp_profile(name, namespace, &profile);
    let yaml = spo::to_yaml(&manifest);
    let back: serde_json::Value = serde_yaml_ng::from_str(&yaml)
        .unwrap_or_else(|e| panic!("the SPO manifest is not YAML ({e}):\n{yaml}"));
    assert_eq!(
        back, manifest,
        "the SPO manifest does not read back:\n{yaml}"
    );
}

fn round_trip(profile: &SeccompProfile) {
    let json = profile.to_json();
    let back = SeccompProfile::parse(&json, "written")
        .unwrap_or_else(|e| panic!("the written profile does not parse ({e}):\n{json}"));
    assert_eq!(&back, profile, "the profile does not read back:\n{json}");
}

/// RFC 1123 subdomain, as Kubernetes checks object names.
fn is_dns_subdomain(name: &str) -> bool {
    name.len() <= 253
        && name.split('.').all(|label| {
            !label.is_empty()
                && label
                    .bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
                && !label.starts_with('-')
                && !label.ends_with('-')
        })
}

/// AppArmor's capability names the recorder can write (`sensor::event::flags`, lower case).
const CAPABILITIES: &[&str] = &[
    "chown",
    "dac_override",
    "setuid",
    "setgid",
    "net_admin",
    "sys_admin",
    "sys_ptrace",
    "sys_module",
];

/// The AppArmor writer (`sensor::profile::apparmor::profile`). The input is NUL-separated
/// fields: the recording name, then observations, each a tag byte and its value: `x` an
/// executed binary, `c` a chmod target, `u` an unmount, `m` a mount as
/// `source\x1ftarget\x1ffstype`, `k` a capability (a number into a fixed list). The name comes
/// from a gRPC caller or the command line and, as both callers do, the profile is named
/// `spo::object_name(name)`; paths, mount sources and types come from the recorded workload.
/// The text must stay one profile of exactly these rules ([`apparmor_text::check`]).
///
/// `apparmor_parser` itself costs ~20 ms a call, so it checks only a sample: inputs whose
/// hash is 0 modulo `SENSOR_FUZZ_APPARMOR_SAMPLE` (default 512; 1 checks every input, 0
/// none). The hash makes the choice the same when a saved input is replayed.
pub fn apparmor_writer(data: &[u8]) {
    let text = text(data);
    let mut fields = text.split('\0');
    let mut recording = Recording {
        name: fields.next().unwrap_or_default().to_string(),
        ..Recording::default()
    };
    let profile_name = spo::object_name(&recording.name);
    let o = &mut recording.apparmor;
    for field in fields {
        let mut chars = field.chars();
        let tag = chars.next();
        let value = chars.as_str().to_string();
        match tag {
            Some('x') => {
                o.executables.insert(value);
            }
            Some('c') => {
                o.chmod_targets.insert(value);
            }
            Some('u') => {
                o.umounts.insert(value);
            }
            Some('m') => {
                let mut parts = value.split('\x1f');
                o.mounts.insert(MountRule {
                    source: parts.next().unwrap_or_default().to_string(),
                    target: parts.next().unwrap_or_default().to_string(),
                    fstype: parts.next().unwrap_or_default().to_string(),
                });
            }
            Some('k') => {
                let n: usize = value.parse().unwrap_or(0);
                o.capabilities
                    .insert(CAPABILITIES[n % CAPABILITIES.len()].to_string());
            }
            _ => {}
        }
    }
    let profile = apparmor::profile(&recording, &profile_name);
    if let Err(e) = apparmor_text::check(&profile, &recording, &profile_name) {
        panic!("{e}\n--- profile ---\n{profile}");
    }
    if sampled(data) && apparmor_text::parser_available() {
        if let Err(e) = apparmor_text::parser_check(&profile, &profile_name) {
            panic!("{e}\n--- profile ---\n{profile}");
        }
    }
}

fn sampled(data: &[u8]) -> bool {
    static EVERY: std::sync::OnceLock<u64> = std::sync::OnceLock::new();
    let every = *EVERY.get_or_init(|| {
        std::env::var("SENSOR_FUZZ_APPARMOR_SAMPLE")
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(512)
    });
    if every == 0 {
        return false;
    }
    let mut hasher = std::collections::hash_map::DefaultHasher::new();
    data.hash(&mut hasher);
    hasher.finish().is_multiple_of(every)
}

/// A target's body.
pub type Target = fn(&[u8]);

/// Every target by name, for replaying files through them.
pub const TARGETS: &[(&str, Target)] = &[
    ("record_decoder", record_decoder),
    ("label_selector", label_selector),
    ("subscribe_filter", subscribe_filter),
    ("config_file", config_file),
    ("rules_loader", rules_loader),
    ("condition_parser", condition_parser),
    ("output_template", output_template),
    ("cgroup_path", cgroup_path),
    ("proc_files", proc_files),
    ("seccomp_writer", seccomp_writer),
    ("apparmor_writer", apparmor_writer),
];

#[cfg(test)]
mod tests {
    use super::*;

    fn files(dir: &str, target: &str) -> Vec<(PathBuf, Vec<u8>)> {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join(dir).join(target);
        let mut out: Vec<_> = std::fs::read_dir(&dir)
            .map(|d| d.flatten().map(|e| e.path()).collect())
            .unwrap_or_else(|_| Vec::new());
        out.sort();
        out.into_iter()
            .map(|p| {
                let data = std::fs::read(&p).expect("readable");
                (p, data)
            })
            .collect()
    }

    /// Each target's seeds and saved crash inputs pass (what `cargo fuzz run` replays first).
    #[test]
    fn seeds_and_regressions_pass() {
        for (target, run) in TARGETS {
            let seeds = files("corpus", target);
            assert!(!seeds.is_empty(), "{target} has no seeds");
            for (path, data) in seeds.iter().chain(&files("regressions", target)) {
                let result = std::panic::catch_unwind(|| run(data));
                assert!(result.is_ok(), "{target} fails on {}", path.display());
            }
        }
    }

    /// The record seeds (make_record_seeds.py) match the record layout: each decodes.
    #[test]
    fn record_seeds_decode() {
        for (path, data) in files("corpus", "record_decoder") {
            let mut decoder = Decoder::new();
            let events = crate::inputs::records(&data)
                .filter_map(|r| decoder.decode(r))
                .count();
            assert!(events > 0, "{} decodes to nothing", path.display());
            assert_eq!(decoder.malformed, 0, "{}", path.display());
        }
    }
}
