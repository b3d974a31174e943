//! `cargo xtask vm-test`: the sensor's kernel-level checks on the kernels users run, each
//! booted under QEMU. The kernels are Debian's packages (bullseye's 5.10 and bookworm's 6.1
//! for x86_64, bookworm's 6.1 for arm64, from Debian's archive through a private apt sources
//! list), cached outside the repository in `$SENSOR_VM_CACHE` or `~/.cache/sensor/vm`; the
//! guest is a busybox initramfs holding the sensor (the dev profile's build on x86_64, a
//! release cross-build for arm64) and its libraries, whose `/init` (`vm_init.sh`) runs the
//! checks and prints them on the serial console. This host's own kernel is the one the rest
//! of the test suite runs on.
//!
//! QEMU runs with TCG: on these machines `-accel kvm` starts but the guest kernel hangs.
//! `SENSOR_VM_ACCEL=kvm` uses KVM where it works (x86_64 guests only). `SENSOR_VM_KERNELS`
//! (comma-separated parts of the kernels' names, e.g. `arm64`) boots only those.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};

use crate::{cargo, cargo_with_env, setup, workspace_root};

/// A kernel of the matrix: Debian's `linux-image-<arch>` of `suite`, whose version starts
/// with `version`.
struct Kernel {
    name: &'static str,
    suite: &'static str,
    version: &'static str,
    arch: Arch,
}

const MATRIX: [Kernel; 3] = [
    Kernel {
        name: "debian-11-bullseye-5.10-amd64",
        suite: "bullseye",
        version: "5.10.",
        arch: Arch::Amd64,
    },
    Kernel {
        name: "debian-12-bookworm-6.1-amd64",
        suite: "bookworm",
        version: "6.1.",
        arch: Arch::Amd64,
    },
    Kernel {
        name: "debian-12-bookworm-6.1-arm64",
        suite: "bookworm",
        version: "6.1.",
        arch: Arch::Arm64,
    },
];

/// A guest's architecture, by Debian's name for it.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Arch {
    Amd64,
    Arm64,
}

impl Arch {
    fn debian(self) -> &'static str {
        match self {
            Arch::Amd64 => "amd64",
            Arch::Arm64 => "arm64",
        }
    }

    /// The GNU triple of the cross tools (`<triple>-gcc`, `-readelf`, `-objcopy`) and of
    /// Debian's multiarch directories.
    fn gnu_triple(self) -> &'static str {
        match self {
            Arch::Amd64 => "x86_64-linux-gnu",
            Arch::Arm64 => "aarch64-linux-gnu",
        }
    }

    /// The Rust target the guest's binary is built for; `None` is the host's own.
    fn rust_target(self) -> Option<&'static str> {
        match self {
            Arch::Amd64 => None,
            Arch::Arm64 => Some(ARM64_TARGET),
        }
    }

    /// What the host needs to build for and boot this architecture.
    fn host_packages(self) -> &'static [&'static str] {
        match self {
            Arch::Amd64 => &["qemu-system-x86", "cpio"],
            // The cross C compiler links the binary (and builds `ring`); its arm64 glibc,
            // under /usr/aarch64-linux-gnu, is what the guest loads.
            Arch::Arm64 => &["qemu-system-arm", "cpio", "gcc-aarch64-linux-gnu"],
        }
    }

    /// QEMU's program and machine, and the kernel's serial console on it.
    fn qemu(self, accel: &str) -> (Command, &'static str) {
        match self {
            Arch::Amd64 => {
                let mut cmd = Command::new("qemu-system-x86_64");
                cmd.args(["-accel", accel]);
                (cmd, "ttyS0")
            }
            Arch::Arm64 => {
                // A plain ARMv8.0 core rather than `max`, whose pointer authentication QEMU's
                // documentation names as slow to emulate.
                let mut cmd = Command::new("qemu-system-aarch64");
                cmd.args(["-accel", "tcg", "-machine", "virt", "-cpu", "cortex-a72"]);
                (cmd, "ttyAMA0")
            }
        }
    }
}

const ARM64_TARGET: &str = "aarch64-unknown-linux-gnu";

