//! What happened in the kernel: loads and attaches the eBPF programs, reads their ring buffer,
//! decodes records into events, and counts what was lost.

pub mod btf;
pub mod compat_path;
pub mod compat_syscalls;
pub mod decode;
pub mod diagnostics;
pub mod exe_path;
pub mod ia32_emulation;
pub mod kernel_filter;
pub mod kernel_offsets;
pub mod privileges;
pub mod raw_tracepoint;
pub mod recorder_maps;
mod self_id;
pub mod traced;
pub mod tracefs;

/// Transitional: the syscall definitions moved to `crate::model::syscalls`; this keeps code
/// written against the old path (other branches in flight) compiling.
pub use crate::model::syscalls;

use std::os::fd::AsRawFd;
use std::time::{Duration, Instant};

use aya::maps::{Array, HashMap, MapData, PerCpuArray, RingBuf};
use aya::programs::{RawTracePoint, TracePoint};
use aya::{Ebpf, EbpfLoader};
use sensor_common::{loss, syscall::exit_program, DEFAULT_RING_BYTES};

use crate::model::syscall_set::SyscallSet;

/// The programs, built by build.rs from the `sensor-ebpf` crate.
static EBPF_OBJECT: &[u8] = aya::include_bytes_aligned!(concat!(env!("OUT_DIR"), "/sensor"));

