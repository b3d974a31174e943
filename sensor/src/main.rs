//! The `sensor` command line. Everything it runs is library code or `cli/`.

mod cli;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use sensor_rules::MatchMode;

const PRIVILEGES: &str = "Needs root, or the capabilities CAP_BPF, CAP_PERFMON and CAP_SYS_RESOURCE (CAP_SYS_ADMIN too if tracefs is not mounted).";

/// Runtime security sensor for Linux and Kubernetes nodes: eBPF programs on the execve, chmod,
/// mount and set*id syscall families, Falco-compatible events, rules and alerts.
#[derive(Parser)]
#[command(name = "sensor", version, after_help = PRIVILEGES)]
struct Cli {
    /// Log filter (tracing's env-filter syntax), e.g. `info` or `sensor=debug`.
    #[arg(long, global = true, env = "SENSOR_LOG", default_value = "info")]
    log_level: String,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Stream every captured event, one per line, with Falco's field names; the sensor's own
    /// activity is left out. On exit (Ctrl-C or SIGTERM) prints a summary line on stderr:
    /// events seen per type and events lost.
    #[command(after_help = PRIVILEGES)]
    Events {
        /// One JSON object per line (otherwise one readable line per event).
        #[arg(long)]
        json: bool,
        /// Size of the kernel ring buffer in bytes (a power of two, at least 8 MiB).
        #[arg(long, default_value_t = sensor_common::DEFAULT_RING_BYTES)]
        ring_bytes: u32,
        #[command(flatten)]
        kubernetes: cli::KubernetesArgs,
    },
    /// Run the sensor with its rules and print alerts: the default rules built into the binary,
    /// or the files given with --rules. Rules are reloaded on SIGHUP and when a rules file
    /// changes; a broken file keeps the previous rules running.
    #[command(after_help = PRIVILEGES)]
    Run {
        /// Falco's JSON alert format, one object per line (otherwise Falco's text line).
        #[arg(long)]
        json: bool,
        /// A rules file or a directory of *.yaml files; repeatable, loaded in the order given.
        /// Replaces the default rules, as Falco's -r does.
        #[arg(long = "rules", value_name = "PATH")]
        rules: Vec<PathBuf>,
        /// `first` stops at the first matching rule (Falco's default); `all` reports every one.
        #[arg(long, default_value = "first", value_parser = parse_match_mode)]
        rule_matching: MatchMode,
        /// Size of the kernel ring buffer in bytes (a power of two, at least 8 MiB).
        #[arg(long, default_value_t = sensor_common::DEFAULT_RING_BYTES)]
        ring_bytes: u32,
        #[command(flatten)]
        kubernetes: cli::KubernetesArgs,
    },
    /// Run a command recorded from its first syscall (it and every child, in a fresh cgroup)
    /// and write its security profiles: OCI seccomp, Security Profiles Operator manifests,
    /// AppArmor. Prints a summary on stderr; exits with the command's exit code.
    #[command(after_help = PRIVILEGES)]
    Record(cli::record::RecordArgs),
    /// Work with seccomp profiles: verify one by running a command under it, merge, diff.
    Profile {
        #[command(subcommand)]
        command: cli::profile::ProfileCommand,
    },
    /// Work with rule files without loading any eBPF programs.
    Rules {
        #[command(subcommand)]
        command: RulesCommand,
    },
}

#[derive(Subcommand)]
enum RulesCommand {
    /// Validate rule files, loaded in the order given (the built-in defaults if none): every
    /// problem with its file:line:col, then each rule compiled or skipped and why. Exits
    /// non-zero if there are errors.
    Check {
        #[arg(value_name = "PATH")]
        paths: Vec<PathBuf>,
    },
}

fn parse_match_mode(text: &str) -> Result<MatchMode, String> {
    text.parse()
        .map_err(|_| format!("`{text}` is not a rule matching mode: use `first` or `all`"))
}

/// For commands whose exit code is another process's (record, verify) or a comparison (diff).
fn exit_with(result: anyhow::Result<u8>) -> ExitCode {
    match result {
        Ok(code) => ExitCode::from(code),
        Err(e) => {
            eprintln!("sensor: error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_new(&cli.log_level)
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .with_writer(std::io::stderr)
        .init();
    let result = match cli.command {
        Command::Events {
            json,
            ring_bytes,
            kubernetes,
        } => cli::events::run(json, ring_bytes, &kubernetes).map(|()| true),
        Command::Run {
            json,
            rules,
            rule_matching,
            ring_bytes,
            kubernetes,
        } => cli::run::run(cli::run::RunOptions {
            json,
            rules,
            rule_matching,
            ring_bytes,
            kubernetes,
        })
        .map(|()| true),
        Command::Rules {
            command: RulesCommand::Check { paths },
        } => cli::rules::check(paths),
        Command::Record(args) => return exit_with(cli::record::run(args)),
        Command::Profile { command } => return exit_with(cli::profile::run(command)),
    };
    match result {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::FAILURE,
        Err(e) => {
            eprintln!("sensor: error: {e:#}");
            ExitCode::FAILURE
        }
    }
}