/// The checks `vm_init.sh` makes, each of which must pass on every kernel.
const CHECKS: &[&str] = &[
    "attach",
    "chmod",
    "chmod-mode",
    "mount",
    "exec",
    "open",
    "setid",
    "file",
    "process",
    "module",
    "net",
    "fd",
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
        bail!("cargo xtask vm-test boots its guests from an x86_64 host only");
    }
    let only = std::env::var("SENSOR_VM_KERNELS").ok();
    let matrix: Vec<&Kernel> = MATRIX
        .iter()
        .filter(|k| {
            only.as_deref()
                .is_none_or(|only| only.split(',').any(|part| k.name.contains(part.trim())))
        })
        .collect();
    if matrix.is_empty() {
        bail!("SENSOR_VM_KERNELS={only:?} names none of the matrix's kernels");
    }
    let cache = cache_dir();
    std::fs::create_dir_all(&cache)?;
    let apt = Apt::new(&cache)?;
    // What each run builds (initramfs trees, images, consoles) stays in this checkout's
    // target directory: two checkouts testing at once (CI's clone and a working tree) would
    // otherwise overwrite each other's guests. Only downloads are shared.
    let work = workspace_root().join("target/vm");
    std::fs::create_dir_all(&work)?;
    let mut initrds: Vec<(Arch, PathBuf)> = Vec::new();
    let mut failed = Vec::new();
    let started = Instant::now();
    for kernel in &matrix {
        let initrd = match initrds.iter().find(|(arch, _)| *arch == kernel.arch) {
            Some((_, initrd)) => initrd.clone(),
            None => {
                let initrd = guest_initramfs(&apt, &work, kernel.arch)?;
                initrds.push((kernel.arch, initrd.clone()));
                initrd
            }
        };
        let vmlinuz = apt.kernel(kernel)?;
        let outcome = boot(&work, kernel, &vmlinuz, &initrd)?;
        println!("{}", outcome.line(kernel));
        if !outcome.passed() {
            failed.push(kernel.name);
        }
    }
    println!(
        "vm-test: {} kernels in {:.0} s; this host's kernel ({}) is the rest of the test suite's",
        matrix.len(),
        started.elapsed().as_secs_f64(),
        host_release()
    );
    if !failed.is_empty() {
        bail!("vm-test failed on {}", failed.join(", "));
    }
    Ok(())
}

/// Builds the sensor for `arch` and packs it into that architecture's initramfs.
fn guest_initramfs(apt: &Apt, work: &Path, arch: Arch) -> Result<PathBuf> {
    setup::install_debian_packages(arch.host_packages())?;
    let busybox = apt
        .unpacked("busybox-static", "bookworm", "", arch)?
        .join("bin/busybox");
    let (sensor, libraries) = match arch.rust_target() {
        // The dev profile's build (optimised, with debug assertions): what the guests check
        // is the kernel side, the same eBPF object in either profile, and in CI this build
        // took 3.2 min against 5.6 for a release build. It is not free after `cargo test`:
        // the test build unifies dev-dependencies' features, so cargo builds it again.
        None => {
            cargo(&["build", "-p", "sensor"])?;
            let sensor = workspace_root().join("target/debug/sensor");
            let libraries = linked_libraries(&sensor)?;
            (sensor, libraries)
        }
        Some(target) => {
            let sensor = cross_build(apt, arch, target)?;
            let libraries = cross_linked_libraries(&sensor, arch)?;
            (sensor, libraries)
        }
    };
    initramfs(work, arch, &busybox, &sensor, &libraries)
}

/// The release binary cross-built for `target`: rustup's std for the target, the cross C
/// toolchain as linker, and libseccomp linked statically from Debian's package for `arch`
/// (so the guest needs no libseccomp of its own).
fn cross_build(apt: &Apt, arch: Arch, target: &str) -> Result<PathBuf> {
    status(Command::new("rustup").args(["target", "add", target]))?;
    let libseccomp = apt
        .unpacked("libseccomp-dev", "bookworm", "", arch)?
        .join(format!("usr/lib/{}", arch.gnu_triple()));
    let linker = format!("{}-gcc", arch.gnu_triple());
    let linker_var = format!(
        "CARGO_TARGET_{}_LINKER",
        target.to_uppercase().replace('-', "_")
    );
    cargo_with_env(
        &["build", "--release", "-p", "sensor", "--target", target],
        &[
            (&linker_var, linker.as_ref()),
            ("LIBSECCOMP_LIB_PATH", libseccomp.as_os_str()),
            ("LIBSECCOMP_LINK_TYPE", "static".as_ref()),
        ],
    )?;
    Ok(workspace_root().join(format!("target/{target}/release/sensor")))
}

