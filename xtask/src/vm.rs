//! `cargo xtask vm-test`: the sensor's kernel-level checks on the kernels users run, each
//! booted under QEMU. The kernels are Debian's packages (bullseye's 5.10 and bookworm's 6.1,
//! from Debian's archive through a private apt sources list), cached outside the repository in
//! `$SENSOR_VM_CACHE` or `~/.cache/sensor/vm`; the guest is a busybox initramfs holding the
//! release binary and its libraries, whose `/init` (`vm_init.sh`) runs the checks and prints
//! them on the serial console. This host's own kernel is the one the rest of the test suite
//! runs on.
//!
//! QEMU runs with TCG: on these machines `-accel kvm` starts but the guest kernel hangs.
//! `SENSOR_VM_ACCEL=kvm` uses KVM where it works.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};

use crate::{cargo, setup, workspace_root};

/// A kernel of the matrix: Debian's `linux-image-amd64` of `suite`, whose version starts
/// with `version`.
struct Kernel {
    name: &'static str,
    suite: &'static str,
    version: &'static str,
}

const MATRIX: [Kernel; 2] = [
    Kernel {
        name: "debian-11-bullseye-5.10-amd64",
        suite: "bullseye",
        version: "5.10.",
    },
    Kernel {
        name: "debian-12-bookworm-6.1-amd64",
        suite: "bookworm",
        version: "6.1.",
    },
];

/// What the host needs to boot the guests.
const PACKAGES: &[&str] = &["qemu-system-x86", "cpio"];

/// The checks `vm_init.sh` makes, each of which must pass on every kernel.
const CHECKS: &[&str] = &[
    "attach",
    "chmod",
    "chmod-mode",
    "mount",
    "exec",
    "open",
    "setid",
    "loss",
    "rule",
    "record",
    "profile-verify",
];

/// Longest a guest may take: the verifier under TCG takes about a minute on 5.10.
const GUEST_TIMEOUT: Duration = Duration::from_secs(900);

pub fn cache_dir() -> PathBuf {
    if let Some(dir) = std::env::var_os("SENSOR_VM_CACHE") {
        return PathBuf::from(dir);
    }
    let home = std::env::var_os("HOME").map_or_else(|| PathBuf::from("/root"), PathBuf::from);
    home.join(".cache/sensor/vm")
}

pub fn run() -> Result<()> {
    if cfg!(not(target_arch = "x86_64")) {
        bail!("cargo xtask vm-test boots x86_64 guests and runs on x86_64 hosts only");
    }
    setup::install_debian_packages(PACKAGES)?;
    cargo(&["build", "--release", "-p", "sensor"])?;
    let cache = cache_dir();
    std::fs::create_dir_all(&cache)?;
    let apt = Apt::new(&cache)?;
    let busybox = apt
        .unpacked("busybox-static", "bookworm", "")?
        .join("bin/busybox");
    let initrd = initramfs(&cache, &busybox)?;
    let mut failed = Vec::new();
    let started = Instant::now();
    for kernel in &MATRIX {
        let vmlinuz = apt.kernel(kernel)?;
        let outcome = boot(&cache, kernel, &vmlinuz, &initrd)?;
        println!("{}", outcome.line(kernel));
        if !outcome.passed() {
            failed.push(kernel.name);
        }
    }
    println!(
        "vm-test: {} kernels in {:.0} s; this host's kernel ({}) is the rest of the test suite's",
        MATRIX.len(),
        started.elapsed().as_secs_f64(),
        host_release()
    );
    if !failed.is_empty() {
        bail!("vm-test failed on {}", failed.join(", "));
    }
    Ok(())
}

fn host_release() -> String {
    std::fs::read_to_string("/proc/sys/kernel/osrelease")
        .map(|s| s.trim().to_string())
        .unwrap_or_default()
}

/// apt-get and apt-cache with a private sources list, lists and archive cache under the VM
/// cache: the machine's own apt configuration and state are not touched.
struct Apt {
    dir: PathBuf,
}

