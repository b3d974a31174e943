//! The `sensor` command line. Everything it runs is library code or `cli/`.

mod cli;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

const PRIVILEGES: &str = "Needs root, or the capabilities CAP_BPF, CAP_PERFMON and CAP_SYS_RESOURCE (CAP_SYS_ADMIN too if tracefs is not mounted).";

/// Runtime security sensor for Linux and Kubernetes nodes: eBPF programs on the execve, chmod,
/// mount and set*id syscall families, Falco-compatible events, rules and alerts.
#[derive(Parser)]
#[command(name = "sensor", version, after_help = PRIVILEGES)]
struct Cli {
    /// Log filter (tracing's env-filter syntax), e.g. `info` or `sensor=debug` (default:
    /// the configuration file's `log.level`, else `info`).
    #[arg(long, global = true, env = "SENSOR_LOG")]
    log_level: Option<String>,
    /// Log format: `text` or `json` (default: the configuration file's `log.format`).
    #[arg(long, global = true, value_parser = ["text", "json"])]
    log_format: Option<String>,
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
        /// Have the eBPF programs log why an event is lost or incomplete (a full ring buffer,
        /// a string they could not read from the caller, an exit without its enter, a 32-bit
        /// exec not stopped, a truncated executable path), under the log target
        /// `sensor::kernel`; at most 100 lines a second.
        #[arg(long)]
        kernel_diagnostics: bool,
        /// The syscall families to show, comma-separated: exec, chmod, mount, setid, file
        /// (links, renames, removals, directories), process (ptrace, setns, unshare, memfd,
        /// userfaultfd, bpf), module, net, fd (dup), open (open, openat, openat2, creat: the
        /// machine's most frequent calls, so not shown unless asked), or all. Only those are
        /// traced (exec always, for the process table; clone and procexit are shown with
        /// exec).
        #[arg(long, value_name = "LIST",
              default_value = "exec,chmod,mount,setid,file,process,module,net,fd",
              value_parser = sensor::model::syscall_set::SyscallSet::parse_families)]
        families: sensor::model::syscall_set::SyscallSet,
        #[command(flatten)]
        kubernetes: cli::KubernetesArgs,
    },
    /// Run the sensor with its rules and deliver alerts: stdout, a file, HTTP and gRPC
    /// subscribers (a Unix socket by default; TCP with mutual TLS when asked). The default
    /// rules are built into the binary, or the files given with --rules. Settings come from
    /// --config FILE (every key: deploy/sensor.yaml) and the flags. Rules are reloaded on
    /// SIGHUP and when a rules file changes (a broken file keeps the previous rules running);
    /// SIGHUP also reopens the alerts file. SIGTERM detaches, drains, flushes and closes.
    #[command(after_help = PRIVILEGES)]
    Run(Box<cli::run::RunArgs>),
    /// Subscribe to a running sensor's alerts over gRPC and print them, filtered on the
    /// server's side.
    Alerts(cli::alerts::AlertsArgs),
    /// A running sensor's state and counters, as JSON (the gRPC Status call).
    Status {
        #[command(flatten)]
        connect: cli::alerts::ConnectArgs,
    },
    /// Work with configuration files.
    Config {
        #[command(subcommand)]
        command: ConfigCommand,
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
enum ConfigCommand {
    /// Validate a configuration file: unknown keys, wrong types, files that must exist
    /// (rules, TLS certificates), addresses; each problem with its file:line:col. Exits
    /// non-zero if there are any.
    Check {
        #[arg(value_name = "FILE")]
        path: PathBuf,
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
        /// Also print, per event type, what the kernel filter derived from these rules keeps
        /// in the kernel and which rules made it so (`sensor run` installs it).
        #[arg(long)]
        explain: bool,
    },
}

fn init_logging(level: &str, json: bool) {
    let filter = sensor::telemetry::log_filter::parse(level)
        .unwrap_or_else(|| tracing_subscriber::EnvFilter::new("info"));
    // Colours only for a person at a terminal: a pod's log, a file or a pipe gets plain text.
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .with_writer(std::io::stderr);
    if json {
        builder.json().init();
    } else {
        builder.init();
    }
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
    // `sensor run` reads its configuration before logging starts, since the file may set
    // the log level and format.
    let run_config = match &cli.command {
        Command::Run(args) => match args.config() {
            Ok(config) => Some(config),
            Err(e) => {
                eprintln!("sensor: error: {e:#}");
                return ExitCode::FAILURE;
            }
        },
        _ => None,
    };
    let (level, json) = match &run_config {
        Some(c) => (
            cli.log_level.clone().unwrap_or_else(|| c.log.level.clone()),
            cli.log_format.as_deref().map_or(
                c.log.format == sensor::config::schema::LogFormat::Json,
                |f| f == "json",
            ),
        ),
        None => (
            cli.log_level.clone().unwrap_or_else(|| "info".to_string()),
            cli.log_format.as_deref() == Some("json"),
        ),
    };
    init_logging(&level, json);
    let result = match cli.command {
        Command::Events {
            json,
            ring_bytes,
            kernel_diagnostics,
            families,
            kubernetes,
        } => cli::events::run(
            json,
            &families,
            sensor::probe::ProbeConfig {
                ring_bytes,
                kernel_diagnostics,
                ..Default::default()
            },
            &kubernetes,
        )
        .map(|()| true),
        Command::Run(_) => match run_config {
            Some(config) => cli::run::run(config).map(|()| true),
            None => Ok(false),
        },
        Command::Alerts(args) => cli::alerts::alerts(args).map(|()| true),
        Command::Status { connect } => cli::alerts::status(connect).map(|()| true),
        Command::Config {
            command: ConfigCommand::Check { path },
        } => cli::config::check(&path),
        Command::Rules {
            command: RulesCommand::Check { paths, explain },
        } => cli::rules::check(paths, explain),
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
