//! The kernel filter derived from the rules in force (`rules::kernel_filter`), as the probe
//! installs it: per 64-bit syscall number, the keep predicate its exit program evaluates.

use std::collections::BTreeMap;

use sensor_common::filter::FilterSpec;

/// Per syscall number, the filter to install; a syscall not listed keeps every call.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct KernelFilterTable {
    pub specs: BTreeMap<u32, FilterSpec>,
    /// What the kernel keeps per event type and which rules made it so, for people.
    pub explain: String,
}

impl KernelFilterTable {
    /// The table that filters nothing.
    pub fn none() -> Self {
        Self::default()
    }

    pub fn is_empty(&self) -> bool {
        self.specs.is_empty()
    }
}