impl Apt {
    fn new(cache: &Path) -> Result<Self> {
        let dir = cache.join("apt");
        std::fs::create_dir_all(dir.join("lists/partial"))?;
        std::fs::create_dir_all(dir.join("cache/archives/partial"))?;
        std::fs::create_dir_all(dir.join("debs"))?;
        let keyring = "signed-by=/usr/share/keyrings/debian-archive-keyring.gpg";
        std::fs::write(
            dir.join("sources.list"),
            format!(
                "deb [{keyring}] http://deb.debian.org/debian bullseye main\n\
                 deb [{keyring}] http://deb.debian.org/debian bookworm main\n"
            ),
        )?;
        let apt = Self { dir };
        if !apt.dir.join("lists/updated").exists() {
            eprintln!(
                "xtask: fetching Debian's package lists for the VM kernels (private apt lists)"
            );
            status(apt.command("apt-get").arg("update").stdout(Stdio::null()))?;
            std::fs::write(apt.dir.join("lists/updated"), "")?;
        }
        Ok(apt)
    }

    fn command(&self, program: &str) -> Command {
        let mut cmd = Command::new(program);
        let d = self.dir.display();
        cmd.arg("-q")
            .arg(format!("-oDir::Etc::SourceList={d}/sources.list"))
            .arg("-oDir::Etc::SourceParts=/dev/null")
            .arg(format!("-oDir::State::Lists={d}/lists"))
            .arg(format!("-oDir::Cache={d}/cache"))
            .arg("-oDir::State::status=/var/lib/dpkg/status")
            .arg("-oAPT::Sandbox::User=root");
        cmd
    }

    /// The package `name` (of `suite`, at a version starting with `version`), downloaded and
    /// unpacked once; returns the unpacked tree.
    fn unpacked(&self, name: &str, suite: &str, version: &str) -> Result<PathBuf> {
        let tree = self
            .dir
            .join("unpacked")
            .join(format!("{name}-{suite}{version}"));
        if tree.join(".done").exists() {
            return Ok(tree);
        }
        let exact = self.version_of(name, suite, version)?;
        let debs = self.dir.join("debs");
        eprintln!("xtask: downloading {name} {exact}");
        status(
            self.command("apt-get")
                .args(["download", &format!("{name}={exact}")])
                .current_dir(&debs)
                .stdout(Stdio::null()),
        )?;
        let deb = std::fs::read_dir(&debs)?
            .filter_map(|e| e.ok().map(|e| e.path()))
            .find(|p| {
                p.file_name().and_then(|n| n.to_str()).is_some_and(|n| {
                    n.starts_with(&format!("{name}_")) && n.contains(&exact.replace(':', "%3a"))
                })
            })
            .with_context(|| format!("apt-get download left no {name} {exact} package"))?;
        let _ = std::fs::remove_dir_all(&tree);
        std::fs::create_dir_all(&tree)?;
        status(Command::new("dpkg-deb").arg("-x").arg(&deb).arg(&tree))?;
        std::fs::write(tree.join(".done"), "")?;
        Ok(tree)
    }

    /// The version of `name` in `suite`'s lists that starts with `prefix` (after any epoch).
    fn version_of(&self, name: &str, suite: &str, prefix: &str) -> Result<String> {
        let out = self
            .command("apt-cache")
            .args(["show", name])
            .output()
            .context("running apt-cache")?;
        let text = String::from_utf8_lossy(&out.stdout);
        let versions = packages(&text)
            .filter_map(|p| p.get("Version").cloned())
            .filter(|v| {
                let bare = v.split_once(':').map_or(v.as_str(), |(_, rest)| rest);
                bare.starts_with(prefix) && suite_of(v) == Some(suite)
            });
        versions
            .max()
            .with_context(|| format!("no {name} {prefix}* in Debian {suite}'s package lists"))
    }

