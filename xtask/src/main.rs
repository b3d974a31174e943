//! `cargo xtask`: sets up a fresh machine on first use and runs the sensor, its tests and its
//! benchmarks. Every step that installs something checks first, so each command is idempotent.

mod apiserver;
mod bench;
mod fuzz;
mod setup;
mod vm;

use std::process::Command;

use anyhow::{bail, Context, Result};
use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(name = "cargo xtask")]
struct Cli {
    #[command(subcommand)]
    command: Cmd,
}

#[derive(Subcommand)]
enum Cmd {
    /// Install what building and testing need: the nightly toolchain's rust-src, bpf-linker
    /// built against the nightly's own libLLVM, the Debian packages the tests use, hadolint
    /// and the test kube-apiserver.
    Setup {
        /// Only what building the sensor needs (rust-src and bpf-linker), as the container
        /// image's builder stage does.
        #[arg(long)]
        build_only: bool,
    },
    /// Set up what running needs (rust-src, bpf-linker, libseccomp's development files; the
    /// test tools are `setup`'s), build the sensor (release) and run it as root with the given
    /// arguments, e.g. `cargo xtask run -- events --json`. Setup and build print on stderr
    /// only: stdout is the sensor's.
    Run {
        #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
        args: Vec<String>,
    },
    /// Set up, then run every test: unit tests and the integration tests that load the real
    /// eBPF programs (those need root; with CI=true a run without root fails), the kernel
    /// matrix (`vm-test`), then every fuzz target for a short time (`--fuzz-seconds`).
    Test {
        /// Seconds each fuzz target runs after the tests; 0 skips fuzzing.
        #[arg(long, default_value_t = fuzz::TEST_SECONDS)]
        fuzz_seconds: u64,
        /// Leave out the kernel matrix (`vm-test`).
        #[arg(long)]
        no_vm: bool,
        /// Extra arguments for `cargo test`, e.g. a test name filter.
        #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
        args: Vec<String>,
    },
    /// Set up, then run the benchmarks: the chmod, fork+exec and open storms untraced and traced,
    /// rule evaluation, alert delivery over gRPC and the sensor's resource use.
    Bench {
        /// Calls in the chmod storm.
        #[arg(long, default_value_t = 2_000_000)]
        chmod_calls: u64,
        /// Processes in the fork+exec storm.
        #[arg(long, default_value_t = 10_000)]
        execs: u64,
        /// Opens in the open storm (Falco's stable rules loaded).
        #[arg(long, default_value_t = 1_000_000)]
        opens: u64,
        /// Interleaved rounds; each figure is the median.
        #[arg(long, default_value_t = 3)]
        rounds: u64,
        /// Only the resource figure (CPU and memory of `sensor run`, idle and at 100k
        /// fchmodat/s), which sizes the DaemonSet.
        #[arg(long)]
        resource_only: bool,
        /// Only the alerts figure (gRPC delivery to 1 and 10 subscribers: throughput, and
        /// latency and CPU at a steady 10,000 alerts/s).
        #[arg(long)]
        alerts_only: bool,
        /// Only the memory figure (peak RSS of the process table under 1 M processes' churn,
        /// of a recording of 1 M distinct paths, and of `sensor run` with 1,000 subscribers).
        #[arg(long)]
        memory_only: bool,
    },
    /// Build the fuzz targets (fuzz/, cargo-fuzz with nightly) and run each for a while; with
    /// names, only those targets. The corpus grows in ~/.cache/sensor/fuzz/<target>.
    Fuzz {
        /// Seconds each target runs.
        #[arg(long, default_value_t = fuzz::FUZZ_SECONDS)]
        seconds: u64,
        /// Targets to run (default: all; `cargo +nightly fuzz list` names them).
        targets: Vec<String>,
    },
    /// Boot each kernel of the matrix (Debian 11's 5.10, Debian 12's 6.1) under QEMU and run
    /// the sensor's kernel-level checks inside it: load and attach, every traced family, a
    /// default rule, a recording and its profile verified, nothing lost. One line per kernel.
    VmTest,
    /// Build (once, cached outside the repository) or find the kube-apiserver the Kubernetes
    /// tests run, and print its path.
    Apiserver,
}

