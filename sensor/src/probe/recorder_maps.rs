//! The syscall recorder's programs and maps: loaded with the other programs, attached by
//! their owner (`profile::Recordings`) only while a recording runs. The probe hands them
//! over as plain aya handles, so that it knows nothing of recordings.

use aya::maps::{Array, MapData, PerCpuHashMap};
use aya::programs::{ProgramFd, RawTracePoint, TracePoint};
use aya::Ebpf;
use sensor_common::recorder::FILTER_WORDS;
use sensor_common::SyscallBitmap;

use super::{program, program_error, shared_fd, take_map, ProbeError};

/// The loaded (not attached) recorder programs and the maps that steer and collect them.
pub struct RecorderMaps {
    /// `record_syscall`, if this kernel could load it, with its cookie -> syscall map.
    pub per_syscall: Option<(ProgramFd, Array<MapData, u32>)>,
    /// `record_raw_syscall` and its mode switch.
    pub raw: ProgramFd,
    pub raw_mode: Array<MapData, u32>,
    /// What each recorded cgroup's processes called, per CPU.
    pub recordings: PerCpuHashMap<MapData, u64, SyscallBitmap>,
    /// The cgroups being recorded.
    pub filter: Array<MapData, [u64; FILTER_WORDS]>,
}

/// Loads the recorder's programs. The per-syscall one needs BPF cookies (Linux 5.15);
/// without them the raw tracepoint program records everything.
pub(super) fn load(ebpf: &mut Ebpf) -> Result<RecorderMaps, ProbeError> {
    let name = "record_raw_syscall";
    let prog: &mut RawTracePoint = program(ebpf, name)?;
    prog.load().map_err(program_error(name, "loaded"))?;
    let raw = shared_fd(name, prog.fd())?;
    let name = "record_syscall";
    let prog: &mut TracePoint = program(ebpf, name)?;
    let per_syscall = match prog.load() {
        Ok(()) => Some(shared_fd(name, prog.fd())?),
        Err(e) => {
            tracing::info!(
                "the per-syscall recorder does not load on this kernel ({e}); recordings \
                 will use the sys_enter raw tracepoint, which every syscall pays for"
            );
            None
        }
    };
    let per_syscall = match per_syscall {
        Some(fd) => Some((fd, take_map(ebpf, "TRACEPOINT_SYSCALLS", Array::try_from)?)),
        None => None,
    };
    Ok(RecorderMaps {
        per_syscall,
        raw,
        raw_mode: take_map(ebpf, "RAW_RECORDER_MODE", Array::try_from)?,
        recordings: take_map(ebpf, "RECORDINGS", PerCpuHashMap::try_from)?,
        filter: take_map(ebpf, "RECORD_FILTER", Array::try_from)?,
    })
}
