//! `cargo xtask fuzz` and the fuzzing step of `cargo xtask test`: builds the cargo-fuzz
//! targets of `fuzz/` with the nightly toolchain, then runs each for a time budget.
//!
//! Each target reads three corpus directories: its generated corpus outside the repository
//! (`~/.cache/sensor/fuzz/<target>`, where libFuzzer adds what it finds), its seeds
//! (`fuzz/corpus/<target>`) and the inputs of crashes fixed so far
//! (`fuzz/regressions/<target>`), so every run replays those first. A crash, a timeout or
//! running out of memory fails the run, naming the target and the saved input.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

use anyhow::{bail, Context, Result};

/// The budget of each target in `cargo xtask test`.
pub const TEST_SECONDS: u64 = 20;
/// The budget of each target in `cargo xtask fuzz`.
pub const FUZZ_SECONDS: u64 = 300;
/// One input running this long is a finding (a hang, or work out of proportion).
const INPUT_TIMEOUT_SECONDS: u64 = 20;

/// Build options, the same for `build` and `run` (which would otherwise rebuild): optimised,
/// with debug assertions and overflow checks; 16 codegen units (cargo-fuzz's default is 1),
/// faster builds for slightly slower runs, the better trade for short runs on two cores; no
/// AddressSanitizer: the targets' code is safe Rust, where ASan catches nothing a
/// panic does not, and with it the first build took 21 CPU-minutes instead of 13 to 15 and
/// inputs ran 4 to 10 times slower (README.md, Fuzzing).
const BUILD_FLAGS: &[&str] = &[
    "-O",
    "--debug-assertions",
    "--sanitizer",
    "none",
    "--codegen-units",
    "16",
];

fn fuzz_dir() -> PathBuf {
    crate::workspace_root().join("fuzz")
}

/// Where the generated corpus lives: outside the repository, kept between runs.
pub fn corpus_root() -> PathBuf {
    std::env::var_os("SENSOR_FUZZ_CORPUS").map_or_else(
        || {
            std::env::var_os("XDG_CACHE_HOME")
                .map_or_else(|| crate::setup::home().join(".cache"), PathBuf::from)
                .join("sensor/fuzz")
        },
        PathBuf::from,
    )
}

/// `cargo fuzz ...` with the nightly toolchain, in the workspace root, without what `cargo
/// run` set for this xtask: its toolchain, and its package's variables, which build scripts
/// track (ring's tracks CARGO_MANIFEST_DIR), so that a `cargo fuzz build` from a shell and one
/// from here share their builds instead of redoing half of them.
fn cargo_fuzz() -> Command {
    let mut cmd = Command::new("rustup");
    cmd.args(["run", "nightly", "cargo", "fuzz"])
        .current_dir(crate::workspace_root());
    for (key, _) in std::env::vars_os() {
        let Some(key) = key.to_str() else { continue };
        if matches!(
            key,
            "RUSTUP_TOOLCHAIN"
                | "RUSTC"
                | "CARGO"
                | "CARGO_MANIFEST_DIR"
                | "CARGO_MANIFEST_PATH"
                | "CARGO_CRATE_NAME"
                | "CARGO_BIN_NAME"
                | "CARGO_PRIMARY_PACKAGE"
        ) || key.starts_with("CARGO_PKG_")
        {
            cmd.env_remove(key);
        }
    }
    cmd
}

/// Every target, as `cargo fuzz list` reads them from fuzz/Cargo.toml.
pub fn targets() -> Result<Vec<String>> {
    let out = cargo_fuzz()
        .arg("list")
        .output()
        .context("running cargo fuzz list")?;
    if !out.status.success() {
        bail!(
            "cargo fuzz list failed: {}",
            String::from_utf8_lossy(&out.stderr).trim()
        );
    }
    Ok(String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .map(str::to_string)
        .collect())
}

/// Builds every target (once; `cargo fuzz run` then finds them built).
pub fn build() -> Result<()> {
    let started = Instant::now();
    let status = cargo_fuzz()
        .arg("build")
        .args(BUILD_FLAGS)
        .status()
        .context("running cargo fuzz build")?;
    if !status.success() {
        bail!("cargo fuzz build failed ({status})");
    }
    eprintln!("xtask: fuzz targets built in {:.0?}", started.elapsed());
    Ok(())
}