    /// The kernel image of `kernel`: `linux-image-amd64` names the versioned package.
    fn kernel(&self, kernel: &Kernel) -> Result<PathBuf> {
        let meta = self.version_of("linux-image-amd64", kernel.suite, kernel.version)?;
        let out = self
            .command("apt-cache")
            .args(["show", &format!("linux-image-amd64={meta}")])
            .output()
            .context("running apt-cache")?;
        let text = String::from_utf8_lossy(&out.stdout);
        let depends = packages(&text)
            .find_map(|p| p.get("Depends").cloned())
            .context("linux-image-amd64 has no Depends")?;
        let image = depends
            .split(',')
            .map(|d| d.trim().split(' ').next().unwrap_or_default().to_string())
            .find(|d| d.starts_with("linux-image-"))
            .context("linux-image-amd64 depends on no linux-image package")?;
        let tree = self.unpacked(&image, kernel.suite, kernel.version)?;
        let boot = tree.join("boot");
        std::fs::read_dir(&boot)
            .with_context(|| format!("reading {}", boot.display()))?
            .filter_map(|e| e.ok().map(|e| e.path()))
            .find(|p| {
                p.file_name()
                    .and_then(|n| n.to_str())
                    .is_some_and(|n| n.starts_with("vmlinuz-"))
            })
            .with_context(|| format!("no vmlinuz in {image}"))
    }
}

/// Which suite a Debian version belongs to: the matrix's two differ in their version
/// numbers (bullseye's kernels and busybox are older than bookworm's).
fn suite_of(version: &str) -> Option<&'static str> {
    let bare = version.split_once(':').map_or(version, |(_, rest)| rest);
    if bare.starts_with("5.10.") || bare.starts_with("1.30.") {
        Some("bullseye")
    } else if bare.starts_with("6.1.") || bare.starts_with("1.35.") {
        Some("bookworm")
    } else {
        None
    }
}

/// The stanzas of `apt-cache show`, as field maps.
fn packages(text: &str) -> impl Iterator<Item = std::collections::HashMap<String, String>> + '_ {
    text.split("\n\n").map(|stanza| {
        stanza
            .lines()
            .filter_map(|l| l.split_once(": "))
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    })
}

/// The guest's initramfs: busybox, the release binary and the libraries it links, `/init`.
fn initramfs(cache: &Path, busybox: &Path) -> Result<PathBuf> {
    let root = cache.join("initramfs");
    let _ = std::fs::remove_dir_all(&root);
    std::fs::create_dir_all(root.join("bin"))?;
    std::fs::create_dir_all(root.join("etc"))?;
    std::fs::copy(busybox, root.join("bin/busybox")).context("copying busybox")?;
    let sensor = workspace_root().join("target/release/sensor");
    std::fs::copy(&sensor, root.join("sensor")).context("copying the release binary")?;
    for lib in linked_libraries(&sensor)? {
        let to = root.join(lib.strip_prefix("/").unwrap_or(&lib));
        std::fs::create_dir_all(to.parent().context("library path")?)?;
        std::fs::copy(&lib, &to).with_context(|| format!("copying {}", lib.display()))?;
    }
    let init = root.join("init");
    std::fs::write(&init, include_str!("vm_init.sh"))?;
    std::fs::set_permissions(&init, std::os::unix::fs::PermissionsExt::from_mode(0o755))?;
    // `su nobody` in the set*id check needs the user.
    std::fs::write(
        root.join("etc/passwd"),
        "root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/:/bin/sh\n",
    )?;
    std::fs::write(root.join("etc/group"), "root:x:0:\nnogroup:x:65534:\n")?;
    let initrd = cache.join("initrd.gz");
    status(
        Command::new("sh")
            .arg("-c")
            .arg(format!(
                "find . | cpio -o -H newc 2>/dev/null | gzip -1 > {}",
                initrd.display()
            ))
            .current_dir(&root),
    )?;
    Ok(initrd)
}

/// The shared libraries `binary` loads, as `ldd` resolves them on this machine.
fn linked_libraries(binary: &Path) -> Result<Vec<PathBuf>> {
    let out = Command::new("ldd")
        .arg(binary)
        .output()
        .context("running ldd")?;
    let text = String::from_utf8_lossy(&out.stdout);
    Ok(text
        .lines()
        .filter_map(|l| {
            let path = match l.split_once("=>") {
                Some((_, rest)) => rest.trim().split(' ').next()?,
                None => l.trim().split(' ').next()?,
            };
            path.starts_with('/').then(|| PathBuf::from(path))
        })
        .collect())
}

/// What a guest printed.
struct Outcome {
    release: Option<String>,
    /// (check, passed, detail) in the order printed.
    checks: Vec<(String, bool, String)>,
    info: Vec<String>,
    finished: bool,
    seconds: f64,
    console: PathBuf,
}