fn main() -> Result<()> {
    match Cli::parse().command {
        Cmd::Setup { build_only: true } => setup::build_toolchain(),
        Cmd::Setup { build_only: false } => setup::run(),
        Cmd::Run { args } => {
            setup::for_running()?;
            cargo(&["build", "--release", "-p", "sensor"])?;
            let status = Command::new(workspace_root().join("target/release/sensor"))
                .args(&args)
                .status()
                .context("starting target/release/sensor")?;
            std::process::exit(status.code().unwrap_or(1));
        }
        Cmd::Test {
            fuzz_seconds,
            no_vm,
            args,
        } => {
            setup::run()?;
            if is_ci() && !is_root() {
                bail!("CI=true but not running as root: the eBPF integration tests would not run");
            }
            // Every test binary runs even after one fails, so a CI log names all failures.
            let mut cmd = vec![
                "test",
                "--workspace",
                "--exclude",
                "sensor-ebpf",
                "--no-fail-fast",
            ];
            let extra: Vec<&str> = args.iter().map(String::as_str).collect();
            if !extra.is_empty() {
                cmd.extend(extra);
            }
            cargo(&cmd)?;
            if !no_vm && is_root() {
                vm::run()?;
            }
            if fuzz_seconds > 0 {
                setup::cargo_fuzz()?;
                fuzz::run(fuzz_seconds, &[])?;
            }
            Ok(())
        }
        Cmd::Fuzz { seconds, targets } => {
            setup::build_toolchain()?;
            setup::cargo_fuzz()?;
            fuzz::run(seconds, &targets)
        }
        Cmd::Bench {
            chmod_calls,
            opens,
            execs,
            rounds,
            resource_only,
            alerts_only,
            memory_only,
        } => {
            setup::run()?;
            if memory_only {
                if !is_root() {
                    bail!("the benchmarks load eBPF programs: run them as root");
                }
                bench::memory()
            } else if alerts_only {
                if !is_root() {
                    bail!("the benchmarks load eBPF programs: run them as root");
                }
                bench::alerts(rounds)
            } else if resource_only {
                if !is_root() {
                    bail!("the benchmarks load eBPF programs: run them as root");
                }
                bench::resource(10, 100_000)
            } else {
                bench::run(chmod_calls, execs, opens, rounds)
            }
        }
        Cmd::VmTest => {
            if !is_root() {
                bail!("the guests' checks build the sensor and boot kernels: run as root");
            }
            vm::run()
        }
        Cmd::Apiserver => {
            println!("{}", apiserver::ensure()?.display());
            Ok(())
        }
    }
}

pub fn is_ci() -> bool {
    std::env::var("CI").is_ok_and(|v| v == "true" || v == "1")
}

pub fn is_root() -> bool {
    // SAFETY: geteuid has no preconditions.
    unsafe { libc_geteuid() == 0 }
}

extern "C" {
    #[link_name = "geteuid"]
    fn libc_geteuid() -> u32;
}

pub fn workspace_root() -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("xtask lives in the workspace")
        .to_path_buf()
}

/// Runs cargo in the workspace with the same toolchain as this xtask.
pub fn cargo(args: &[&str]) -> Result<()> {
    cargo_with_env(args, &[])
}

/// `cargo` with `env` added to its environment (a cross build's linker and libraries).
pub fn cargo_with_env(args: &[&str], env: &[(&str, &std::ffi::OsStr)]) -> Result<()> {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    // stdout belongs to the sensor `cargo xtask run` starts (its JSON goes to pipes).
    let status = Command::new(&cargo)
        .args(args)
        .envs(env.iter().copied())
        .current_dir(workspace_root())
        .stdout(std::process::Stdio::from(std::io::stderr()))
        .status()
        .with_context(|| format!("running {cargo} {}", args.join(" ")))?;
    if !status.success() {
        bail!("cargo {} failed ({status})", args.join(" "));
    }
    Ok(())
}