#[derive(Debug, thiserror::Error)]
pub enum ProbeError {
    #[error(transparent)]
    Privileges(#[from] privileges::MissingPrivileges),
    #[error(transparent)]
    Tracefs(#[from] tracefs::TracefsError),
    #[error(transparent)]
    Offsets(#[from] kernel_offsets::OffsetsError),
    #[error("the kernel refused the sensor's eBPF programs: {0}")]
    Load(#[source] Box<aya::EbpfError>),
    #[error("eBPF program `{name}` could not be {action}: {source}")]
    Program {
        name: String,
        action: String,
        #[source]
        source: Box<aya::programs::ProgramError>,
    },
    #[error("eBPF map `{name}`: {source}")]
    Map {
        name: &'static str,
        #[source]
        source: aya::maps::MapError,
    },
    #[error(
        "the kernel reported the sensor's own pid as 0; its own activity could not be left out"
    )]
    SelfId,
    #[error("the ring buffer size {0} must be a power of two of at least 8 MiB (8388608)")]
    RingSize(u32),
    #[error("the 32-bit compat path: {0}")]
    Compat(#[from] compat_path::CompatPathError),
    #[error("kernel diagnostics: {0}")]
    Diagnostics(String),
}

/// How the probe is set up.
#[derive(Clone, Debug)]
pub struct ProbeConfig {
    /// Bytes in the event ring buffer: a power of two, at least 8 MiB.
    pub ring_bytes: u32,
    /// Trace 32-bit compat syscalls (`compat_path.rs`). Off, a 32-bit process's calls are
    /// not seen at all; the switch exists to measure what the path costs.
    pub compat: bool,
    /// Load the programs with their diagnostics on (`diagnostics.rs`): why a record is lost
    /// or incomplete, logged under `sensor::kernel`. Off, they cost nothing.
    pub kernel_diagnostics: bool,
    /// Hash the string arguments of chmod-family and mount calls at enter, to catch a thread
    /// that rewrites them during the call (`SpecKind::Checked`). Off, those calls are traced
    /// by their exit alone (`Plain`) and a rewrite goes unseen; the switch exists to measure
    /// what the check costs (`cargo xtask bench`).
    pub check_arguments: bool,
    /// The syscalls to trace at first (`Probe::trace` changes them later).
    pub syscalls: SyscallSet,
    /// The kernel filter in force before anything is attached (`Probe::filter` changes it).
    pub filter: std::sync::Arc<crate::model::kernel_filter::KernelFilterTable>,
}

impl Default for ProbeConfig {
    fn default() -> Self {
        Self {
            ring_bytes: DEFAULT_RING_BYTES,
            compat: true,
            kernel_diagnostics: false,
            check_arguments: true,
            syscalls: SyscallSet::all_but_opens(),
            filter: Default::default(),
        }
    }
}

/// Events lost on their way to the agent, summed over CPUs.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Loss {
    /// The ring buffer was full: the agent read too slowly.
    pub ring_full: u64,
    /// A syscall's exit came without its saved enter.
    pub missing_enter: u64,
    /// A process exec'd a 32-bit image while the compat programs were detached and could
    /// not be stopped until they were attached: its first calls may be missing.
    pub compat_unstopped: u64,
}

impl Loss {
    pub fn total(&self) -> u64 {
        self.ring_full + self.missing_enter + self.compat_unstopped
    }
}

/// Whether the ring buffer holds unread records: the kernel's ring buffer reports readable
/// (`poll`) exactly while its producer position is ahead of the consumer's.
pub struct RingWatch {
    fd: std::os::fd::OwnedFd,
}

impl RingWatch {
    pub fn pending(&self) -> bool {
        use std::os::fd::AsRawFd as _;
        let mut pfd = libc::pollfd {
            fd: self.fd.as_raw_fd(),
            events: libc::POLLIN,
            revents: 0,
        };
        // SAFETY: one valid pollfd, no waiting.
        let ready = unsafe { libc::poll(&mut pfd, 1, 0) };
        ready > 0 && pfd.revents & libc::POLLIN != 0
    }
}

/// The 32-bit compat path's state, for the log and `sensor status`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CompatStatus {
    /// Whether 32-bit processes' syscalls are traced (`ProbeConfig::compat`).
    pub enabled: bool,
    /// Whether the compat programs are attached now (a 32-bit process runs).
    pub attached: bool,
    /// Processes stopped at their 32-bit exec until the programs were attached.
    pub continued: u64,
    /// Whether 64-bit processes can make 32-bit syscalls (`int $0x80`): those are seen only
    /// while the programs are attached.
    pub ia32_emulation: ia32_emulation::Ia32Emulation,
}

/// The loaded and attached programs. Dropping it detaches them.
pub struct Probe {
    /// First, so that it is dropped first: it continues the processes it stopped while the
    /// exec program still runs.
    compat: Option<compat_path::CompatPath>,
    ia32_emulation: ia32_emulation::Ia32Emulation,
    ebpf: Option<Ebpf>,
    /// The reader of the kernel's diagnostics, when they are on.
    diagnostics: Option<diagnostics::KernelDiagnostics>,
    ring: RingBuf<MapData>,
    loss: PerCpuArray<MapData, u64>,
    /// Time from the start of loading to the last attach.
    pub load_time: Duration,
    /// `category:name` of every attached tracepoint.
    pub attached: Vec<String>,
    /// Kernel ids of the loaded programs.
    pub program_ids: Vec<u32>,
    /// Exits without enter counted by the end of attaching.
    missing_at_attach: u64,
    /// The syscall recorder's programs and maps, until their owner takes them.
    recorder: Option<recorder_maps::RecorderMaps>,
    /// The kernel filter compiled from the rules (none installed at first).
    filter: kernel_filter::KernelFilter,
    /// Which syscalls the enter and exit programs trace.
    traced: traced::TracedSyscalls,
}

fn program_error(
    name: &str,
    action: &str,
) -> impl FnOnce(aya::programs::ProgramError) -> ProbeError {
    let name = name.to_string();
    let action = action.to_string();
    move |source| ProbeError::Program {
        name,
        action,
        source: Box::new(source),
    }
}

/// Turns the kernel's EPERM into the advice about privileges.
fn load_error(e: aya::EbpfError) -> ProbeError {
    let text = e.to_string();
    if text.contains("Operation not permitted") || text.contains("EPERM") {
        ProbeError::Privileges(privileges::MissingPrivileges {
            missing: format!("the kernel said: {text}"),
        })
    } else {
        ProbeError::Load(Box::new(e))
    }
}

impl Probe {
    /// Loads the programs into the kernel and attaches them to every traced syscall's
    /// tracepoints and to the process lifecycle tracepoints.
    pub fn load(config: &ProbeConfig) -> Result<Self, ProbeError> {
        if config.ring_bytes < 8 << 20 || !config.ring_bytes.is_power_of_two() {
            return Err(ProbeError::RingSize(config.ring_bytes));
        }
        privileges::check()?;
        privileges::raise_memlock_limit();
        tracefs::ensure_mounted()?;
        // Before anything is attached, so the check's child is not an event.
        let ia32_emulation = ia32_emulation::probe();
        let started = Instant::now();
        let mut layout = kernel_offsets::read()?;
        if std::env::var_os(FALLBACKS_ENV).is_some_and(|v| v == "1") {
            // The tests' way to run the older kernels' paths on this one.
            layout.helpers = 0;
        }
        let offsets = layout.offsets;
        tracing::debug!(
            ms = started.elapsed().as_secs_f64() * 1e3,
            "kernel offsets read from BTF"
        );
        log_helper_fallbacks(layout.helpers);
        // Both read-only globals: the verifier knows their values and, with diagnostics
        // off, drops every logging branch.
        let log_level = match config.kernel_diagnostics {
            true => diagnostics::kernel_level(),
            false => 0,
        };
        if config.kernel_diagnostics && log_level == 0 {
            tracing::warn!(
                "kernel diagnostics asked for, but the log filter hides `{}`: left off",
                diagnostics::TARGET
            );
        }
        let kernel_diagnostics = u8::from(log_level != 0);
        let mut ebpf = EbpfLoader::new()
            .override_global("KERNEL_OFFSETS", &offsets, true)
            .override_global("KERNEL_DIAGNOSTICS", &kernel_diagnostics, true)
            .override_global("KERNEL_HELPERS", &layout.helpers, true)
            .override_global(aya_log::LEVEL, &log_level, false)
            .map_max_entries("EVENTS", config.ring_bytes)
            .load(EBPF_OBJECT)
            .map_err(load_error)?;
        tracing::debug!(ms = started.elapsed().as_secs_f64() * 1e3, "object loaded");
        // Before anything is attached, so that no diagnostic waits unread.
        let diagnostics = match kernel_diagnostics {
            1 => Some(
                diagnostics::KernelDiagnostics::start(&mut ebpf)
                    .map_err(ProbeError::Diagnostics)?,
            ),
            _ => None,
        };
        let self_pid = self_id::identify(&mut ebpf)?;
        tracing::debug!(self_pid, "own activity left out");

        for name in std::iter::once("sys_enter").chain(exit_program::NAMES) {
            let prog: &mut TracePoint = program(&mut ebpf, name)?;
            prog.load().map_err(program_error(name, "loaded"))?;
        }
        load_exit_tails(&mut ebpf)?;
        // The filter first, so that no call is recorded that it would have dropped.
        let mut filter = kernel_filter::KernelFilter::load(&mut ebpf)?;
        filter.install(&config.filter)?;
        let mut traced = traced::TracedSyscalls::new(config.check_arguments);
        let mut attached = traced
            .trace(&mut ebpf, &config.syscalls, config.compat)?
            .unwrap_or_default();
        tracing::debug!(
            ms = started.elapsed().as_secs_f64() * 1e3,
            "syscall programs attached"
        );
        // Two programs on sched_process_exec, run in the order attached: the image record
        // first, then the bookkeeping that may write the exec's own record after it.
        for (name, tracepoint) in [
            ("exec_image", "sched_process_exec"),
            ("sched_process_exec", "sched_process_exec"),
            ("sched_process_exit", "sched_process_exit"),
        ] {
            let prog: &mut TracePoint = program(&mut ebpf, name)?;
            prog.load().map_err(program_error(name, "loaded"))?;
            prog.attach("sched", tracepoint)
                .map_err(program_error(name, "attached"))?;
            attached.push(format!("sched:{tracepoint}"));
        }
        {
            let name = "sched_process_fork";
            let prog: &mut RawTracePoint = program(&mut ebpf, name)?;
            prog.load().map_err(program_error(name, "loaded"))?;
            prog.attach(name).map_err(program_error(name, "attached"))?;
            attached.push(format!("raw_tracepoint:{name}"));
        }

        tracing::debug!(
            ms = started.elapsed().as_secs_f64() * 1e3,
            "lifecycle programs attached"
        );
        let compat = if config.compat {
            let maps = load_compat(&mut ebpf)?;
            tracing::debug!(
                ms = started.elapsed().as_secs_f64() * 1e3,
                "compat programs loaded"
            );
            Some(compat_path::CompatPath::start(maps)?)
        } else {
            None
        };
        tracing::debug!(
            ms = started.elapsed().as_secs_f64() * 1e3,
            "compat path started"
        );
        log_compat_coverage(&CompatStatus {
            enabled: config.compat,
            attached: false,
            continued: 0,
            ia32_emulation,
        });
        let recorder = Some(recorder_maps::load(&mut ebpf)?);
        // Their kernel ids, for the per-program run time the metrics report.
        let program_ids = ebpf
            .programs()
            .filter_map(|(_, p)| p.info().ok().map(|i| i.id()))
            .collect();
        for (name, program) in ebpf.programs() {
            if let Ok(info) = program.info() {
                tracing::debug!(
                    program = name,
                    verified_instructions = info.verified_instruction_count(),
                    "program verified"
                );
            }
        }
        let ring = take_map(&mut ebpf, "EVENTS", RingBuf::try_from)?;
        let loss = take_map(&mut ebpf, "LOSS", PerCpuArray::try_from)?;
        let load_time = started.elapsed();
        tracing::info!(
            programs = attached.len(),
            syscalls = traced.len(),
            load_ms = load_time.as_secs_f64() * 1e3,
            ring_bytes = config.ring_bytes,
            "eBPF programs attached"
        );
        let mut probe = Self {
            compat,
            ia32_emulation,
            ebpf: Some(ebpf),
            diagnostics,
            ring,
            loss,
            load_time,
            attached,
            program_ids,
            missing_at_attach: 0,
            recorder,
            filter,
            traced,
        };
        probe.missing_at_attach = probe.loss().missing_enter;
        Ok(probe)
    }