impl Outcome {
    fn passed(&self) -> bool {
        self.finished
            && CHECKS
                .iter()
                .all(|c| self.checks.iter().any(|(name, ok, _)| name == c && *ok))
    }

    fn line(&self, kernel: &Kernel) -> String {
        let passed: Vec<&str> = self
            .checks
            .iter()
            .filter(|(_, ok, _)| *ok)
            .map(|(n, _, _)| n.as_str())
            .collect();
        let mut line = format!(
            "vm-test {}: {} ({}, {:.0} s) passed: {}",
            kernel.name,
            if self.passed() { "PASS" } else { "FAIL" },
            self.release.as_deref().unwrap_or("did not boot"),
            self.seconds,
            passed.join(" ")
        );
        for (name, ok, detail) in &self.checks {
            if !ok {
                line.push_str(&format!("\n  failed {name}: {detail}"));
            }
        }
        for missing in CHECKS
            .iter()
            .filter(|c| !self.checks.iter().any(|(n, _, _)| n == *c))
        {
            line.push_str(&format!("\n  not run: {missing}"));
        }
        for info in &self.info {
            line.push_str(&format!("\n  {info}"));
        }
        if !self.finished {
            line.push_str(&format!(
                "\n  the guest did not finish; its console: {}",
                self.console.display()
            ));
        }
        line
    }
}

/// Boots `vmlinuz` with the initramfs and reads the checks off its serial console.
fn boot(cache: &Path, kernel: &Kernel, vmlinuz: &Path, initrd: &Path) -> Result<Outcome> {
    let console = cache.join(format!("{}.console.log", kernel.name));
    let _ = std::fs::remove_file(&console);
    let accel = std::env::var("SENSOR_VM_ACCEL").unwrap_or_else(|_| "tcg".into());
    eprintln!("xtask: booting {} under QEMU ({accel})", kernel.name);
    let started = Instant::now();
    let mut child = Command::new("qemu-system-x86_64")
        .args(["-accel", &accel, "-m", "1024", "-smp", "2", "-no-reboot"])
        .args(["-display", "none", "-monitor", "none"])
        .arg("-kernel")
        .arg(vmlinuz)
        .arg("-initrd")
        .arg(initrd)
        .args(["-append", "console=ttyS0 panic=-1 quiet"])
        .arg("-serial")
        .arg(format!("file:{}", console.display()))
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .spawn()
        .context("starting qemu-system-x86_64")?;
    loop {
        if child.try_wait()?.is_some() {
            break;
        }
        if started.elapsed() > GUEST_TIMEOUT {
            // Our own child, by its handle.
            let _ = child.kill();
            let _ = child.wait();
            break;
        }
        std::thread::sleep(Duration::from_millis(500));
    }
    let text = String::from_utf8_lossy(&std::fs::read(&console).unwrap_or_default()).into_owned();
    let mut outcome = Outcome {
        release: None,
        checks: Vec::new(),
        info: Vec::new(),
        finished: false,
        seconds: started.elapsed().as_secs_f64(),
        console,
    };
    for line in text.lines() {
        let line = line.trim_end_matches('\r');
        if let Some(rest) = line.strip_prefix("VMTEST-BEGIN ") {
            outcome.release = Some(rest.to_string());
        } else if let Some(rest) = line.strip_prefix("VMCHECK ") {
            let mut parts = rest.splitn(3, ' ');
            let name = parts.next().unwrap_or_default().to_string();
            let ok = parts.next() == Some("pass");
            let detail = parts.next().unwrap_or_default().to_string();
            outcome.checks.push((name, ok, detail));
        } else if let Some(rest) = line.strip_prefix("VMINFO ") {
            outcome.info.push(rest.to_string());
        } else if line == "VMTEST-END" {
            outcome.finished = true;
        }
    }
    Ok(outcome)
}

fn status(cmd: &mut Command) -> Result<()> {
    let status = cmd.status().with_context(|| format!("running {cmd:?}"))?;
    if !status.success() {
        bail!("{cmd:?} failed ({status})");
    }
    Ok(())
}