/// Builds, then runs `targets` (all when empty) for `seconds` each, one after another.
pub fn run(seconds: u64, targets: &[String]) -> Result<()> {
    let all = self::targets()?;
    for t in targets {
        if !all.contains(t) {
            bail!("no fuzz target `{t}`; the targets are: {}", all.join(", "));
        }
    }
    let targets = if targets.is_empty() { &all } else { targets };
    build()?;
    let logs = corpus_root().join("logs");
    std::fs::create_dir_all(&logs).with_context(|| format!("creating {}", logs.display()))?;
    let mut failed = Vec::new();
    for target in targets {
        if let Err(e) = run_one(target, seconds, &logs) {
            eprintln!("xtask: {e:#}");
            failed.push(target.as_str());
        }
    }
    if !failed.is_empty() {
        bail!("fuzz targets failed: {}", failed.join(", "));
    }
    Ok(())
}

fn run_one(target: &str, seconds: u64, logs: &Path) -> Result<()> {
    let corpus = corpus_root().join(target);
    std::fs::create_dir_all(&corpus).with_context(|| format!("creating {}", corpus.display()))?;
    let seeds = fuzz_dir().join("corpus").join(target);
    let regressions = fuzz_dir().join("regressions").join(target);
    let artifacts = fuzz_dir().join("artifacts").join(target);
    let before = list(&artifacts);
    let log = logs.join(format!("{target}.log"));
    let log_file =
        std::fs::File::create(&log).with_context(|| format!("creating {}", log.display()))?;
    let started = Instant::now();
    let mut cmd = cargo_fuzz();
    cmd.arg("run").args(BUILD_FLAGS).arg(target).arg(&corpus);
    for dir in [&seeds, &regressions] {
        if dir.is_dir() {
            cmd.arg(dir);
        }
    }
    cmd.arg("--")
        .arg(format!("-max_total_time={seconds}"))
        .arg(format!("-timeout={INPUT_TIMEOUT_SECONDS}"))
        .arg("-print_final_stats=1")
        .stdout(log_file.try_clone()?)
        .stderr(log_file);
    let status = cmd
        .status()
        .with_context(|| format!("running cargo fuzz run {target}"))?;
    let text = std::fs::read_to_string(&log).unwrap_or_default();
    if status.success() {
        let stat = |name: &str| {
            text.lines()
                .find_map(|l| l.strip_prefix(&format!("stat::{name}:")))
                .map_or("?".to_string(), |v| v.trim().to_string())
        };
        eprintln!(
            "xtask: fuzz {target}: {} runs in {:.0?}, no crash (corpus {}: {} inputs; log {})",
            stat("number_of_executed_units"),
            started.elapsed(),
            corpus.display(),
            list(&corpus).len(),
            log.display()
        );
        return Ok(());
    }
    let new: Vec<PathBuf> = list(&artifacts)
        .into_iter()
        .filter(|a| !before.contains(a))
        .collect();
    // What failed: the panic (up to its backtrace) or libFuzzer's report (a timeout, memory).
    let lines: Vec<&str> = text.lines().collect();
    let start = lines
        .iter()
        .position(|l| l.contains("panicked at") || (l.starts_with("==") && l.contains("ERROR")))
        .unwrap_or(lines.len().saturating_sub(30));
    let report: Vec<&str> = lines[start..]
        .iter()
        .take_while(|l| !l.starts_with("stack backtrace:"))
        .take(40)
        .copied()
        .collect();
    eprintln!("{}", report.join("\n"));
    match new.first() {
        Some(input) => bail!(
            "fuzz target {target} failed ({status}); the input is {}\n  replay it: cargo +nightly fuzz run {} {target} {}\n  full log: {}",
            input.display(),
            BUILD_FLAGS.join(" "),
            input.display(),
            log.display()
        ),
        None => bail!(
            "fuzz target {target} failed ({status}) without saving an input; see {}",
            log.display()
        ),
    }
}

fn list(dir: &Path) -> Vec<PathBuf> {
    std::fs::read_dir(dir)
        .map(|d| d.flatten().map(|e| e.path()).collect())
        .unwrap_or_default()
}
