//! A real kube-apiserver for the Kubernetes tests, built once from Debian bookworm's
//! `kubernetes` source package (1.20.5+really1.20.2, the whole upstream tree) with Debian's Go.
//!
//! No registry reachable here ships kube-apiserver as a binary. The build fetches the source
//! through a private apt sources list (the machine's own apt configuration is left alone),
//! replaces the vendored `modern-go/reflect2` 1.0.1 (it crashes under Go >= 1.18) with Debian's
//! packaged source, and runs `make WHAT=cmd/kube-apiserver` in a GOPATH layout, offline
//! (`GOPROXY=off`, `-mod=vendor`), statically (`CGO_ENABLED=0`). About 4 minutes on 2 cores.
//!
//! The binary is cached outside the repository, in
//! `$SENSOR_APISERVER_CACHE` or `~/.cache/sensor/kube-apiserver-1.20.2/kube-apiserver`;
//! [`ensure`] returns at once when it is already there. The tests find it by the same rule
//! (`sensor/tests/common/apiserver.rs`). etcd comes from Debian's `etcd-server`.

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{bail, Context, Result};

pub const VERSION: &str = "1.20.2";
/// Debian packages the build and the tests need: Go, etcd for the tests, the reflect2 source,
/// dpkg-source to unpack the source package, make and rsync
/// (the 1.20 build copies its tools with it).
const BUILD_PACKAGES: &[&str] = &[
    "golang-go",
    "etcd-server",
    "golang-github-modern-go-reflect2-dev",
    "dpkg-dev",
    "make",
    "rsync",
];
const REFLECT2_SRC: &str = "/usr/share/gocode/src/github.com/modern-go/reflect2";

/// The directory holding the cached binary (and, during a build, its work tree).
pub fn cache_dir() -> PathBuf {
    if let Some(dir) = std::env::var_os("SENSOR_APISERVER_CACHE") {
        return PathBuf::from(dir);
    }
    let home = std::env::var_os("HOME").map_or_else(|| PathBuf::from("/root"), PathBuf::from);
    home.join(format!(".cache/sensor/kube-apiserver-{VERSION}"))
}

/// Where the cached kube-apiserver binary lives.
pub fn binary_path() -> PathBuf {
    cache_dir().join("kube-apiserver")
}

/// Builds kube-apiserver unless the cached binary is already there, installs etcd; returns the
/// binary's path. Idempotent: every step checks first.
pub fn ensure() -> Result<PathBuf> {
    let bin = binary_path();
    let etcd_ok = Path::new("/usr/bin/etcd").exists();
    if etcd_ok && binary_works(&bin) {
        return Ok(bin);
    }
    debian_packages()?;
    if binary_works(&bin) {
        return Ok(bin);
    }
    let started = std::time::Instant::now();
    let dir = cache_dir();
    let work = dir.join("build");
    std::fs::create_dir_all(&work).with_context(|| format!("creating {}", work.display()))?;
    let tree = fetch_source(&work)?;
    patch_reflect2(&tree)?;
    let built = build(&work, &tree)?;
    // Copy then rename, so a half-written binary is never taken for a good one.
    let tmp = dir.join("kube-apiserver.tmp");
    std::fs::copy(&built, &tmp)
        .with_context(|| format!("copying {} to {}", built.display(), tmp.display()))?;
    std::fs::rename(&tmp, &bin)?;
    if !binary_works(&bin) {
        bail!("{} was built but does not run", bin.display());
    }
    eprintln!(
        "xtask: kube-apiserver {VERSION} built in {:.0?}; removing the build tree",
        started.elapsed()
    );
    // The tree is ~1.5 GB with Go's build cache; only the binary is kept.
    let _ = Command::new("chmod")
        .args(["-R", "u+w"])
        .arg(&work)
        .status();
    let _ = std::fs::remove_dir_all(&work);
    Ok(bin)
}

fn binary_works(bin: &Path) -> bool {
    Command::new(bin)
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success() && String::from_utf8_lossy(&o.stdout).contains("v1.20"))
}

fn status(cmd: &mut Command) -> Result<()> {
    let status = cmd.status().with_context(|| format!("running {cmd:?}"))?;
    if !status.success() {
        bail!("{cmd:?} failed ({status})");
    }
    Ok(())
}

fn debian_packages() -> Result<()> {
    crate::setup::install_debian_packages(BUILD_PACKAGES)
}

