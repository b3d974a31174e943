//! Security profiles end to end, on the real kernel with real seccomp: `sensor record` a
//! workload, prove the generated profile by running the workload under it (`sensor profile
//! verify`, same output), and prove it enforces (a syscall the recording never saw fails with
//! EPERM). Also: a command shorter than a millisecond recorded completely, AppArmor output
//! parsed by the real `apparmor_parser`, and the SPO manifests validated by a real API server.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use common::{allowed_syscalls as allowed, output as run, privileged, TempDir, SENSOR};
use serde_json::Value;

fn workload(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data/workloads")
        .join(name)
}

fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// `sensor record` of `command` into `dir`; returns the record run's output.
fn record(dir: &TempDir, name: &str, extra: &[&str], command: &[&str]) -> Output {
    let out = run(Command::new(SENSOR)
        .args(["record", "--out"])
        .arg(&dir.0)
        .args(["--name", name])
        .args(extra)
        .arg("--")
        .args(command));
    assert!(out.status.success(), "sensor record failed: {out:?}");
    out
}

fn verify(profile: &Path, command: &[&str]) -> Output {
    run(Command::new(SENSOR)
        .args(["profile", "verify"])
        .arg(profile)
        .arg("--")
        .args(command))
}

/// Record, rerun under the profile (same stdout), then the one extra call fails with EPERM.
/// `--no-base`: the recording alone must be complete for the rerun to succeed.
fn record_verify_enforce(name: &str, command: &[&str], extra_arg: &str, forbidden: &[&str]) {
    let dir = TempDir::new(name);
    let recorded = record(&dir, name, &["--no-base"], command);
    let profile = dir.path(&format!("{name}.seccomp.json"));
    let names = allowed(&profile);
    for f in forbidden {
        assert!(
            !names.iter().any(|n| n == f),
            "{f} was recorded; the workload must not make it: {names:?}"
        );
    }

    let rerun = verify(&profile, command);
    assert!(rerun.status.success(), "workload failed under its profile");
    assert_eq!(
        stdout(&rerun),
        stdout(&recorded),
        "output differs under the profile"
    );

    let mut with_extra = command.to_vec();
    with_extra.push(extra_arg);
    let denied = verify(&profile, &with_extra);
    let text = stdout(&denied);
    assert!(
        text.contains(&format!("{extra_arg}: EPERM")),
        "{extra_arg} was not denied with EPERM under the profile:\n{text}"
    );
    // Everything before the forbidden call behaved as recorded.
    assert!(text.starts_with(&stdout(&recorded)), "{text}");
}

#[test]
fn shell_workload_with_files_pipes_sockets_and_subprocesses() {
    if !privileged() {
        return;
    }
    let script = workload("files_pipes_sockets.sh");
    record_verify_enforce(
        "shell",
        &["sh", script.to_str().unwrap()],
        "chmod",
        &["chmod", "fchmodat", "fchmodat2"],
    );
}

#[test]
fn multithreaded_workload() {
    if !privileged() {
        return;
    }
    let script = workload("threads.py");
    record_verify_enforce(
        "threads",
        &["python3", script.to_str().unwrap()],
        "ptrace",
        &["ptrace"],
    );
}

#[test]
fn workload_whose_children_exec_other_binaries() {
    if !privileged() {
        return;
    }
    let script = workload("exec_chain.sh");
    record_verify_enforce(
        "execs",
        &["sh", script.to_str().unwrap()],
        "mount",
        &["mount"],
    );
    // The AppArmor profile names every binary the children executed.
    let dir = TempDir::new("execs-aa");
    record(
        &dir,
        "execs",
        &["--format", "apparmor"],
        &["sh", script.to_str().unwrap()],
    );
    let text = std::fs::read_to_string(dir.path("execs.apparmor")).unwrap();
    for exe in [
        "/usr/bin/sort",
        "/usr/bin/xargs",
        "/usr/bin/env",
        "/usr/bin/find",
    ] {
        assert!(
            text.contains(&format!("  {exe} ix,")),
            "{exe} missing:\n{text}"
        );
    }
    assert_apparmor_parses(&dir.path("execs.apparmor"));
}

