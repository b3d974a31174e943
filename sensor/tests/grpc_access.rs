//! Who may do what over the gRPC API, and how much anyone may ask (issue "Hostile input at every
//! door"): the real `sensor run` on its real socket and mutual-TLS port, called by `sensor`
//! commands running as other users (an unprivileged uid in the socket's group, a member of
//! the control group) and by a tonic client.

mod common;

use std::io::Read;
use std::os::unix::fs::PermissionsExt;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use common::daemon::RunningSensor;
use common::tls::{free_port, make_ca, make_cert};
use common::{privileged, Cgroup, TempDir, SENSOR};
use sensor::sinks::grpc::client::{connect, Target};
use sensor_api::v1 as api;
use serde_json::Value;

/// The unprivileged user the tests call as: nobody.
const NOBODY: u32 = 65534;
/// A group granted `control` (no name needed: the configuration may give a gid).
const CONTROL_GID: u32 = 4242;

/// How a command runs: its uid, primary gid and supplementary groups.
#[derive(Clone, Copy)]
struct As {
    uid: u32,
    gid: u32,
    groups: &'static [u32],
}

const ROOT: As = As {
    uid: 0,
    gid: 0,
    groups: &[],
};
/// nobody in the socket's group (root's, as the sensor creates it 0660 root:root): may
/// connect, so has `read`.
const READER: As = As {
    uid: NOBODY,
    gid: 0,
    groups: &[],
};
/// nobody with the control group as a supplementary group.
const CONTROLLER: As = As {
    uid: NOBODY,
    gid: 0,
    groups: &[CONTROL_GID],
};

/// A copy of the sensor binary any user may run (the build's own may sit under a directory
/// only root can enter), in `dir`.
fn binary_for_anyone(dir: &TempDir) -> PathBuf {
    let path = dir.path("sensor-bin");
    std::fs::copy(SENSOR, &path).expect("copy the sensor binary");
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
    std::fs::set_permissions(&dir.0, std::fs::Permissions::from_mode(0o755)).unwrap();
    path
}

