//! Recording one command from its first syscall: `sensor record`.
//!
//! The command runs in a fresh cgroup that is registered with the recorder before the command
//! joins it: the child writes itself into `cgroup.procs` between fork and exec, so everything
//! from its exec on — the dynamic loader, a command that lives under a millisecond, every
//! child and thread — is recorded. The pipeline runs alongside to collect the AppArmor
//! observations and is drained after the command exits, before the recording is read.

use std::convert::Infallible;
use std::process::{Command, ExitStatus};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{mpsc, Arc};
use std::time::{Duration, Instant};

use super::cgroup::{CgroupError, TempCgroup};
use super::recorder::{RecordOptions, RecorderError, Recordings};
use super::recorder_links::RecorderStrategy;
use super::Recording;
use crate::model::syscall_set::{self, SyscallSet};
use crate::pipeline::Pipeline;
use crate::probe::{Probe, ProbeConfig, ProbeError};

#[derive(Debug, thiserror::Error)]
pub enum SessionError {
    #[error(transparent)]
    Probe(#[from] ProbeError),
    #[error(transparent)]
    Cgroup(#[from] CgroupError),
    #[error(transparent)]
    Recorder(#[from] RecorderError),
    #[error("cannot run `{command}`: {source}")]
    Spawn {
        command: String,
        #[source]
        source: std::io::Error,
    },
    #[error("the capture thread stopped unexpectedly")]
    Thread,
}

/// What `record` saw.
pub struct Outcome {
    pub recording: Recording,
    pub status: ExitStatus,
    /// From the command's start to its exit.
    pub duration: Duration,
}

/// Runs `command` to completion, recorded as `name`.
pub fn record(
    name: &str,
    mut command: Command,
    options: RecordOptions,
) -> Result<Outcome, SessionError> {
    let stop = Arc::new(AtomicBool::new(false));
    let (ready_tx, ready_rx) = mpsc::channel::<Result<Recordings, ProbeError>>();
    let capture = {
        let stop = stop.clone();
        // The pipeline lives on its own thread, as in `sensor run`; only the handle crosses.
        std::thread::spawn(move || {
            // What a recording reads (exec, chmod, mount, set*id, module); the syscall bitmap comes
            // from the recorder's own program, whatever is traced.
            let mut probe = match Probe::load(&ProbeConfig {
                syscalls: SyscallSet::families(syscall_set::BASE_FAMILIES),
                ..ProbeConfig::default()
            }) {
                Ok(probe) => probe,
                Err(e) => {
                    let _ = ready_tx.send(Err(e));
                    return;
                }
            };
            let Some(recordings) = probe.take_recorder().map(Recordings::new) else {
                return;
            };
            let mut pipeline = Pipeline::new(probe);
            let _ = ready_tx.send(Ok(recordings.clone()));
            let mut sink = |event: &crate::model::Event| -> Result<(), Infallible> {
                recordings.observe(event);
                Ok(())
            };
            let _ = pipeline.run(&stop, &mut sink);
            tracing::debug!("{}", pipeline.summary());
        })
    };
    let recordings = ready_rx.recv().map_err(|_| SessionError::Thread)??;
    let stop_capture = || {
        stop.store(true, Ordering::Relaxed);
    };

    let result = (|| {
        let cgroup = TempCgroup::create(name)?;
        // One recording and then exit: per-syscall tracepoints would cost this process 15-25 s
        // of closing at its exit (see `recorder_links`).
        recordings.set_strategy(RecorderStrategy::RawTracepoint)?;
        recordings.start(name, &[cgroup.id()], options)?;
        recordings.count_first_process(name);
        cgroup
            .join_before_exec(&mut command)
            .map_err(|source| SessionError::Spawn {
                command: format!("{command:?}"),
                source,
            })?;
        let description = format!("{command:?}");
        let started = Instant::now();
        let spawned = command.spawn();
        let status = spawned.and_then(|mut child| child.wait());
        let duration = started.elapsed();
        let status = match status {
            Ok(status) => status,
            Err(source) => {
                let _ = recordings.stop(name);
                return Err(SessionError::Spawn {
                    command: description,
                    source,
                });
            }
        };
        Ok((cgroup, status, duration))
    })();
    // Drain: every event of the command is in the ring buffer by the time it has exited.
    stop_capture();
    let joined = capture.join();
    let (cgroup, status, duration) = result?;
    joined.map_err(|_| SessionError::Thread)?;
    let mut recording = recordings.stop(name)?;
    recording.duration = duration;
    drop(cgroup);
    Ok(Outcome {
        recording,
        status,
        duration,
    })
}