#[test]
fn command_shorter_than_a_millisecond_is_recorded_completely() {
    if !privileged() {
        return;
    }
    let dir = TempDir::new("short");
    let out = record(
        &dir,
        "true",
        &["--no-base", "--format", "oci"],
        &["/bin/true"],
    );
    let summary = String::from_utf8_lossy(&out.stderr);
    assert!(
        summary.contains("sensor record: true: exit status 0"),
        "{summary}"
    );
    let profile = dir.path("true.seccomp.json");
    let names = allowed(&profile);
    // From its exec to its exit, with the dynamic loader's work in between.
    for expected in ["execve", "brk", "mmap", "openat", "close", "exit_group"] {
        assert!(
            names.iter().any(|n| n == expected),
            "{expected} missing: {names:?}"
        );
    }
    let rerun = verify(&profile, &["/bin/true"]);
    assert!(
        rerun.status.success(),
        "/bin/true failed under its own profile"
    );
    // And the profile enforces: a command needing more fails.
    let other = verify(&profile, &["sh", "-c", "echo hi > /dev/null"]);
    assert!(!other.status.success(), "sh ran under /bin/true's profile");
}

#[test]
fn base_profile_and_log_mode() {
    if !privileged() {
        return;
    }
    let dir = TempDir::new("base");
    record(&dir, "default", &["--format", "oci"], &["/bin/true"]);
    let names = allowed(&dir.path("default.seccomp.json"));
    for runtime_call in sensor::profile::base::RUNTIME_SYSCALLS {
        assert!(names.iter().any(|n| n == runtime_call), "{runtime_call}");
    }
    let base = dir.path("mybase.txt");
    std::fs::write(&base, "# my runtime\nptrace\n").unwrap();
    record(
        &dir,
        "custom",
        &[
            "--format",
            "oci",
            "--base",
            base.to_str().unwrap(),
            "--action",
            "log",
        ],
        &["/bin/true"],
    );
    let custom = dir.path("custom.seccomp.json");
    let names = allowed(&custom);
    assert!(names.iter().any(|n| n == "ptrace"));
    assert!(
        !names.iter().any(|n| n == "capset"),
        "the built-in base was not replaced"
    );
    let json: Value = serde_json::from_str(&std::fs::read_to_string(&custom).unwrap()).unwrap();
    assert_eq!(json["defaultAction"], "SCMP_ACT_LOG");
    // In log mode a syscall outside the profile goes through.
    let ok = verify(&custom, &["sh", "-c", "echo trial"]);
    assert!(ok.status.success());
    assert_eq!(stdout(&ok), "trial\n");

    // diff and merge on the two.
    let diff = run(Command::new(SENSOR)
        .args(["profile", "diff"])
        .arg(dir.path("default.seccomp.json"))
        .arg(&custom));
    assert_eq!(diff.status.code(), Some(1));
    let text = stdout(&diff);
    assert!(
        text.contains("~ defaultAction SCMP_ACT_ERRNO(1) -> SCMP_ACT_LOG"),
        "{text}"
    );
    assert!(text.contains("+ ptrace SCMP_ACT_ALLOW"), "{text}");
    assert!(text.contains("- capset SCMP_ACT_ALLOW"), "{text}");
    let merged = dir.path("merged.json");
    let out = run(Command::new(SENSOR)
        .args(["profile", "merge"])
        .arg(dir.path("default.seccomp.json"))
        .arg(&custom)
        .arg("--out")
        .arg(&merged));
    assert!(out.status.success());
    let names = allowed(&merged);
    assert!(names.iter().any(|n| n == "ptrace") && names.iter().any(|n| n == "capset"));
    let same = run(Command::new(SENSOR)
        .args(["profile", "diff"])
        .arg(&merged)
        .arg(&merged));
    assert_eq!(same.status.code(), Some(0));
}