    /// Traces exactly `wanted` from now on (less what this kernel lacks): attaches what is
    /// new, switches off what is no longer wanted. Nothing happens once detached.
    /// Puts `table` in force as the kernel filter (`kernel_filter.rs`).
    pub fn filter(
        &mut self,
        table: &std::sync::Arc<crate::model::kernel_filter::KernelFilterTable>,
    ) -> Result<(), ProbeError> {
        self.filter.install(table)
    }

    /// Calls the kernel filter dropped so far, by event type.
    pub fn filtered(&self) -> std::collections::BTreeMap<&'static str, u64> {
        self.filter.filtered()
    }

    pub fn trace(&mut self, wanted: &SyscallSet) -> Result<(), ProbeError> {
        let compat = self.compat.is_some();
        let Some(ebpf) = self.ebpf.as_mut() else {
            return Ok(());
        };
        let before = self.traced.len();
        let Some(added) = self.traced.trace(ebpf, wanted, compat)? else {
            return Ok(());
        };
        tracing::info!(
            traced = self.traced.len(),
            before,
            attached = added.len(),
            "traced syscalls changed"
        );
        self.attached.extend(added);
        Ok(())
    }

    /// The syscall recorder's programs and maps, for the one owner that attaches them
    /// (`profile::Recordings::new`); `None` once taken. They keep working after `detach`.
    pub fn take_recorder(&mut self) -> Option<recorder_maps::RecorderMaps> {
        self.recorder.take()
    }