/// apt-get with a private sources list, lists and cache under `work`: the machine's own apt
/// configuration and state are not touched.
fn private_apt(work: &Path) -> Result<Command> {
    let apt = work.join("apt");
    let lists = apt.join("lists");
    let cache = apt.join("cache");
    std::fs::create_dir_all(lists.join("partial"))?;
    std::fs::create_dir_all(cache.join("archives/partial"))?;
    let sources = apt.join("sources.list");
    std::fs::write(
        &sources,
        "deb-src [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] \
         http://deb.debian.org/debian bookworm main\n",
    )?;
    let mut cmd = Command::new("apt-get");
    cmd.arg("-q")
        .arg(format!("-oDir::Etc::SourceList={}", sources.display()))
        .arg("-oDir::Etc::SourceParts=/dev/null")
        .arg(format!("-oDir::State::Lists={}", lists.display()))
        .arg(format!("-oDir::Cache={}", cache.display()))
        .arg("-oDir::State::status=/var/lib/dpkg/status")
        .arg("-oAPT::Sandbox::User=root");
    Ok(cmd)
}

/// Downloads and unpacks the `kubernetes` source package; returns the unpacked tree, placed at
/// `work/gopath/src/k8s.io/kubernetes` (the GOPATH layout the 1.20 build expects).
fn fetch_source(work: &Path) -> Result<PathBuf> {
    let tree = work.join("gopath/src/k8s.io/kubernetes");
    if tree.join("cmd/kube-apiserver").is_dir() {
        return Ok(tree);
    }
    let download = work.join("download");
    std::fs::create_dir_all(&download)?;
    let has_dsc = |d: &Path| {
        std::fs::read_dir(d).ok().and_then(|mut it| {
            it.find_map(|e| {
                let p = e.ok()?.path();
                (p.extension().is_some_and(|x| x == "dsc")).then_some(p)
            })
        })
    };
    let dsc = match has_dsc(&download) {
        Some(d) => d,
        None => {
            eprintln!("xtask: downloading Debian's kubernetes source package (private apt lists)");
            status(private_apt(work)?.arg("update"))?;
            status(
                private_apt(work)?
                    .args(["source", "--download-only", "kubernetes"])
                    .current_dir(&download),
            )?;
            has_dsc(&download).context("apt-get source left no .dsc")?
        }
    };
    let unpacked = work.join("unpacked");
    let _ = std::fs::remove_dir_all(&unpacked);
    eprintln!("xtask: unpacking {}", dsc.display());
    status(
        Command::new("dpkg-source")
            .args(["--no-check", "-x"])
            .arg(&dsc)
            .arg(&unpacked),
    )?;
    std::fs::create_dir_all(tree.parent().context("tree parent")?)?;
    let _ = std::fs::remove_dir_all(&tree);
    std::fs::rename(&unpacked, &tree)?;
    Ok(tree)
}

/// Replaces the vendored reflect2 1.0.1 (which crashes under Go >= 1.18) with Debian's.
fn patch_reflect2(tree: &Path) -> Result<()> {
    let vendored = tree.join("vendor/github.com/modern-go/reflect2");
    if !vendored.is_dir() {
        bail!("{} is missing", vendored.display());
    }
    for entry in std::fs::read_dir(&vendored)? {
        let path = entry?.path();
        if path.extension().is_some_and(|x| x == "go") {
            std::fs::remove_file(&path)?;
        }
    }
    let mut copied = 0;
    for entry in
        std::fs::read_dir(REFLECT2_SRC).with_context(|| format!("reading {REFLECT2_SRC}"))?
    {
        let path = entry?.path();
        let name = path
            .file_name()
            .context("file name")?
            .to_string_lossy()
            .into_owned();
        if name.ends_with(".go") && !name.ends_with("_test.go") {
            std::fs::copy(&path, vendored.join(&name))?;
            copied += 1;
        }
    }
    if copied == 0 {
        bail!("no Go files in {REFLECT2_SRC}");
    }
    Ok(())
}

fn build(work: &Path, tree: &Path) -> Result<PathBuf> {
    eprintln!("xtask: building kube-apiserver {VERSION} (about 4 minutes, once)");
    let gopath = work.join("gopath");
    // A failed earlier attempt can leave empty tool binaries that make takes as up to date;
    // Go's build cache (kept in `work`) makes starting over cheap.
    let _ = std::fs::remove_dir_all(tree.join("_output"));
    status(
        Command::new("make")
            .arg("WHAT=cmd/kube-apiserver")
            .current_dir(tree)
            .env("GOPATH", &gopath)
            .env("GOCACHE", work.join("gocache"))
            .env("CGO_ENABLED", "0")
            .env("GOPROXY", "off")
            .env("GOFLAGS", "-mod=vendor")
            .env("GO111MODULE", "auto")
            .env("KUBE_GIT_VERSION", format!("v{VERSION}"))
            .env("KUBE_GIT_TREE_STATE", "clean")
            .env("KUBE_VERBOSE", "1"),
    )?;
    for candidate in [
        "_output/bin/kube-apiserver",
        "_output/local/bin/linux/amd64/kube-apiserver",
        "_output/local/go/bin/kube-apiserver",
    ] {
        let p = tree.join(candidate);
        if p.is_file() {
            return Ok(p);
        }
    }
    bail!(
        "make succeeded but no kube-apiserver under {}/_output",
        tree.display()
    )
}
