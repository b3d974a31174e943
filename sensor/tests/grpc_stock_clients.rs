//! Stock gRPC clients, default settings, over the sensor's Unix socket. gRPC's C core (Python
//! grpcio here) and grpc-java send the socket's path as HTTP/2 `:authority`, which h2 used to reset as
//! malformed; the sensor's patched h2 (vendor/README.md) takes it as absent. Each client is
//! unmodified: no `grpc.default_authority`, no generated code beyond what the client library
//! itself needs (messages pass as bytes; the sensor's prost types encode and decode them).
//! grpc-go (Debian's `golang-google-grpc-dev`) and grpc-java (Debian's `libgrpc-java`, over
//! Netty's epoll transport) are built at test time.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::daemon::RunningSensor as Sensor;
use common::grpcio::grpcio_python;
use common::{privileged, run, TempDir, SENSOR};
use prost::Message;
use sensor_api::v1 as api;

const RULE: &str = "Stock Client Rule";
const GO_CLIENT: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/grpc_go_client.go");
const JAVA_CLIENT_DIR: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/grpc_java_client");
/// Where Debian's Go packages keep their sources (GOPATH mode).
const DEBIAN_GOPATH: &str = "/usr/share/gocode";

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn unhex(text: &str) -> Vec<u8> {
    (0..text.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&text[i..i + 2], 16).expect("hex from the client"))
        .collect()
}

/// A sensor with one rule, on a socket in `dir`.
fn sensor(dir: &TempDir) -> (Sensor, PathBuf) {
    let rules = dir.path("rules.yaml");
    std::fs::write(
        &rules,
        format!(
            "- rule: {RULE}\n  desc: stock client test\n  condition: evt.type in (chmod, fchmodat, fchmodat2) and evt.arg.filename startswith {}/\n  output: chmod by a test (pid=%proc.pid file=%evt.arg.filename)\n  priority: WARNING\n",
            dir.0.display()
        ),
    )
    .unwrap();
    let socket = dir.path("sensor.sock");
    let sensor = Sensor::start(&[
        "--rules",
        rules.to_str().unwrap(),
        "--grpc-socket",
        socket.to_str().unwrap(),
    ]);
    (sensor, socket)
}

fn status_of(bytes: &[u8]) -> api::StatusResponse {
    api::StatusResponse::decode(bytes).expect("a StatusResponse")
}

/// Python grpcio (gRPC's C core) with its default channel settings, both ways of naming a
/// Unix socket: `unix:///abs` and `unix:/abs`.
#[test]
fn grpcio_with_default_settings_calls_over_the_unix_socket() {
    if !privileged() {
        return;
    }
    let python = grpcio_python();
    let dir = TempDir::new("stock-python");
    let (_sensor, socket) = sensor(&dir);
    let code = "import sys, grpc
channel = grpc.insecure_channel(sys.argv[1])
status = channel.unary_unary('/sensor.v1.Sensor/Status')
print(status(b'', timeout=20, wait_for_ready=True).hex())";
    for target in [
        format!("unix://{}", socket.display()),
        format!("unix:{}", socket.display()),
    ] {
        let out = Command::new(&python)
            .args(["-c", code, &target])
            .stderr(Stdio::piped())
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "grpcio, target {target}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let status = status_of(&unhex(String::from_utf8_lossy(&out.stdout).trim()));
        assert_eq!(status.version, env!("CARGO_PKG_VERSION"), "{status:?}");
        assert_eq!(status.rules_loaded, 1, "{status:?}");
    }
}

/// grpc-go (Debian's golang-google-grpc-dev), default dial options: Status, then a Subscribe
/// stream that receives the alert of a chmod this test makes.
#[test]
fn grpc_go_with_default_settings_reads_status_and_receives_an_alert() {
    if !privileged() {
        return;
    }
    let dir = TempDir::new("stock-go");
    let client = build_go_client(&dir);
    let (_sensor, socket) = sensor(&dir);
    let target = format!("unix://{}", socket.display());
    status_then_alert(&dir, &socket, "grpc-go", |args| {
        let mut cmd = Command::new(&client);
        cmd.arg(&target).args(args);
        cmd
    });
}