    /// The 32-bit compat path's state.
    pub fn compat_status(&self) -> CompatStatus {
        let counters = self.compat.as_ref().map(|c| c.counters());
        CompatStatus {
            enabled: self.compat.is_some(),
            attached: counters
                .is_some_and(|c| c.attached.load(std::sync::atomic::Ordering::Relaxed)),
            continued: counters.map_or(0, |c| {
                c.continued.load(std::sync::atomic::Ordering::Relaxed)
            }),
            ia32_emulation: self.ia32_emulation,
        }
    }

    /// Detaches every program; records already in the ring buffer stay readable.
    pub fn detach(&mut self) {
        // The compat path first: it stops stopping processes and continues those it holds.
        self.compat = None;
        // The exit programs go first: a call whose exit is still traced after its enter
        // stopped being traced would count as an exit without enter.
        if let Some(ebpf) = self.ebpf.as_mut() {
            for name in exit_program::NAMES {
                if let Some(Ok(exit)) = ebpf.program_mut(name).map(<&mut TracePoint>::try_from) {
                    if let Err(e) = exit.unload() {
                        tracing::warn!("unloading {name}: {e}");
                    }
                }
            }
        }
        self.ebpf = None;
        // What the programs logged before they were detached.
        if let Some(mut diagnostics) = self.diagnostics.take() {
            diagnostics.stop();
        }
    }

