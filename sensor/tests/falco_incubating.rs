//! Falco's incubating rules that read what only this sensor's kernel side captures, loaded
//! unmodified after the stable file (`--rules falco-stable --rules falco-incubating`).

mod common;

use std::process::Command;

use common::{privileged, Sensor};

const GLIBC_TUNABLES: &str =
    "Potential Local Privilege Escalation via Environment Variables Misuse";

/// `proc.env` is the environment the kernel copied into the new image: a program started
/// with GLIBC_TUNABLES set raises the rule (event-generator's action of the same name); one
/// started without does not.
#[test]
fn glibc_tunables_in_the_environment() {
    if !privileged() {
        return;
    }
    let sensor = Sensor::alerts_with(&["--rules", "falco-stable", "--rules", "falco-incubating"]);
    let run = |env: &[(&str, &str)], tag: &str| {
        let marker = format!("{tag}-{}", std::process::id());
        let status = Command::new("/bin/true")
            .arg(&marker)
            .env_clear()
            .envs(env.iter().copied())
            .status()
            .expect("true");
        assert!(status.success());
        marker
    };
    let marked = |marker: &str| {
        let marker = marker.to_string();
        move |a: &serde_json::Value| {
            a["rule"] == GLIBC_TUNABLES
                && a["output_fields"]["proc.cmdline"]
                    .as_str()
                    .is_some_and(|c| c.contains(&marker))
        }
    };
    let marker = run(
        &[
            ("GLIBC_TUNABLES", "glibc.malloc.mxfast=0"),
            ("PATH", "/bin"),
        ],
        "tunables",
    );
    let alert = sensor.wait_for("the GLIBC_TUNABLES alert", marked(&marker));
    assert_eq!(
        alert["output_fields"]["proc.env"], "GLIBC_TUNABLES=glibc.malloc.mxfast=0 PATH=/bin",
        "{alert:#}"
    );
    // Without it: checked once a later alert of the same rule is in (events are handled in
    // order).
    let quiet = run(&[("PATH", "/bin")], "no-tunables");
    let sentinel = run(&[("GLIBC_TUNABLES", "x")], "sentinel");
    sensor.wait_for("the sentinel's alert", marked(&sentinel));
    assert!(
        !sensor.alerts().iter().any(marked(&quiet)),
        "a program without GLIBC_TUNABLES raised the rule"
    );
}