/// `binary args...` run as `who`.
fn command(binary: &Path, who: As, args: &[&str]) -> Command {
    let mut cmd = Command::new(binary);
    cmd.args(args).stdin(Stdio::null());
    let groups = who.groups.to_vec();
    // SAFETY: only async-signal-safe calls between fork and exec; `groups` was allocated
    // before the fork.
    unsafe {
        cmd.pre_exec(move || {
            if libc::setgroups(groups.len(), groups.as_ptr()) != 0
                || libc::setgid(who.gid) != 0
                || libc::setuid(who.uid) != 0
            {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
    cmd
}

fn output(binary: &Path, who: As, args: &[&str]) -> Output {
    let out = command(binary, who, args)
        .output()
        .unwrap_or_else(|e| panic!("running sensor {args:?}: {e}"));
    eprintln!(
        "sensor {args:?} as uid {} groups {:?}: {}\n{}",
        who.uid,
        who.groups,
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// `sensor status` as `who`, as JSON.
fn status(binary: &Path, who: As, connect: &[&str]) -> Value {
    let mut args = vec!["status"];
    args.extend_from_slice(connect);
    let out = output(binary, who, &args);
    assert!(out.status.success(), "sensor status: {}", stderr(&out));
    serde_json::from_slice(&out.stdout).expect("sensor status prints JSON")
}

fn subscriber_names(status: &Value) -> Vec<String> {
    let mut names: Vec<String> = status["subscribers"]
        .as_array()
        .expect("subscribers")
        .iter()
        .filter_map(|s| s["client_name"].as_str().map(str::to_string))
        .collect();
    names.sort();
    names
}

/// Polls root's `sensor status` until every subscriber in `names` is connected.
fn wait_subscribed(binary: &Path, connect: &[&str], who: As, names: &[&str]) -> Value {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let status = status(binary, who, connect);
        let connected = subscriber_names(&status);
        if names.iter().all(|n| connected.iter().any(|c| c == n)) {
            return status;
        }
        assert!(
            Instant::now() < deadline,
            "subscribers {names:?} not connected within 30 s: {status:#}"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// A `sensor alerts` left running, killed on drop.
struct Alerts(Child);

impl Alerts {
    fn start(binary: &Path, who: As, connect: &[&str], name: &str) -> Alerts {
        let mut args = vec!["alerts"];
        args.extend_from_slice(connect);
        args.extend(["--json", "--name", name]);
        let child = command(binary, who, &args)
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start sensor alerts");
        Alerts(child)
    }

    /// Its exit and stderr: for one the sensor refused.
    fn refused(mut self) -> String {
        let deadline = Instant::now() + Duration::from_secs(20);
        while self.0.try_wait().expect("try_wait").is_none() {
            assert!(Instant::now() < deadline, "sensor alerts was not refused");
            std::thread::sleep(Duration::from_millis(50));
        }
        let mut text = String::new();
        if let Some(mut pipe) = self.0.stderr.take() {
            let _ = pipe.read_to_string(&mut text);
        }
        text
    }
}

impl Drop for Alerts {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Polls `sensor profile list` as root until the recorder is loaded.
fn wait_recorder(binary: &Path, connect: &[&str]) {
    let deadline = Instant::now() + Duration::from_secs(30);
    let mut args = vec!["profile", "list"];
    args.extend_from_slice(connect);
    loop {
        let out = output(binary, ROOT, &args);
        if out.status.success() {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "the recorder never became ready: {}",
            stderr(&out)
        );
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// A cgroup named as containerd names a container's, and the container id.
fn container(tag: &str) -> (Cgroup, String) {
    let id = format!(
        "{:0>64x}",
        (u64::from(std::process::id()) << 16) + u64::from(tag.bytes().map(u32::from).sum::<u32>())
    );
    let cgroup = Cgroup::create(&format!(
        "sensor-test-access-{}/cri-containerd-{id}.scope",
        std::process::id()
    ));
    (cgroup, id)
}

/// On the socket: nobody in the socket's group has `read` only (no recordings, only its own
/// subscribers in Status); a member of the control group and root have `control`.
#[test]
fn a_reader_cannot_record_and_sees_only_its_own_subscribers() {
    if !privileged() {
        return;
    }
    let dir = TempDir::new("access-unix");
    let binary = binary_for_anyone(&dir);
    let socket = dir.path("sensor.sock").display().to_string();
    let config = dir.path("sensor.yaml");
    std::fs::write(
        &config,
        format!("grpc:\n  socket:\n    control_group: {CONTROL_GID}\n"),
    )
    .unwrap();
    let config = config.display().to_string();
    let _sensor = RunningSensor::start(&["--config", &config, "--grpc-socket", &socket]);
    let at = ["--socket", socket.as_str()];

    let _root_sub = Alerts::start(&binary, ROOT, &at, "root-sub");
    let _reader_sub = Alerts::start(&binary, READER, &at, "reader-sub");
    let all = wait_subscribed(&binary, &at, ROOT, &["root-sub", "reader-sub"]);
    assert_eq!(all["caller"], "uid 0", "{all:#}");
    assert_eq!(all["caller_role"], "control");

    // The reader sees itself only.
    let own = status(&binary, READER, &at);
    assert_eq!(subscriber_names(&own), ["reader-sub"], "{own:#}");
    assert_eq!(own["caller"], format!("uid {NOBODY}"));
    assert_eq!(own["caller_role"], "read");
    assert_eq!(own["subscribers"][0]["identity"], format!("uid {NOBODY}"));

    // ... and may not record, nor list recordings: PERMISSION_DENIED saying how to grant it.
    let (cgroup, id) = container("reader");
    for args in [
        vec!["profile", "start", "by-reader", "--container", &id[..12]],
        vec!["profile", "list"],
    ] {
        let mut args = args.clone();
        args.extend_from_slice(&at);
        let out = output(&binary, READER, &args);
        assert!(!out.status.success(), "{args:?} as a reader");
        let text = stderr(&out);
        assert!(text.contains("needs the `control` role"), "{text}");
        assert!(
            text.contains(&format!("this caller (uid {NOBODY}) has `read`")),
            "{text}"
        );
        assert!(
            text.contains(&format!("grpc.socket.control_group (gid {CONTROL_GID})")),
            "{text}"
        );
    }

    // A member of the control group (a supplementary group) has control.
    wait_recorder(&binary, &at);
    let controller = status(&binary, CONTROLLER, &at);
    assert_eq!(controller["caller_role"], "control", "{controller:#}");
    assert_eq!(
        subscriber_names(&controller),
        ["reader-sub", "root-sub"],
        "{controller:#}"
    );
    let mut list = vec!["profile", "list"];
    list.extend_from_slice(&at);
    assert!(output(&binary, CONTROLLER, &list).status.success());

    // Root records.
    let mut start = vec!["profile", "start", "by-root", "--container", &id[..12]];
    start.extend_from_slice(&at);
    let out = output(&binary, ROOT, &start);
    assert!(out.status.success(), "{}", stderr(&out));
    let started: Value = serde_json::from_slice(&out.stdout).expect("JSON");
    assert_eq!(
        started["max_duration_seconds"], 3600,
        "the default time limit: {started:#}"
    );
    let out_dir = dir.path("profiles").display().to_string();
    let mut stop = vec!["profile", "stop", "by-root", "--out", &out_dir];
    stop.extend_from_slice(&at);
    let out = output(&binary, ROOT, &stop);
    assert!(out.status.success(), "{}", stderr(&out));
    drop(cgroup);
}

/// Recordings are bounded: at most `max_recordings` at once, a `max_duration` no longer than
/// the cap, and one that reaches its time limit is stopped by the sensor, its profiles kept
/// for `sensor profile stop`.
#[test]
fn recordings_are_capped_and_stopped_at_their_time_limit() {
    if !privileged() {
        return;
    }
    let dir = TempDir::new("access-recordings");
    let socket = dir.path("sensor.sock").display().to_string();
    let config = dir.path("sensor.yaml");
    std::fs::write(
        &config,
        "grpc:\n  limits:\n    max_recordings: 1\n    recording_max_duration: 1h\n",
    )
    .unwrap();
    let config = config.display().to_string();
    let _sensor = RunningSensor::start(&["--config", &config, "--grpc-socket", &socket]);
    let at = ["--socket", socket.as_str()];
    let binary = Path::new(SENSOR);
    wait_recorder(binary, &at);
    let (first, first_id) = container("first");
    let (second, second_id) = container("second");
    let run = |args: &[&str]| {
        let mut args = args.to_vec();
        args.extend_from_slice(&at);
        output(binary, ROOT, &args)
    };

    let out = run(&[
        "profile",
        "start",
        "too-long",
        "--container",
        &first_id,
        "--max-duration",
        "2h",
    ]);
    assert!(!out.status.success());
    assert!(
        stderr(&out).contains(
            "max_duration: 2h is longer than the limit of 1h (grpc.limits.recording_max_duration)"
        ),
        "{}",
        stderr(&out)
    );

    let out = run(&[
        "profile",
        "start",
        "short",
        "--container",
        &first_id,
        "--max-duration",
        "2s",
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    let out = run(&["profile", "start", "another", "--container", &second_id]);
    assert!(!out.status.success(), "a second recording over the cap");
    assert!(
        stderr(&out).contains("1 recordings are running, the limit (grpc.limits.max_recordings)"),
        "{}",
        stderr(&out)
    );

    // Past its time limit the sensor has stopped it: nothing runs, the result waits.
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let out = run(&["profile", "list"]);
        assert!(out.status.success());
        if String::from_utf8_lossy(&out.stdout).trim().is_empty()
            && stderr(&out).contains("short: stopped at its time limit")
        {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the recording was not stopped at its time limit"
        );
        std::thread::sleep(Duration::from_millis(250));
    }
    let got = run(&["profile", "get", "short"]);
    let got: Value = serde_json::from_slice(&got.stdout).expect("JSON");
    assert_eq!(got["expired"], true, "{got:#}");
    // Its slot is free again.
    let out = run(&["profile", "start", "another", "--container", &second_id]);
    assert!(out.status.success(), "{}", stderr(&out));
    let out_dir = dir.path("profiles").display().to_string();
    let out = run(&["profile", "stop", "short", "--out", &out_dir]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("stopped this recording at its time limit (2s, max_duration)"),
        "{}",
        stderr(&out)
    );
    assert!(Path::new(&out_dir).join("short.seccomp.json").is_file());
    let out = run(&["profile", "stop", "another", "--out", &out_dir]);
    assert!(out.status.success(), "{}", stderr(&out));
    drop((first, second));
}

fn tokio() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime")
}

/// Oversized requests are refused with a status naming the field (or the request) and the
/// limit, and the sensor goes on serving a subscriber it had.
#[test]
fn oversized_requests_are_refused_and_the_sensor_keeps_serving() {
    if !privileged() {
        return;
    }
    let dir = TempDir::new("access-oversized");
    let rules = dir.path("rules.yaml");
    let marker = dir.path("keep-serving");
    std::fs::write(&marker, b"x").unwrap();
    std::fs::write(
        &rules,
        format!(
            "- rule: Access Test Chmod\n  desc: a chmod of this test's file\n  condition: evt.type in (chmod, fchmodat, fchmodat2) and evt.arg.filename = {}\n  output: chmod (pid=%proc.pid)\n  priority: WARNING\n",
            marker.display()
        ),
    )
    .unwrap();
    let socket = dir.path("sensor.sock");
    let (rules_arg, socket_arg) = (rules.display().to_string(), socket.display().to_string());
    let _sensor = RunningSensor::start(&["--rules", &rules_arg, "--grpc-socket", &socket_arg]);
    let target = Target::Socket(socket.clone());
    tokio().block_on(async {
        let mut keeper_client = connect(&target).await.expect("connect");
        let mut keeper = keeper_client
            .subscribe(api::SubscribeRequest {
                client_name: "keeper".into(),
                rules: vec!["Access Test Chmod".into()],
                ..Default::default()
            })
            .await
            .expect("a plain subscription")
            .into_inner();

        let mut client = connect(&target).await.expect("connect");
        let refused = |request: api::SubscribeRequest| {
            let mut client = client.clone();
            async move {
                client
                    .subscribe(request)
                    .await
                    .expect_err("an oversized subscription is refused")
            }
        };
        let many = refused(api::SubscribeRequest {
            rules: vec!["r".into(); 10_000],
            ..Default::default()
        })
        .await;
        assert_eq!(many.code(), tonic::Code::InvalidArgument, "{many:?}");
        assert_eq!(
            many.message(),
            "rules: 10000 values, more than the limit of 256 (grpc.limits.max_filter_values)"
        );
        let selector = refused(api::SubscribeRequest {
            pod_selector: "a".repeat(60_000),
            ..Default::default()
        })
        .await;
        assert_eq!(selector.code(), tonic::Code::InvalidArgument);
        assert_eq!(
            selector.message(),
            "pod_selector: 60000 bytes, longer than the limit of 4096 bytes (grpc.limits.max_selector_bytes)"
        );
        let huge = refused(api::SubscribeRequest {
            pod_selector: "a".repeat(1 << 20),
            ..Default::default()
        })
        .await;
        assert_eq!(huge.code(), tonic::Code::ResourceExhausted, "{huge:?}");
        assert!(
            huge.message().starts_with(
                "the request is larger than the sensor accepts: the limit is 65536 bytes (grpc.limits.max_request_bytes)"
            ),
            "{}",
            huge.message()
        );
        // A unary call over the limit too.
        let big_stop = client
            .stop_profile_recording(api::StopProfileRecordingRequest {
                name: "n".repeat(1 << 20),
                ..Default::default()
            })
            .await
            .expect_err("refused");
        assert_eq!(big_stop.code(), tonic::Code::ResourceExhausted);

        // The sensor still serves: Status answers and the keeper gets its alert.
        let status = client
            .status(api::StatusRequest {})
            .await
            .expect("status")
            .into_inner();
        let names: Vec<&str> = status
            .subscribers
            .iter()
            .map(|s| s.client_name.as_str())
            .collect();
        assert_eq!(names, ["keeper"], "the refused ones were never subscribed");
        let chmod = Command::new("chmod")
            .arg("600")
            .arg(&marker)
            .status()
            .expect("chmod");
        assert!(chmod.success());
        let alert = tokio::time::timeout(Duration::from_secs(15), async {
            loop {
                match keeper.message().await.expect("the stream").expect("open") {
                    api::SubscribeResponse {
                        message: Some(api::subscribe_response::Message::Alert(alert)),
                    } => return alert,
                    _ => continue,
                }
            }
        })
        .await
        .expect("the keeper's alert within 15 s");
        assert_eq!(alert.rule, "Access Test Chmod");
    });
}

/// The subscriber limits: per identity, then in all; a refused caller is told which and why.
#[test]
fn the_subscriber_caps_refuse_one_more() {
    if !privileged() {
        return;
    }
    let dir = TempDir::new("access-caps");
    let binary = binary_for_anyone(&dir);
    let socket = dir.path("sensor.sock");
    let config = dir.path("sensor.yaml");
    std::fs::write(
        &config,
        "grpc:\n  limits:\n    max_subscribers: 3\n    max_subscribers_per_identity: 2\n",
    )
    .unwrap();
    let (config_arg, socket_arg) = (config.display().to_string(), socket.display().to_string());
    let _sensor = RunningSensor::start(&["--config", &config_arg, "--grpc-socket", &socket_arg]);
    let at = ["--socket", socket_arg.as_str()];
    let target = Target::Socket(socket.clone());
    tokio().block_on(async {
        let client = connect(&target).await.expect("connect");
        let open = |name: &str| {
            let mut client = client.clone();
            let request = api::SubscribeRequest {
                client_name: name.into(),
                ..Default::default()
            };
            async move { client.subscribe(request).await.map(|r| r.into_inner()) }
        };
        let first = open("root-1").await.expect("first");
        let _second = open("root-2").await.expect("second");
        let third = open("root-3").await.expect_err("a third for root");
        assert_eq!(third.code(), tonic::Code::ResourceExhausted, "{third:?}");
        assert_eq!(
            third.message(),
            "uid 0 already has 2 subscribers, the limit per caller (grpc.limits.max_subscribers_per_identity); close one first"
        );

        // Another identity takes the last slot; then the sensor is full for everyone.
        let _reader = Alerts::start(&binary, READER, &at, "reader-1");
        wait_subscribed(&binary, &at, ROOT, &["root-1", "root-2", "reader-1"]);
        let refused = Alerts::start(&binary, READER, &at, "reader-2").refused();
        assert!(
            refused.contains(
                "3 subscribers are connected, the sensor's limit (grpc.limits.max_subscribers)"
            ),
            "{refused}"
        );
        // A subscriber leaving frees its slot.
        drop(first);
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            match open("root-4").await {
                Ok(_) => break,
                Err(e) => {
                    assert_eq!(e.code(), tonic::Code::ResourceExhausted);
                    assert!(Instant::now() < deadline, "the slot was not freed: {e:?}");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
            }
        }
    });
}

/// Over mutual TLS a certificate whose name is in `grpc.tcp.control_identities` has
/// `control`; another from the same CA has `read`.
#[test]
fn a_listed_certificate_has_control_and_another_only_read() {
    if !privileged() {
        return;
    }
    let dir = TempDir::new("access-mtls");
    make_ca(&dir, "ca");
    let leaf = "basicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature\n";
    make_cert(
        &dir,
        "ca",
        "server",
        &format!("{leaf}extendedKeyUsage=serverAuth\nsubjectAltName=IP:127.0.0.1,DNS:localhost\n"),
    );
    make_cert(
        &dir,
        "ca",
        "ops-admin",
        &format!("{leaf}extendedKeyUsage=clientAuth\n"),
    );
    make_cert(
        &dir,
        "ca",
        "dashboard",
        &format!("{leaf}extendedKeyUsage=clientAuth\nsubjectAltName=URI:spiffe://test/dashboard\n"),
    );
    let file = |name: &str| dir.path(name).display().to_string();
    let address = format!("127.0.0.1:{}", free_port());
    let config = dir.path("sensor.yaml");
    std::fs::write(
        &config,
        format!(
            "grpc:\n  socket:\n    enabled: false\n  tcp:\n    enabled: true\n    address: {address}\n    tls:\n      ca: {}\n      cert: {}\n      key: {}\n    control_identities: [ops-admin]\n",
            file("ca.pem"),
            file("server.pem"),
            file("server.key")
        ),
    )
    .unwrap();
    let config = config.display().to_string();
    let _sensor = RunningSensor::start(&["--config", &config]);
    let connect_as = |name: &str| -> Vec<String> {
        vec![
            "--addr".into(),
            address.clone(),
            "--ca".into(),
            file("ca.pem"),
            "--cert".into(),
            file(&format!("{name}.pem")),
            "--key".into(),
            file(&format!("{name}.key")),
        ]
    };
    let admin_args = connect_as("ops-admin");
    let admin: Vec<&str> = admin_args.iter().map(String::as_str).collect();
    let reader_args = connect_as("dashboard");
    let reader: Vec<&str> = reader_args.iter().map(String::as_str).collect();
    let binary = Path::new(SENSOR);

    wait_recorder(binary, &admin);
    let mut list = vec!["profile", "list"];
    list.extend_from_slice(&reader);
    let out = output(binary, ROOT, &list);
    assert!(
        !out.status.success(),
        "the dashboard may not list recordings"
    );
    let text = stderr(&out);
    assert!(
        text.contains("ListProfileRecordings needs the `control` role; this caller (certificate CN=dashboard URI:spiffe://test/dashboard) has `read`"),
        "{text}"
    );
    assert!(text.contains("grpc.tcp.control_identities"), "{text}");

    let _admin_sub = Alerts::start(binary, ROOT, &admin, "admin-sub");
    let _reader_sub = Alerts::start(binary, ROOT, &reader, "dashboard-sub");
    let all = wait_subscribed(binary, &admin, ROOT, &["admin-sub", "dashboard-sub"]);
    assert_eq!(all["caller_role"], "control", "{all:#}");
    assert_eq!(all["caller"], "certificate CN=ops-admin");
    let own = status(binary, ROOT, &reader);
    assert_eq!(subscriber_names(&own), ["dashboard-sub"], "{own:#}");
    assert_eq!(own["caller_role"], "read");
}