    /// Waits up to `timeout` for records, then hands each waiting record to `f`, at most
    /// `max` of them. Returns how many were read.
    pub fn read(&mut self, timeout: Duration, max: usize, mut f: impl FnMut(&[u8])) -> usize {
        let mut read = 0;
        while read < max {
            let Some(item) = self.ring.next() else { break };
            f(&item);
            read += 1;
        }
        if read == 0 {
            let mut pfd = libc::pollfd {
                fd: self.ring.as_raw_fd(),
                events: libc::POLLIN,
                revents: 0,
            };
            // SAFETY: one valid pollfd. Interrupted or failed polls just mean another round.
            unsafe { libc::poll(&mut pfd, 1, timeout.as_millis() as i32) };
        }
        read
    }

    /// A watch on the ring buffer that tells, from any thread, whether records wait in it,
    /// without reading them (for `/healthz`).
    pub fn ring_watch(&self) -> std::io::Result<RingWatch> {
        // SAFETY: the ring's descriptor is valid while `self` lives; the clone is our own.
        let fd = unsafe { std::os::fd::BorrowedFd::borrow_raw(self.ring.as_raw_fd()) };
        Ok(RingWatch {
            fd: fd.try_clone_to_owned()?,
        })
    }

    /// Running totals of lost events.
    pub fn loss(&self) -> Loss {
        let sum = |index: u32| -> u64 {
            self.loss
                .get(&index, 0)
                .map(|values| values.iter().sum())
                .unwrap_or(0)
        };
        Loss {
            ring_full: sum(loss::RING_FULL),
            // Calls already in flight while the programs were being attached have no enter;
            // they are not losses of the running sensor.
            missing_enter: sum(loss::MISSING_ENTER).saturating_sub(self.missing_at_attach),
            compat_unstopped: sum(loss::COMPAT_UNSTOPPED),
        }
    }
}

/// Loads the compat programs (attached by the compat path while a 32-bit process runs).
fn load_compat(ebpf: &mut Ebpf) -> Result<compat_path::CompatMaps, ProbeError> {
    let mut fds = Vec::new();
    for name in ["compat_sys_enter", "compat_sys_exit"] {
        let prog: &mut RawTracePoint = program(ebpf, name)?;
        prog.load().map_err(program_error(name, "loaded"))?;
        let fd = shared_fd(name, prog.fd())?;
        fds.push(fd);
    }
    for (index, name) in exit_program::COMPAT_TAIL_NAMES.iter().enumerate() {
        let prog: &mut RawTracePoint = program(ebpf, name)?;
        prog.load().map_err(program_error(name, "loaded"))?;
        let fd = shared_fd(name, prog.fd())?;
        set_tail(ebpf, "COMPAT_EXIT_TAILS", index as u32, &fd)?;
    }
    let exit = fds
        .pop()
        .ok_or_else(|| missing_program("compat_sys_exit"))?;
    let enter = fds
        .pop()
        .ok_or_else(|| missing_program("compat_sys_enter"))?;
    Ok(compat_path::CompatMaps {
        enter,
        exit,
        processes: take_map(ebpf, "COMPAT_PROCESSES", HashMap::try_from)?,
        stopped: take_map(ebpf, "COMPAT_STOPPED", HashMap::try_from)?,
        control: take_map(ebpf, "COMPAT_CONTROL", Array::try_from)?,
        wake: take_map(ebpf, "COMPAT_WAKE", RingBuf::try_from)?,
    })
}

impl CompatStatus {
    /// What of the 32-bit ABI is not seen, in words; empty when nothing.
    pub fn uncovered(&self) -> &'static str {
        use ia32_emulation::Ia32Emulation;
        match (self.enabled, self.ia32_emulation) {
            (_, Ia32Emulation::Disabled) => "",
            (false, _) => "32-bit syscalls are not traced (compat path off)",
            (true, Ia32Emulation::Enabled) => {
                "int $0x80 from a 64-bit process while no 32-bit process runs \
                 (boot with ia32_emulation=false to forbid it)"
            }
            (true, Ia32Emulation::Unknown) => "",
        }
    }
}