fn assert_apparmor_parses(path: &Path) {
    let out = run(Command::new("apparmor_parser").args(["-Q", "-K"]).arg(path));
    assert!(
        out.status.success(),
        "apparmor_parser rejected {}:\n{}\n{}",
        path.display(),
        std::fs::read_to_string(path).unwrap_or_default(),
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn apparmor_profile_with_mounts_and_capabilities_parses() {
    if !privileged() {
        return;
    }
    let dir = TempDir::new("aa");
    let mnt = dir.path("mnt dir");
    std::fs::create_dir_all(&mnt).unwrap();
    let script = format!(
        "mount -t tmpfs sensortest '{0}' && umount '{0}' && python3 -c 'import os; os.setuid(0)'",
        mnt.display()
    );
    record(
        &dir,
        "mounter",
        &["--format", "apparmor"],
        &["sh", "-c", &script],
    );
    let path = dir.path("mounter.apparmor");
    let text = std::fs::read_to_string(&path).unwrap();
    assert!(
        text.contains(&format!(
            "mount fstype=tmpfs sensortest -> \"{}/\",",
            mnt.display()
        )),
        "{text}"
    );
    assert!(
        text.contains(&format!("umount \"{}/\",", mnt.display())),
        "{text}"
    );
    assert!(text.contains("capability sys_admin,"), "{text}");
    assert!(text.contains("capability setuid,"), "{text}");
    assert_apparmor_parses(&path);
}

#[test]
fn spo_manifests_are_accepted_by_the_api_server() {
    if !privileged() {
        return;
    }
    let dir = TempDir::new("spo");
    record(&dir, "web-app", &["--format", "spo"], &["/bin/true"]);
    let server = common::apiserver::ApiServer::start();
    let crds = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/spo-crds");
    server.kubectl(&["apply", "-f", crds.to_str().unwrap()], None);
    for crd in [
        "seccompprofiles.security-profiles-operator.x-k8s.io",
        "apparmorprofiles.security-profiles-operator.x-k8s.io",
    ] {
        server.kubectl(
            &[
                "wait",
                "--for=condition=Established",
                "--timeout=30s",
                &format!("crd/{crd}"),
            ],
            None,
        );
    }
    for file in [
        "web-app.seccompprofile.yaml",
        "web-app.apparmorprofile.yaml",
    ] {
        let path = dir.path(file);
        let out = server.kubectl(
            &["create", "-f", path.to_str().unwrap(), "-o", "json"],
            None,
        );
        let created: Value = serde_json::from_str(&out).unwrap();
        assert_eq!(created["metadata"]["name"], "web-app", "{out}");
    }
    let stored: Value = serde_json::from_str(&server.kubectl(
        &[
            "get",
            "seccompprofile",
            "web-app",
            "-n",
            "default",
            "-o",
            "json",
        ],
        None,
    ))
    .unwrap();
    assert_eq!(stored["spec"]["defaultAction"], "SCMP_ACT_ERRNO");
    assert!(stored["spec"]["syscalls"][0]["names"]
        .as_array()
        .unwrap()
        .iter()
        .any(|n| n == "execve"));

    // The schema is really checked: a wrong action and a wrong type are refused.
    let text = std::fs::read_to_string(dir.path("web-app.seccompprofile.yaml")).unwrap();
    for (broken, what) in [
        (
            text.replace("name: web-app", "name: broken-action")
                .replace(
                    "defaultAction: SCMP_ACT_ERRNO",
                    "defaultAction: SCMP_ACT_MAYBE",
                ),
            "spec.defaultAction",
        ),
        (
            text.replace("name: web-app", "name: broken-arch")
                .replace("- SCMP_ARCH_X86_64", "- x86-64"),
            "spec.architectures",
        ),
    ] {
        let mut child = Command::new("kubectl")
            .arg(format!("--kubeconfig={}", server.kubeconfig().display()))
            .args(["create", "--dry-run=server", "-f", "-"])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        use std::io::Write;
        child
            .stdin
            .take()
            .unwrap()
            .write_all(broken.as_bytes())
            .unwrap();
        let out = child.wait_with_output().unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(
            !out.status.success(),
            "a broken manifest was accepted:\n{broken}"
        );
        assert!(err.contains(what), "{err}");
    }
}

/// Daemon mode through the library: the probe on a pipeline thread, recordings started,
/// extended and stopped from another, over cgroups the test creates.
#[test]
fn daemon_mode_recordings_of_running_cgroups() {
    use std::convert::Infallible;
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::sync::{mpsc, Arc};

    if !privileged() {
        return;
    }
    let stop = Arc::new(AtomicBool::new(false));
    let (tx, rx) = mpsc::channel();
    let capture = {
        let stop = stop.clone();
        std::thread::spawn(move || {
            let mut probe = sensor::probe::Probe::load(&sensor::probe::ProbeConfig::default())
                .expect("load probe");
            let recordings =
                sensor::profile::Recordings::new(probe.take_recorder().expect("the recorder"));
            let mut pipeline = sensor::pipeline::Pipeline::new(probe);
            tx.send(recordings.clone()).unwrap();
            let mut sink = |e: &sensor::model::Event| -> Result<(), Infallible> {
                recordings.observe(e);
                Ok(())
            };
            let _ = pipeline.run(&stop, &mut sink);
        })
    };
    let recordings: sensor::profile::Recordings = rx.recv().unwrap();
    assert!(!recordings.is_attached(), "attached with nothing recorded");
    let a = common::Cgroup::create(&format!("sensor-test-profile-{}/a", std::process::id()));
    let b = common::Cgroup::create(&format!("sensor-test-profile-{}/b", std::process::id()));
    let dir = TempDir::new("daemon");
    let file = dir.path("target");
    std::fs::write(&file, "x").unwrap();

    recordings
        .start("web", &[a.id()], Default::default())
        .unwrap();
    assert!(recordings.is_attached());
    assert!(
        recordings
            .start("web", &[b.id()], Default::default())
            .is_err(),
        "duplicate name accepted"
    );
    assert!(
        recordings
            .start("other", &[a.id()], Default::default())
            .is_err(),
        "cgroup in two recordings"
    );
    let status = Command::new("sh")
        .arg("-c")
        .arg(format!(
            "{}; exec chmod 600 '{}'",
            a.enter_command(),
            file.display()
        ))
        .status()
        .unwrap();
    assert!(status.success());
    // A second container of the workload joins the recording.
    recordings.add_cgroups("web", &[b.id()]).unwrap();
    let status = Command::new("sh")
        .arg("-c")
        .arg(format!(
            "{}; exec mkdir '{}'",
            b.enter_command(),
            dir.path("made").display()
        ))
        .status()
        .unwrap();
    assert!(status.success());

    // Events reach `observe` through the ring buffer: wait for both containers' (the
    // chmod's target and the mkdir's exec), which may be read in separate batches.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    let target = file.display().to_string();
    loop {
        let so_far = recordings.get("web").unwrap().recording;
        let seen_chmod = so_far.apparmor.chmod_targets.contains(&target);
        let seen_mkdir = so_far
            .apparmor
            .executables
            .iter()
            .any(|e| e.ends_with("/mkdir"));
        if seen_chmod && seen_mkdir {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "never observed: chmod {seen_chmod}, mkdir {seen_mkdir}"
        );
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    let recording = recordings.stop("web").unwrap();
    assert!(
        !recordings.is_attached(),
        "still attached with nothing recorded"
    );
    assert!(recordings.stop("web").is_err());
    for call in ["fchmodat", "mkdir", "execve", "exit_group"] {
        assert!(
            recording.syscalls.contains(call),
            "{call}: {:?}",
            recording.syscalls
        );
    }
    assert!(recording
        .apparmor
        .executables
        .iter()
        .any(|e| e.ends_with("/chmod")));
    assert!(recording
        .apparmor
        .executables
        .iter()
        .any(|e| e.ends_with("/mkdir")));
    assert_eq!(recording.cgroups.len(), 2);
    stop.store(true, Ordering::Relaxed);
    capture.join().unwrap();
}
