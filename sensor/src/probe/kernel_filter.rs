//! The kernel filter's maps (`sensor_common::filter`): installing a table derived from the
//! rules, and reading how many calls it dropped.
//!
//! Two tables, one in use: a new one is written whole into the other and then made current
//! with one write of `FILTER_TABLE`, so an exit program never evaluates a half-written
//! entry, and the old filter stays in force until the new one is complete.

use std::collections::BTreeMap;
use std::sync::Arc;

use aya::maps::{Array, MapData, PerCpuArray};
use aya::Ebpf;
use sensor_common::filter::FilterSpec;
use sensor_common::SYSCALL_TABLE_LEN;

use super::{take_map, ProbeError};
use crate::model::kernel_filter::KernelFilterTable;
use crate::model::syscalls::SYSCALLS;

pub struct KernelFilter {
    filters: Array<MapData, FilterSpec>,
    table: Array<MapData, u32>,
    filtered: PerCpuArray<MapData, u64>,
    /// The table in force (0 or 1), and what it holds.
    current: u32,
    installed: Arc<KernelFilterTable>,
}

impl KernelFilter {
    pub(super) fn load(ebpf: &mut Ebpf) -> Result<Self, ProbeError> {
        Ok(Self {
            filters: take_map(ebpf, "FILTERS", Array::try_from)?,
            table: take_map(ebpf, "FILTER_TABLE", Array::try_from)?,
            filtered: take_map(ebpf, "FILTERED", PerCpuArray::try_from)?,
            current: 0,
            installed: Arc::new(KernelFilterTable::none()),
        })
    }

    /// Puts `wanted` in force, unless it already is.
    pub fn install(&mut self, wanted: &Arc<KernelFilterTable>) -> Result<(), ProbeError> {
        if *self.installed == **wanted {
            return Ok(());
        }
        let next = 1 - self.current;
        let error = |source| ProbeError::Map {
            name: "FILTERS",
            source,
        };
        for nr in 0..SYSCALL_TABLE_LEN {
            let spec = wanted
                .specs
                .get(&nr)
                .copied()
                .unwrap_or(FilterSpec::KEEP_ALL);
            self.filters
                .set(next * SYSCALL_TABLE_LEN + nr, spec, 0)
                .map_err(error)?;
        }
        self.table
            .set(0, next, 0)
            .map_err(|source| ProbeError::Map {
                name: "FILTER_TABLE",
                source,
            })?;
        self.current = next;
        self.installed = wanted.clone();
        tracing::info!(
            syscalls = wanted.specs.len(),
            "kernel filter installed: calls no rule can match are dropped in the kernel"
        );
        Ok(())
    }

    /// The table in force.
    pub fn installed(&self) -> &Arc<KernelFilterTable> {
        &self.installed
    }

    /// Calls dropped so far, by event type (syscalls with none left out).
    pub fn filtered(&self) -> BTreeMap<&'static str, u64> {
        let mut out = BTreeMap::new();
        for def in SYSCALLS {
            let Some(nr) = def.nr() else { continue };
            let n: u64 = self
                .filtered
                .get(&nr, 0)
                .map(|values| values.iter().sum())
                .unwrap_or(0);
            if n > 0 {
                *out.entry(def.name).or_default() += n;
            }
        }
        out
    }
}