/// Loads the programs the exit programs continue in and puts them in `EXIT_TAILS`, before
/// any exit program is attached (an empty slot would cost an open its file).
fn load_exit_tails(ebpf: &mut Ebpf) -> Result<(), ProbeError> {
    for (index, name) in exit_program::TAIL_NAMES.iter().enumerate() {
        let prog: &mut TracePoint = program(ebpf, name)?;
        prog.load().map_err(program_error(name, "loaded"))?;
        let fd = shared_fd(name, prog.fd())?;
        set_tail(ebpf, "EXIT_TAILS", index as u32, &fd)?;
    }
    Ok(())
}

/// A handle of our own on program `name`'s fd, to attach it or put it in a program array
/// after the object has moved on.
fn shared_fd(
    name: &str,
    fd: Result<&aya::programs::ProgramFd, aya::programs::ProgramError>,
) -> Result<aya::programs::ProgramFd, ProbeError> {
    fd.and_then(|fd| fd.try_clone().map_err(aya::programs::ProgramError::IOError))
        .map_err(program_error(name, "shared"))
}

/// Puts program `fd` in slot `index` of the program array `map`.
fn set_tail(
    ebpf: &mut Ebpf,
    name: &'static str,
    index: u32,
    fd: &aya::programs::ProgramFd,
) -> Result<(), ProbeError> {
    let map_error = |source| ProbeError::Map { name, source };
    // Left in the object, not taken: a program array's slots are emptied when the last
    // handle on it from user space closes.
    let map = ebpf
        .map_mut(name)
        .ok_or_else(|| map_error(aya::maps::MapError::InvalidName { name: name.into() }))?;
    aya::maps::ProgramArray::try_from(map)
        .and_then(|mut tails| tails.set(index, fd, 0))
        .map_err(map_error)
}

/// Set to 1, the programs take every fallback for helpers older kernels lack, as if this
/// kernel lacked them too: how the tests run those paths on the kernel at hand.
pub const FALLBACKS_ENV: &str = "SENSOR_HELPER_FALLBACKS";

/// Says at start which eBPF helpers this kernel lacks and what the programs do instead.
fn log_helper_fallbacks(helpers: u32) {
    let missing: Vec<_> = sensor_common::kernel_helpers::ALL
        .iter()
        .filter(|h| helpers & h.bit == 0)
        .collect();
    if missing.is_empty() {
        tracing::debug!("every eBPF helper the programs prefer is here");
        return;
    }
    let names: Vec<&str> = missing.iter().map(|h| h.name).collect();
    let fallbacks: Vec<&str> = missing.iter().map(|h| h.fallback).collect();
    tracing::info!(
        missing = %names.join(", "),
        fallbacks = %fallbacks.join("; "),
        "this kernel lacks newer eBPF helpers: fallbacks chosen at load"
    );
}

/// Says at start what of the 32-bit ABI is seen, and what is not.
fn log_compat_coverage(status: &CompatStatus) {
    if status.ia32_emulation == ia32_emulation::Ia32Emulation::Disabled {
        tracing::info!(
            "32-bit syscalls: ia32 emulation is off in this kernel (ia32_emulation=false): no \
             process can make one"
        );
    } else if !status.uncovered().is_empty() {
        tracing::warn!("32-bit syscalls not seen: {}", status.uncovered());
    }
}

/// The program `name` of the object, as the type it must be.
fn program<'a, T>(ebpf: &'a mut Ebpf, name: &str) -> Result<&'a mut T, ProbeError>
where
    &'a mut T: TryFrom<&'a mut aya::programs::Program, Error = aya::programs::ProgramError>,
{
    ebpf.program_mut(name)
        .ok_or_else(|| missing_program(name))?
        .try_into()
        .map_err(program_error(name, "found"))
}

fn missing_program(name: &str) -> ProbeError {
    ProbeError::Program {
        name: name.to_string(),
        action: "found".to_string(),
        source: Box::new(aya::programs::ProgramError::UnexpectedProgramType),
    }
}

fn take_map<T>(
    ebpf: &mut Ebpf,
    name: &'static str,
    convert: impl FnOnce(aya::maps::Map) -> Result<T, aya::maps::MapError>,
) -> Result<T, ProbeError> {
    let map = ebpf.take_map(name).ok_or(ProbeError::Map {
        name,
        source: aya::maps::MapError::InvalidName { name: name.into() },
    })?;
    convert(map).map_err(|source| ProbeError::Map { name, source })
}
