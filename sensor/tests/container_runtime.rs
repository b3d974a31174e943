//! A real container runtime (Debian's runc) starting real containers: its own setup of each
//! (runc's init mounting /proc and /sys, masking paths, setting /dev's permissions, about a
//! dozen calls per container) raises no alert under the default rules, while a process the
//! container starts itself, naming itself as runc's init does, still raises them.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use common::{privileged, Sensor, TempDir};
use serde_json::Value;

const SENSITIVE_MOUNT: &str = "Sensitive Mount from a Container";
const EXEC_BIT: &str = "Executable Bit Set in a Container";
const CONTAINERS: u32 = 20;

/// A program a container runs: it names itself `runc:[2:INIT]` (prctl, as any process may),
/// tries to mount proc and makes a file executable, the calls runc's init makes.
const IMPOSTOR_C: &str = r#"
#include <fcntl.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <unistd.h>
int main(void) {
    prctl(PR_SET_NAME, "runc:[2:INIT]");
    mkdir("/mnt", 0755);
    mount("proc", "/mnt", "proc", 0, 0);
    int fd = open("/payload", O_CREAT | O_WRONLY, 0644);
    if (fd >= 0) close(fd);
    chmod("/payload", 0755);
    return 0;
}
"#;

/// The 64-hex id of this test's container `n`, distinct in its first 12 characters (the
/// short `container.id` the alerts carry).
fn container_id(n: u32) -> String {
    format!(
        "{n:04x}c0de{:08x}{}",
        std::process::id(),
        "ab12cd34".repeat(6)
    )
}

fn slice() -> String {
    format!("sensor-test-{}-runc.slice", std::process::id())
}

/// Removes this test's cgroup parent from every hierarchy once its containers are gone
/// (runc removes each container's own cgroup).
struct CgroupParents;

impl Drop for CgroupParents {
    fn drop(&mut self) {
        let mounts = std::fs::read_to_string("/proc/mounts").unwrap_or_default();
        for line in mounts.lines() {
            let mut f = line.split_whitespace();
            let (Some(_), Some(dir), Some(fstype)) = (f.next(), f.next(), f.next()) else {
                continue;
            };
            if fstype == "cgroup" || fstype == "cgroup2" {
                let _ = std::fs::remove_dir(Path::new(dir).join(slice()));
            }
        }
    }
}

/// A bundle: busybox-static's applets, the impostor, `runc spec`'s config with the
/// container's cgroup named as containerd names a CRI container's.
fn bundle(dir: &TempDir) -> PathBuf {
    let bundle = dir.path("bundle");
    let bin = bundle.join("rootfs/bin");
    std::fs::create_dir_all(&bin).unwrap();
    std::fs::copy("/bin/busybox", bin.join("busybox"))
        .expect("/bin/busybox (busybox-static, from `cargo xtask setup`)");
    for applet in ["sh", "true"] {
        std::os::unix::fs::symlink("busybox", bin.join(applet)).unwrap();
    }
    let source = dir.path("impostor.c");
    std::fs::write(&source, IMPOSTOR_C).unwrap();
    let out = Command::new("gcc")
        .args(["-static", "-O1", "-o"])
        .arg(bin.join("impostor"))
        .arg(&source)
        .output()
        .expect("gcc");
    assert!(
        out.status.success(),
        "gcc -static: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let out = Command::new("runc")
        .args(["spec", "--bundle"])
        .arg(&bundle)
        .output()
        .expect("runc (Debian's, from `cargo xtask setup`)");
    assert!(out.status.success(), "runc spec: {out:?}");
    bundle
}

/// Runs `args` in a new container `n` (`runc run`, to its end).
fn run_container(dir: &TempDir, bundle: &Path, n: u32, args: &[&str]) {
    let path = bundle.join("config.json");
    let mut config: Value = serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
    config["process"]["terminal"] = false.into();
    config["process"]["args"] = args.into();
    config["root"]["readonly"] = false.into();
    config["linux"]["cgroupsPath"] =
        format!("/{}/cri-containerd-{}.scope", slice(), container_id(n)).into();
    std::fs::write(&path, serde_json::to_vec(&config).unwrap()).unwrap();
    let out = Command::new("runc")
        .arg("--root")
        .arg(dir.path("state"))
        .args(["run", "--bundle"])
        .arg(bundle)
        .arg(format!("sensor-test-{}-{n}", std::process::id()))
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "runc run {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn runc_setting_up_containers_raises_no_alert_but_an_impostor_in_one_does() {
    if !privileged() {
        return;
    }
    let dir = TempDir::new("runc");
    let bundle = bundle(&dir);
    let _parents = CgroupParents;
    let sensor = Sensor::alerts_with(&[]);

    for n in 0..CONTAINERS {
        run_container(&dir, &bundle, n, &["/bin/true"]);
    }
    let impostor = CONTAINERS;
    run_container(&dir, &bundle, impostor, &["/bin/impostor"]);

    let short = |n: u32| container_id(n)[..12].to_string();
    let of_impostor = |rule: &'static str| {
        let id = short(impostor);
        move |a: &Value| a["rule"] == rule && a["output_fields"]["container.id"] == id.as_str()
    };
    for rule in [SENSITIVE_MOUNT, EXEC_BIT] {
        let alert = sensor.wait_for(&format!("{rule} from the impostor"), of_impostor(rule));
        assert_eq!(
            alert["output_fields"]["proc.name"], "runc:[2:INIT]",
            "the impostor is named as runc's init: {alert}"
        );
    }
    // The impostor's alerts come after every earlier container's calls: anything the
    // runtime raised for those is in by now.
    let runtime_ids: Vec<String> = (0..CONTAINERS).map(short).collect();
    let noise: Vec<Value> = sensor
        .alerts()
        .into_iter()
        .filter(|a| {
            a["output_fields"]["container.id"]
                .as_str()
                .is_some_and(|id| runtime_ids.iter().any(|r| r == id))
        })
        .collect();
    assert!(
        noise.is_empty(),
        "{} alerts from the runtime's setup of {CONTAINERS} containers, e.g. {:#}",
        noise.len(),
        noise[0]
    );
    // runc's setup of the impostor's own container raised nothing either: only the
    // impostor's calls did.
    let impostor_alerts: Vec<Value> = sensor
        .alerts()
        .into_iter()
        .filter(|a| a["output_fields"]["container.id"] == short(impostor).as_str())
        .collect();
    for alert in &impostor_alerts {
        assert_eq!(
            alert["output_fields"]["proc.name"], "runc:[2:INIT]",
            "{alert}"
        );
        assert!(
            [SENSITIVE_MOUNT, EXEC_BIT].contains(&alert["rule"].as_str().unwrap_or("")),
            "{alert}"
        );
    }
    assert_eq!(
        impostor_alerts.len(),
        2,
        "one mount and one chmod: {impostor_alerts:#?}"
    );
}
