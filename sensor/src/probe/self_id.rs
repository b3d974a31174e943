//! The agent's own process id as the kernel numbers it, so the programs leave its activity
//! out in any pid namespace.

use aya::maps::Array;
use aya::programs::{RawTracePoint, RawTracePointRunOptions, TestRun};
use aya::Ebpf;

use super::{program, program_error, ProbeError};

/// Runs `whoami` (`sensor-ebpf/src/self_id.rs`) in this thread through `BPF_PROG_TEST_RUN`
/// (raw tracepoints support it from Linux 5.10): it stores the id every program will see for
/// this process in `SELF_TGID`, and in the `WHOAMI` map for us. Must run before any program
/// is attached.
pub fn identify(ebpf: &mut Ebpf) -> Result<u32, ProbeError> {
    let prog: &mut RawTracePoint = program(ebpf, "whoami")?;
    prog.load().map_err(program_error("whoami", "loaded"))?;
    prog.test_run(RawTracePointRunOptions::new())
        .map_err(program_error(
            "whoami",
            "run through BPF_PROG_TEST_RUN (Linux 5.10 or later) to learn the sensor's own pid",
        ))?;
    let map = ebpf.map("WHOAMI").ok_or(ProbeError::SelfId)?;
    let whoami: Array<_, u32> = Array::try_from(map).map_err(|source| ProbeError::Map {
        name: "WHOAMI",
        source,
    })?;
    let kernel_pid = whoami.get(&0, 0).map_err(|source| ProbeError::Map {
        name: "WHOAMI",
        source,
    })?;
    let own_pid = std::process::id();
    if kernel_pid == 0 {
        return Err(ProbeError::SelfId);
    }
    if kernel_pid != own_pid {
        tracing::info!(
            kernel_pid,
            namespace_pid = own_pid,
            "the sensor runs in a pid namespace of its own: its activity is left out by its pid on the host"
        );
    }
    Ok(kernel_pid)
}
