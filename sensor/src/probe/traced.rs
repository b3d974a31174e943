//! Which syscalls the enter and exit programs are attached to, and the `SYSCALLS` and
//! `COMPAT_SYSCALLS` maps that tell the programs how to treat each.
//!
//! A syscall is traced by writing its spec into the maps and then attaching the programs to
//! its tracepoints (an exit that found no spec would drop its record). One no longer wanted
//! has its spec turned off: the programs return at once on it, and its links stay, because
//! closing a tracepoint link costs the kernel tens of milliseconds under a global mutex
//! (README, *Security profiles*) while an unused one costs only the tracepoint's dispatch.
//! Wanted again, it is switched back on without a new attach.

use std::collections::BTreeSet;

use aya::maps::Array;
use aya::programs::TracePoint;
use aya::Ebpf;
use sensor_common::syscall::{exit_program, SpecKind};
use sensor_common::SyscallSpec;

use super::{compat_syscalls, program, program_error, tracefs, ProbeError};
use crate::model::syscall_set::SyscallSet;
use crate::model::syscalls::{SyscallDef, SYSCALLS};

/// The syscalls traced now and those whose tracepoints carry the programs.
#[derive(Debug, Default)]
pub struct TracedSyscalls {
    /// Specs written into the maps (on).
    on: BTreeSet<&'static str>,
    /// Tracepoints the programs are attached to (on, or switched off since).
    attached: BTreeSet<&'static str>,
    /// `ProbeConfig::check_arguments`: off, `Checked` syscalls are written as `Plain`.
    check_arguments: bool,
}

/// Whether this kernel has the syscall here (a number on this architecture and its
/// tracepoints: a kernel without module support has no `sys_enter_finit_module`).
fn available(def: &SyscallDef) -> bool {
    def.nr().is_some() && tracefs::exists("syscalls", &format!("sys_enter_{}", def.tracepoint))
}

impl TracedSyscalls {
    pub fn new(check_arguments: bool) -> Self {
        Self {
            check_arguments,
            ..Self::default()
        }
    }

    /// How the programs treat `def` here: its own kind, but `Checked` becomes `Plain` (no
    /// enter program, no hashes) when the argument check is off.
    fn kind_of(&self, def: &SyscallDef) -> SpecKind {
        match def.kind {
            SpecKind::Checked if !self.check_arguments => SpecKind::Plain,
            kind => kind,
        }
    }

    fn with_kind(&self, def: &SyscallDef, mut spec: SyscallSpec) -> SyscallSpec {
        spec.kind = self.kind_of(def) as u8;
        spec
    }

    /// Makes exactly `wanted` traced (less what this kernel lacks). Returns the tracepoints
    /// newly attached, as `syscalls:sys_{enter,exit}_NAME`; `None` when nothing changed.
    pub fn trace(
        &mut self,
        ebpf: &mut Ebpf,
        wanted: &SyscallSet,
        compat: bool,
    ) -> Result<Option<Vec<String>>, ProbeError> {
        let next: BTreeSet<&'static str> = wanted
            .defs()
            .filter(|def| {
                let here = available(def);
                if !here {
                    tracing::debug!(
                        syscall = def.name,
                        "no tracepoint on this kernel; not traced"
                    );
                }
                here
            })
            .map(|def| def.name)
            .collect();
        if next == self.on {
            return Ok(None);
        }
        // Specs first, so that a program attached below never meets a call it has no spec
        // for; a syscall switched off keeps its links.
        write_specs(ebpf, "SYSCALLS", |table| {
            for def in SYSCALLS {
                let (Some(nr), true) = (
                    def.nr(),
                    next.contains(def.name) != self.on.contains(def.name),
                ) else {
                    continue;
                };
                let spec = match next.contains(def.name) {
                    true => self.with_kind(def, def.spec()),
                    false => SyscallSpec::OFF,
                };
                table.set(nr, spec, 0)?;
            }
            Ok(())
        })?;
        if compat {
            write_specs(ebpf, "COMPAT_SYSCALLS", |table| {
                for entry in compat_syscalls::table() {
                    let Some(def) = entry.def() else { continue };
                    if next.contains(def.name) == self.on.contains(def.name) {
                        continue;
                    }
                    let spec = match next.contains(def.name) {
                        true => entry
                            .spec()
                            .map_or(SyscallSpec::OFF, |spec| self.with_kind(def, spec)),
                        false => SyscallSpec::OFF,
                    };
                    table.set(entry.nr, spec, 0)?;
                }
                Ok(())
            })?;
        }
        let mut attached = Vec::new();
        let new: Vec<&'static SyscallDef> = SYSCALLS
            .iter()
            .filter(|def| next.contains(def.name) && !self.attached.contains(def.name))
            .collect();
        // Every enter before any exit: an exit attached first would meet calls that entered
        // untraced and count each as an exit without its enter.
        for def in &new {
            // Plain syscalls need no enter program: the exit reads their registers.
            if self.kind_of(def).has_enter() {
                attach(ebpf, "sys_enter", "enter", def, &mut attached)?;
            }
        }
        for def in &new {
            let exit = exit_program::NAMES[self.kind_of(def).exit_program() as usize];
            attach(ebpf, exit, "exit", def, &mut attached)?;
        }
        self.attached.extend(new.iter().map(|def| def.name));
        self.on = next;
        Ok(Some(attached))
    }

    /// How many syscalls are traced now.
    pub fn len(&self) -> usize {
        self.on.len()
    }

    pub fn is_empty(&self) -> bool {
        self.on.is_empty()
    }
}

/// Attaches program `prog_name` to `syscalls:sys_{direction}_NAME` of `def`.
fn attach(
    ebpf: &mut Ebpf,
    prog_name: &str,
    direction: &str,
    def: &SyscallDef,
    attached: &mut Vec<String>,
) -> Result<(), ProbeError> {
    let prog: &mut TracePoint = program(ebpf, prog_name)?;
    let name = format!("sys_{direction}_{}", def.tracepoint);
    prog.attach("syscalls", &name).map_err(program_error(
        prog_name,
        &format!("attached to syscalls:{name}"),
    ))?;
    attached.push(format!("syscalls:{name}"));
    Ok(())
}

/// Opens the spec map `name` and lets `fill` write it.
fn write_specs(
    ebpf: &mut Ebpf,
    name: &'static str,
    fill: impl FnOnce(
        &mut Array<&mut aya::maps::MapData, SyscallSpec>,
    ) -> Result<(), aya::maps::MapError>,
) -> Result<(), ProbeError> {
    let map = ebpf.map_mut(name).ok_or(ProbeError::Map {
        name,
        source: aya::maps::MapError::InvalidName { name: name.into() },
    })?;
    let mut table = Array::try_from(map).map_err(|source| ProbeError::Map { name, source })?;
    fill(&mut table).map_err(|source| ProbeError::Map { name, source })
}
