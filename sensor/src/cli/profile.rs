//! `sensor profile verify|merge|diff`: work with seccomp profiles without recording.

use std::path::PathBuf;
use std::process::Command;

use anyhow::{bail, Context};
use sensor::profile::{verify, SeccompProfile};

#[derive(clap::Subcommand, Debug)]
pub enum ProfileCommand {
    /// Run CMD under the seccomp profile (compiled by libseccomp and installed with
    /// no_new_privs right before exec, as runc does) and report whether it succeeded. Exits
    /// with the command's exit code.
    Verify {
        /// An OCI seccomp profile (JSON).
        profile: PathBuf,
        /// The command and its arguments.
        #[arg(last = true, required = true, value_name = "CMD")]
        command: Vec<String>,
    },
    /// Merge OCI seccomp profiles into one that allows what any of them allows (the
    /// containers of a workload, or several recordings of one).
    Merge {
        #[arg(required = true, num_args = 2.., value_name = "PROFILE")]
        profiles: Vec<PathBuf>,
        /// Where to write the merged profile (default: stdout).
        #[arg(long, value_name = "FILE")]
        out: Option<PathBuf>,
    },
    /// Show what differs between two OCI seccomp profiles: `-` only in the first, `+` only in
    /// the second, `~` changed. Exits 0 when they are equivalent, 1 when they differ.
    Diff { first: PathBuf, second: PathBuf },
}

/// Runs a `profile` subcommand; the result is the process's exit code.
pub fn run(command: ProfileCommand) -> anyhow::Result<u8> {
    match command {
        ProfileCommand::Verify { profile, command } => {
            let loaded = SeccompProfile::load(&profile)?;
            let Some((program, rest)) = command.split_first() else {
                bail!("no command given: `sensor profile verify PROFILE -- CMD ARGS...`");
            };
            let mut cmd = Command::new(program);
            cmd.args(rest);
            let status = verify::run(&loaded, &profile.display().to_string(), cmd)?;
            let code = super::record::exit_code(status);
            eprintln!(
                "sensor profile verify: `{}` under {}: {} (exit status {code})",
                command.join(" "),
                profile.display(),
                if status.success() {
                    "succeeded"
                } else {
                    "FAILED"
                },
            );
            Ok(code)
        }
        ProfileCommand::Merge { profiles, out } => {
            let loaded = profiles
                .iter()
                .map(|p| Ok((p.display().to_string(), SeccompProfile::load(p)?)))
                .collect::<anyhow::Result<Vec<_>>>()?;
            let merged = SeccompProfile::merge(&loaded)?;
            match out {
                Some(path) => std::fs::write(&path, merged.to_json())
                    .with_context(|| format!("writing {}", path.display()))?,
                None => print!("{}", merged.to_json()),
            }
            Ok(0)
        }
        ProfileCommand::Diff { first, second } => {
            let a = SeccompProfile::load(&first)?;
            let b = SeccompProfile::load(&second)?;
            let lines = a.diff(&b)?;
            for line in &lines {
                println!("{line}");
            }
            Ok(u8::from(!lines.is_empty()))
        }
    }
}
