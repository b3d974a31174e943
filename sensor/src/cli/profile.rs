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
    /// Start recording running containers through a running sensor (daemon mode): every
    /// syscall from now on, plus executables, mounts and capabilities for AppArmor. Several
    /// --container, or a --pod-uid, make one merged recording.
    Start {
        name: String,
        /// A container id (full or a 12+ character prefix); repeatable.
        #[arg(long = "container", value_name = "ID")]
        containers: Vec<String>,
        /// Every container of this pod (`kubectl get pod P -o jsonpath='{.metadata.uid}'`).
        #[arg(long, value_name = "UID")]
        pod_uid: Option<String>,
        /// Record 32-bit syscalls too (costs every process on the node while recording).
        #[arg(long)]
        compat: bool,
        /// The sensor stops the recording by itself after this long (`30m`, `2h`; default:
        /// the sensor's grpc.limits.recording_default_duration, 1h unless configured).
        #[arg(long, value_name = "DURATION", value_parser = humantime::parse_duration)]
        max_duration: Option<std::time::Duration>,
        #[command(flatten)]
        connect: super::alerts::ConnectArgs,
    },
    /// A running recording so far, as JSON.
    Get {
        name: String,
        #[command(flatten)]
        connect: super::alerts::ConnectArgs,
    },
    /// Names of the running recordings.
    List {
        #[command(flatten)]
        connect: super::alerts::ConnectArgs,
    },
    /// Stop a recording and write its profiles into --out: NAME.seccomp.json,
    /// NAME.seccompprofile.yaml, NAME.apparmor, NAME.apparmorprofile.yaml.
    Stop {
        name: String,
        #[arg(long, value_name = "DIR", default_value = ".")]
        out: PathBuf,
        /// `log`: SCMP_ACT_LOG as the default action, for a trial run.
        #[arg(long, value_name = "ACTION", default_value = "errno", value_parser = ["errno", "log"])]
        action: String,
        /// Leave the container runtime's base syscalls out.
        #[arg(long)]
        no_base: bool,
        /// Namespace for the SeccompProfile manifest.
        #[arg(long, value_name = "NS")]
        namespace: Option<String>,
        #[command(flatten)]
        connect: super::alerts::ConnectArgs,
    },
}

fn recording_json(r: &sensor_api::v1::ProfileRecording) -> serde_json::Value {
    serde_json::json!({
        "name": r.name,
        "cgroup_ids": r.cgroup_ids,
        "syscalls": r.syscalls,
        "processes": r.processes,
        "executables": r.executables,
        "duration_seconds": r.duration.as_ref().map_or(0.0, |d| d.seconds as f64 + f64::from(d.nanos) * 1e-9),
        "unrecorded_compat_processes": r.unrecorded_compat_processes,
        "warnings": r.warnings,
        "max_duration_seconds": r.max_duration.as_ref().map(|d| d.seconds),
        "expired": r.expired,
    })
}

/// The daemon-mode subcommands: calls to a running sensor.
fn remote(command: ProfileCommand) -> anyhow::Result<u8> {
    use sensor_api::v1 as api;
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    runtime.block_on(async move {
        // The sensor's messages say what was refused and why (a missing role, a limit).
        let refused = |s: tonic::Status| anyhow::anyhow!("{}", s.message());
        match command {
            ProfileCommand::Start {
                name,
                containers,
                pod_uid,
                compat,
                max_duration,
                connect,
            } => {
                let mut client = super::alerts::connect(&connect).await?;
                let r = client
                    .start_profile_recording(api::StartProfileRecordingRequest {
                        name,
                        container_ids: containers,
                        pod_uid: pod_uid.unwrap_or_default(),
                        compat,
                        max_duration: max_duration.map(|d| prost_types::Duration {
                            seconds: d.as_secs().min(i64::MAX as u64) as i64,
                            nanos: d.subsec_nanos() as i32,
                        }),
                    })
                    .await
                    .map_err(refused)?
                    .into_inner();
                println!("{:#}", recording_json(&r));
            }
            ProfileCommand::Get { name, connect } => {
                let mut client = super::alerts::connect(&connect).await?;
                let r = client
                    .get_profile_recording(api::GetProfileRecordingRequest { name })
                    .await
                    .map_err(refused)?
                    .into_inner();
                println!("{:#}", recording_json(&r));
            }
            ProfileCommand::List { connect } => {
                let mut client = super::alerts::connect(&connect).await?;
                let r = client
                    .list_profile_recordings(api::ListProfileRecordingsRequest {})
                    .await
                    .map_err(refused)?
                    .into_inner();
                for name in r.names {
                    println!("{name}");
                }
                for name in r.expired {
                    eprintln!(
                        "sensor profile list: {name}: stopped at its time limit; \
                         `sensor profile stop {name}` writes its profiles"
                    );
                }
            }
            ProfileCommand::Stop {
                name,
                out,
                action,
                no_base,
                namespace,
                connect,
            } => {
                let mut client = super::alerts::connect(&connect).await?;
                let r = client
                    .stop_profile_recording(api::StopProfileRecordingRequest {
                        name: name.clone(),
                        log_mode: action == "log",
                        no_base,
                        namespace: namespace.unwrap_or_default(),
                    })
                    .await
                    .map_err(refused)?
                    .into_inner();
                std::fs::create_dir_all(&out)
                    .with_context(|| format!("creating {}", out.display()))?;
                let mut written = Vec::new();
                for (file, text) in [
                    (format!("{name}.seccomp.json"), &r.seccomp_json),
                    (
                        format!("{name}.seccompprofile.yaml"),
                        &r.seccomp_profile_manifest,
                    ),
                    (format!("{name}.apparmor"), &r.apparmor_profile),
                    (
                        format!("{name}.apparmorprofile.yaml"),
                        &r.apparmor_profile_manifest,
                    ),
                ] {
                    let path = out.join(file);
                    std::fs::write(&path, text)
                        .with_context(|| format!("writing {}", path.display()))?;
                    written.push(path.display().to_string());
                }
                let syscalls = r.recording.as_ref().map_or(0, |r| r.syscalls.len());
                for warning in r.recording.iter().flat_map(|r| &r.warnings) {
                    eprintln!("sensor profile stop: {name}: warning: {warning}");
                }
                eprintln!(
                    "sensor profile stop: {name}: {syscalls} syscalls recorded; wrote {}",
                    written.join(", ")
                );
            }
            _ => unreachable!("local subcommands are handled by `run`"),
        }
        Ok(0)
    })
}

/// Runs a `profile` subcommand; the result is the process's exit code.
pub fn run(command: ProfileCommand) -> anyhow::Result<u8> {
    match command {
        c @ (ProfileCommand::Start { .. }
        | ProfileCommand::Get { .. }
        | ProfileCommand::List { .. }
        | ProfileCommand::Stop { .. }) => remote(c),
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
