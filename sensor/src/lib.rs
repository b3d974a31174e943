//! The sensor agent as a library: each pipeline stage is a module, and the `sensor` binary
//! only parses the command line. Tests and benchmarks drive the same code.

pub mod config;
pub mod consumers;
pub mod enrich;
pub mod event;
pub mod model;
pub mod pipeline;
pub mod probe;
pub mod profile;
pub mod rules;
pub mod safe_fs;
pub mod sinks;
pub mod telemetry;
