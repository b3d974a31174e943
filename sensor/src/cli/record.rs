//! `sensor record`: runs a command recorded from its first syscall and writes its profiles.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{bail, Context};
use sensor::profile::seccomp::{Mode, SeccompProfile};
use sensor::profile::{apparmor, base, name, session, spo, RecordOptions};
use sensor::safe_fs::OutputDir;

/// Which files `record` writes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, clap::ValueEnum)]
pub enum Format {
    /// `<name>.seccomp.json`: OCI/Docker seccomp profile.
    Oci,
    /// `<name>.seccompprofile.yaml` and `<name>.apparmorprofile.yaml`: Security Profiles
    /// Operator manifests.
    Spo,
    /// `<name>.apparmor`: AppArmor profile.
    Apparmor,
    /// All of the above.
    All,
}

#[derive(clap::Args, Debug)]
pub struct RecordArgs {
    /// Directory for the profiles (created if missing).
    #[arg(long, value_name = "DIR", default_value = ".")]
    pub out: PathBuf,
    /// Which profiles to write; repeatable or comma-separated.
    #[arg(long, value_enum, value_delimiter = ',', default_value = "all")]
    pub format: Vec<Format>,
    /// Name of the profiles (file names, Kubernetes object names, AppArmor profile name);
    /// default: the command's file name.
    #[arg(long)]
    pub name: Option<String>,
    /// Namespace of the SeccompProfile manifest (SPO's SeccompProfile is namespaced).
    #[arg(long)]
    pub namespace: Option<String>,
    /// `errno` makes unrecorded syscalls fail with EPERM; `log` allows and logs them (a trial
    /// run with SCMP_ACT_LOG before enforcing).
    #[arg(long, default_value = "errno", value_parser = parse_mode)]
    pub action: Mode,
    /// Replace the built-in base profile (the container runtime's own syscalls after it
    /// installs the filter) with the syscalls of FILE: an OCI profile or one name per line.
    #[arg(long, value_name = "FILE", conflicts_with = "no_base")]
    pub base: Option<PathBuf>,
    /// Leave out the base profile: the profile then holds only what the command did.
    #[arg(long)]
    pub no_base: bool,
    /// The command and its arguments.
    #[arg(last = true, required = true, value_name = "CMD")]
    pub command: Vec<String>,
}

fn parse_mode(text: &str) -> Result<Mode, String> {
    text.parse()
}

/// Records and writes the profiles; the result is the command's exit code.
pub fn run(args: RecordArgs) -> anyhow::Result<u8> {
    let Some((program, rest)) = args.command.split_first() else {
        bail!("no command given: `sensor record [OPTIONS] -- CMD ARGS...`");
    };
    let name = match &args.name {
        Some(name) => {
            name::validate(name).context("--name")?;
            name.clone()
        }
        None => Path::new(program).file_name().map_or_else(
            || "recorded".into(),
            |n| name::from_command(&n.to_string_lossy()),
        ),
    };
    let base: BTreeSet<String> = match (&args.base, args.no_base) {
        (_, true) => BTreeSet::new(),
        (Some(path), false) => base::load(path)?,
        (None, false) => base::runtime(),
    };
    // As root, in a directory others may write to: no symlink of theirs is followed.
    let out = OutputDir::create(&args.out)
        .with_context(|| format!("--out: the output directory {}", args.out.display()))?;

    let mut command = Command::new(program);
    command.args(rest);
    // 32-bit syscalls too: `record` uses the raw tracepoint, which sees them anyway.
    let outcome = session::record(&name, command, RecordOptions { compat: true })?;
    let recording = &outcome.recording;
    for warning in recording.warnings() {
        eprintln!("sensor record: {name}: warning: {warning}");
    }

    let mut syscalls = recording.syscalls.clone();
    syscalls.extend(base.iter().cloned());
    let profile = SeccompProfile::generate(&syscalls, args.action);
    let formats: BTreeSet<Format> = if args.format.contains(&Format::All) {
        [Format::Oci, Format::Spo, Format::Apparmor].into()
    } else {
        args.format.iter().copied().collect()
    };
    let mut written = Vec::new();
    let mut write = |file: String, text: String| -> anyhow::Result<()> {
        let path = out
            .replace(&file, text.as_bytes())
            .with_context(|| format!("writing {}", args.out.join(&file).display()))?;
        written.push(path.display().to_string());
        Ok(())
    };
    if formats.contains(&Format::Oci) {
        write(format!("{name}.seccomp.json"), profile.to_json())?;
    }
    if formats.contains(&Format::Spo) {
        let object = spo::seccomp_profile(&name, args.namespace.as_deref(), &profile);
        write(format!("{name}.seccompprofile.yaml"), spo::to_yaml(&object))?;
        let object = spo::apparmor_profile(&name, recording);
        write(
            format!("{name}.apparmorprofile.yaml"),
            spo::to_yaml(&object),
        )?;
    }
    if formats.contains(&Format::Apparmor) {
        write(
            format!("{name}.apparmor"),
            apparmor::profile(recording, &spo::object_name(&name)),
        )?;
    }

    let code = exit_code(outcome.status);
    eprintln!(
        "sensor record: {name}: exit status {code}; {} syscalls seen ({} compat), {} in the profile with the base; {} processes; {} executables; {:.1} ms; wrote {}",
        recording.syscalls.len(),
        recording.compat_syscalls.len(),
        syscalls.len(),
        recording.processes,
        recording.apparmor.executables.len(),
        outcome.duration.as_secs_f64() * 1e3,
        if written.is_empty() { "nothing".to_string() } else { written.join(", ") },
    );
    Ok(code)
}

/// The exit code a shell would report: the code, or 128 + the signal.
pub fn exit_code(status: std::process::ExitStatus) -> u8 {
    use std::os::unix::process::ExitStatusExt;
    match (status.code(), status.signal()) {
        (Some(code), _) => code as u8,
        (None, Some(signal)) => (128 + signal) as u8,
        _ => 1,
    }
}