/// The libraries a cross-built `binary` loads (its interpreter and `NEEDED` entries), from
/// the cross toolchain's glibc, each with the path the guest loads it from.
fn cross_linked_libraries(binary: &Path, arch: Arch) -> Result<Vec<(PathBuf, PathBuf)>> {
    let triple = arch.gnu_triple();
    let out = Command::new(format!("{triple}-readelf"))
        .args(["--dynamic", "--program-headers"])
        .arg(binary)
        .output()
        .with_context(|| format!("running {triple}-readelf"))?;
    let text = String::from_utf8_lossy(&out.stdout);
    let from = PathBuf::from(format!("/usr/{triple}/lib"));
    let mut libraries = Vec::new();
    for line in text.lines() {
        if let Some(interpreter) = line
            .split_once("[Requesting program interpreter: ")
            .and_then(|(_, rest)| rest.strip_suffix(']'))
        {
            let name = Path::new(interpreter)
                .file_name()
                .context("the interpreter's path has no file name")?;
            libraries.push((from.join(name), PathBuf::from(interpreter)));
        } else if let Some(name) = line
            .split_once("Shared library: [")
            .and_then(|(_, rest)| rest.strip_suffix(']'))
        {
            // Debian's glibc searches its multiarch directory first.
            libraries.push((
                from.join(name),
                PathBuf::from(format!("/lib/{triple}/{name}")),
            ));
        }
    }
    if libraries.is_empty() {
        bail!(
            "{triple}-readelf found no libraries in {}",
            binary.display()
        );
    }
    Ok(libraries)
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
        // A marker per set of architectures: lists fetched before arm64 joined lack it.
        if !apt.dir.join("lists/updated-amd64-arm64").exists() {
            eprintln!(
                "xtask: fetching Debian's package lists for the VM kernels (private apt lists)"
            );
            status(apt.command("apt-get").arg("update").stdout(Stdio::null()))?;
            std::fs::write(apt.dir.join("lists/updated-amd64-arm64"), "")?;
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
            .arg("-oAPT::Sandbox::User=root")
            .arg("-oAPT::Architectures::=amd64")
            .arg("-oAPT::Architectures::=arm64");
        cmd
    }

    /// The package `name` for `arch` (of `suite`, at a version starting with `version`),
    /// downloaded and unpacked once; returns the unpacked tree.
    fn unpacked(&self, name: &str, suite: &str, version: &str, arch: Arch) -> Result<PathBuf> {
        let arch = arch.debian();
        let tree = self
            .dir
            .join("unpacked")
            .join(format!("{name}-{suite}{version}-{arch}"));
        if tree.join(".done").exists() {
            return Ok(tree);
        }
        let exact = self.version_of(&format!("{name}:{arch}"), suite, version)?;
        let debs = self.dir.join("debs");
        eprintln!("xtask: downloading {name}:{arch} {exact}");
        status(
            self.command("apt-get")
                .args(["download", &format!("{name}:{arch}={exact}")])
                .current_dir(&debs)
                .stdout(Stdio::null()),
        )?;
        let deb = std::fs::read_dir(&debs)?
            .filter_map(|e| e.ok().map(|e| e.path()))
            .find(|p| {
                p.file_name().and_then(|n| n.to_str()).is_some_and(|n| {
                    n.starts_with(&format!("{name}_"))
                        && n.contains(&exact.replace(':', "%3a"))
                        && n.ends_with(&format!("_{arch}.deb"))
                })
            })
            .with_context(|| format!("apt-get download left no {name} {exact} package"))?;
        let _ = std::fs::remove_dir_all(&tree);
        std::fs::create_dir_all(&tree)?;
        status(Command::new("dpkg-deb").arg("-x").arg(&deb).arg(&tree))?;
        std::fs::write(tree.join(".done"), "")?;
        Ok(tree)
    }

    /// The version of `name` in `suite`'s lists that starts with `prefix` (after any epoch),
    /// as `apt-cache madison` lists it (`name | version | url suite/component arch Packages`).
    fn version_of(&self, name: &str, suite: &str, prefix: &str) -> Result<String> {
        let out = self
            .command("apt-cache")
            .args(["madison", name])
            .output()
            .context("running apt-cache")?;
        let text = String::from_utf8_lossy(&out.stdout);
        let versions = text.lines().filter_map(|line| {
            let mut columns = line.split('|').map(str::trim);
            let (_, version, source) = (columns.next()?, columns.next()?, columns.next()?);
            let bare = version.split_once(':').map_or(version, |(_, rest)| rest);
            (bare.starts_with(prefix) && source.contains(&format!(" {suite}/")))
                .then(|| version.to_string())
        });
        versions
            .max()
            .with_context(|| format!("no {name} {prefix}* in Debian {suite}'s package lists"))
    }

    /// The kernel image of `kernel`: `linux-image-<arch>` names the versioned package.
    fn kernel(&self, kernel: &Kernel) -> Result<PathBuf> {
        let arch = kernel.arch.debian();
        let meta_name = format!("linux-image-{arch}:{arch}");
        let meta = self.version_of(&meta_name, kernel.suite, kernel.version)?;
        let out = self
            .command("apt-cache")
            .args(["show", &format!("{meta_name}={meta}")])
            .output()
            .context("running apt-cache")?;
        let text = String::from_utf8_lossy(&out.stdout);
        let depends = packages(&text)
            .find_map(|p| p.get("Depends").cloned())
            .with_context(|| format!("{meta_name} has no Depends"))?;
        let image = depends
            .split(',')
            .map(|d| d.trim().split(' ').next().unwrap_or_default().to_string())
            .find(|d| d.starts_with("linux-image-"))
            .with_context(|| format!("{meta_name} depends on no linux-image package"))?;
        let tree = self.unpacked(&image, kernel.suite, kernel.version, kernel.arch)?;
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

/// The guest's initramfs: busybox, the sensor binary and the libraries it links (each
/// copied from the host's path to the guest's), `/init`.
fn initramfs(
    work: &Path,
    arch: Arch,
    busybox: &Path,
    sensor: &Path,
    libraries: &[(PathBuf, PathBuf)],
) -> Result<PathBuf> {
    let root = work.join(format!("initramfs-{}", arch.debian()));
    let _ = std::fs::remove_dir_all(&root);
    std::fs::create_dir_all(root.join("bin"))?;
    std::fs::create_dir_all(root.join("etc"))?;
    std::fs::copy(busybox, root.join("bin/busybox")).context("copying busybox")?;
    // Without its debug information (hundreds of MiB in the test build) the initramfs stays
    // small enough to unpack quickly under emulation.
    status(
        Command::new(format!("{}-objcopy", arch.gnu_triple()))
            .arg("--strip-debug")
            .arg(sensor)
            .arg(root.join("sensor")),
    )
    .context("copying the sensor binary without its debug information")?;
    for (from, guest_path) in libraries {
        let to = root.join(guest_path.strip_prefix("/").unwrap_or(guest_path));
        std::fs::create_dir_all(to.parent().context("library path")?)?;
        std::fs::copy(from, &to).with_context(|| format!("copying {}", from.display()))?;
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
    let initrd = work.join(format!("initrd-{}.gz", arch.debian()));
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

/// The shared libraries `binary` loads, as `ldd` resolves them on this machine (the guest
/// loads each from the same path).
fn linked_libraries(binary: &Path) -> Result<Vec<(PathBuf, PathBuf)>> {
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
            path.starts_with('/')
                .then(|| (PathBuf::from(path), PathBuf::from(path)))
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
fn boot(work: &Path, kernel: &Kernel, vmlinuz: &Path, initrd: &Path) -> Result<Outcome> {
    let console = work.join(format!("{}.console.log", kernel.name));
    let _ = std::fs::remove_file(&console);
    let accel = std::env::var("SENSOR_VM_ACCEL").unwrap_or_else(|_| "tcg".into());
    let (mut qemu, serial) = kernel.arch.qemu(&accel);
    eprintln!("xtask: booting {} under {qemu:?}", kernel.name);
    let started = Instant::now();
    let mut child = qemu
        .args(["-m", "1024", "-smp", "2", "-no-reboot"])
        .args(["-display", "none", "-monitor", "none"])
        .arg("-kernel")
        .arg(vmlinuz)
        .arg("-initrd")
        .arg(initrd)
        .args(["-append", &format!("console={serial} panic=-1 quiet")])
        .arg("-serial")
        .arg(format!("file:{}", console.display()))
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .spawn()
        .with_context(|| format!("starting QEMU for {}", kernel.name))?;
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
