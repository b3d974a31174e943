//! Who did it: the process table and, later, container and pod identity.

pub mod fd;
pub mod process;
pub mod process_table;

pub use process_table::ProcessTable;