/// grpc-java (Debian's libgrpc-java over libnetty-java's epoll transport), default channel
/// settings: it sends the bare socket path as `:authority`. Status, then a Subscribe stream
/// that receives the alert of a chmod this test makes.
#[test]
fn grpc_java_with_default_settings_reads_status_and_receives_an_alert() {
    if !privileged() {
        return;
    }
    let dir = TempDir::new("stock-java");
    let java = build_java_client(&dir);
    let (_sensor, socket) = sensor(&dir);
    status_then_alert(&dir, &socket, "grpc-java", |args| {
        let mut cmd = java.command();
        cmd.arg(&socket).args(args);
        cmd
    });
}

/// Through `client` (a command taking `METHOD REQUEST_HEX RESPONSES` after its endpoint, and
/// printing each response as hex): Status, then a Subscribe named `name` that receives the
/// alert of a chmod this test makes.
fn status_then_alert(
    dir: &TempDir,
    socket: &Path,
    name: &str,
    client: impl Fn(&[&str]) -> Command,
) {
    let out = client(&["/sensor.v1.Sensor/Status", "", "1"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{name} Status: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let status = status_of(&unhex(String::from_utf8_lossy(&out.stdout).trim()));
    assert_eq!(status.version, env!("CARGO_PKG_VERSION"), "{status:?}");

    let request = api::SubscribeRequest {
        rules: vec![RULE.to_string()],
        client_name: name.to_string(),
        ..Default::default()
    };
    let mut subscriber = client(&[
        "/sensor.v1.Sensor/Subscribe",
        &hex(&request.encode_to_vec()),
        "1",
    ])
    .stdout(Stdio::piped())
    .spawn()
    .unwrap();
    wait_subscribed(socket, name);
    let file = dir.path("target");
    std::fs::write(&file, b"x").unwrap();
    let (pid, chmod) = run(Command::new("chmod").arg("4644").arg(&file));
    assert!(chmod.success());
    let out = wait_output(subscriber.stdout.take().unwrap(), &mut subscriber);
    let response =
        api::SubscribeResponse::decode(unhex(out.trim()).as_slice()).expect("a SubscribeResponse");
    let Some(api::subscribe_response::Message::Alert(alert)) = response.message else {
        panic!("{name}: an alert, not {response:?}");
    };
    assert_eq!(alert.rule, RULE);
    assert_eq!(
        alert.process.as_ref().map(|p| p.pid),
        Some(pid),
        "{alert:?}"
    );
}

/// The grpc-java client, compiled: its classes, the netty epoll JNI library, the classpath.
struct JavaClient {
    classpath: String,
    native_dir: PathBuf,
}

impl JavaClient {
    fn command(&self) -> Command {
        let mut cmd = Command::new("java");
        cmd.arg(format!("-Djava.library.path={}", self.native_dir.display()))
            .args(["-cp", &self.classpath, "GrpcJavaClient"]);
        cmd
    }
}

/// Jars of Debian's libgrpc-java, libnetty-java, libguava-java and libperfmark-java the client
/// runs on (/usr/share/java).
const JAVA_JARS: &[&str] = &[
    "grpc-api",
    "grpc-context",
    "grpc-core",
    "grpc-netty",
    "grpc-stub",
    "guava",
    "perfmark-api",
    "netty-common",
    "netty-buffer",
    "netty-transport",
    "netty-resolver",
    "netty-codec",
    "netty-codec-http",
    "netty-codec-http2",
    "netty-handler",
    "netty-transport-native-unix-common",
    "netty-transport-native-epoll",
];

/// Compiles Netty's epoll JNI library (Debian packages only its Java side; the C sources are
/// test data, `tests/data/grpc_java_client/netty-epoll-native/README.md`) and the client.
fn build_java_client(dir: &TempDir) -> JavaClient {
    let data = Path::new(JAVA_CLIENT_DIR);
    let jars: Vec<String> = JAVA_JARS
        .iter()
        .map(|j| format!("/usr/share/java/{j}.jar"))
        .collect();
    for jar in &jars {
        assert!(
            Path::new(jar).is_file(),
            "{jar} is missing: run `cargo xtask setup` (Debian's libgrpc-java and its jars)"
        );
    }
    let javac = std::fs::canonicalize(which("javac")).expect("javac's real path");
    // <jdk>/bin/javac -> <jdk>/include for jni.h.
    let jdk = javac
        .parent()
        .and_then(Path::parent)
        .expect("the JDK's home");
    let native_dir = dir.path("native");
    std::fs::create_dir_all(&native_dir).unwrap();
    let sources = |sub: &str| -> Vec<PathBuf> {
        let mut files: Vec<PathBuf> = std::fs::read_dir(data.join("netty-epoll-native").join(sub))
            .unwrap()
            .map(|e| e.unwrap().path())
            .filter(|p| p.extension().is_some_and(|e| e == "c"))
            .collect();
        files.sort();
        files
    };
    let mut gcc = Command::new("gcc");
    gcc.args(["-shared", "-fPIC", "-O2", "-fvisibility=hidden"])
        .arg(format!("-I{}", jdk.join("include").display()))
        .arg(format!("-I{}", jdk.join("include/linux").display()))
        .arg(format!(
            "-I{}",
            data.join("netty-epoll-native/unix-common").display()
        ))
        .args(sources("unix-common"))
        .args(sources("epoll"))
        .args(["-lrt", "-ldl", "-o"])
        .arg(native_dir.join("libnetty_transport_native_epoll_x86_64.so"));
    checked(&mut gcc);
    let classes = dir.path("classes");
    let classpath = jars.join(":");
    checked(
        Command::new(&javac)
            .arg("-d")
            .arg(&classes)
            .args(["-cp", &classpath])
            .arg(data.join("GrpcJavaClient.java")),
    );
    JavaClient {
        classpath: format!("{}:{classpath}", classes.display()),
        native_dir,
    }
}

fn which(program: &str) -> PathBuf {
    std::env::var_os("PATH")
        .and_then(|paths| {
            std::env::split_paths(&paths)
                .map(|d| d.join(program))
                .find(|p| p.is_file())
        })
        .unwrap_or_else(|| panic!("{program} is not on PATH: run `cargo xtask setup`"))
}

fn checked(cmd: &mut Command) {
    let out = cmd
        .output()
        .unwrap_or_else(|e| panic!("{cmd:?}: {e} (run `cargo xtask setup`)"));
    assert!(
        out.status.success(),
        "{cmd:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Builds the Go client against Debian's grpc-go sources (GOPATH mode: no module download).
fn build_go_client(dir: &TempDir) -> PathBuf {
    assert!(
        Path::new(DEBIAN_GOPATH)
            .join("src/google.golang.org/grpc")
            .is_dir(),
        "grpc-go's sources are missing: run `cargo xtask setup` (Debian's golang-google-grpc-dev)"
    );
    let binary = dir.path("grpc_go_client");
    let out = Command::new("go")
        .args(["build", "-o"])
        .arg(&binary)
        .arg(GO_CLIENT)
        .env("GO111MODULE", "off")
        .env("GOPATH", DEBIAN_GOPATH)
        .env("GOCACHE", dir.path("gocache"))
        .env("GOFLAGS", "")
        .output()
        .expect("go (Debian's golang-go; `cargo xtask setup` installs it)");
    assert!(
        out.status.success(),
        "go build {GO_CLIENT}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    binary
}

/// Polls `sensor status` until a subscriber named `name` is connected.
fn wait_subscribed(socket: &Path, name: &str) {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let out = Command::new(SENSOR)
            .args(["status", "--socket"])
            .arg(socket)
            .output()
            .expect("sensor status");
        let status: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap_or_default();
        let connected = status["subscribers"]
            .as_array()
            .is_some_and(|s| s.iter().any(|s| s["client_name"] == name));
        if connected {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "subscriber {name} not connected within 60 s: {status:#}"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// The client's stdout once it exits (within 30 s).
fn wait_output(mut stdout: std::process::ChildStdout, child: &mut std::process::Child) -> String {
    use std::io::Read;
    let status =
        common::daemon::wait_timeout(child, Duration::from_secs(30)).unwrap_or_else(|| {
            let _ = child.kill();
            panic!("the grpc-go subscriber received no alert within 30 s")
        });
    assert!(status.success(), "grpc-go Subscribe: {status}");
    let mut out = String::new();
    stdout.read_to_string(&mut out).unwrap();
    out
}
