//! Alert sinks: who needs to know. Each raised alert is built once ([`record::AlertRecord`])
//! and handed to every configured output: gRPC subscribers through the [`hub`], stdout, a
//! file, HTTP. Nothing here may stall the pipeline thread for long: gRPC and HTTP have
//! bounded queues that drop their oldest entries, counted.

pub mod filter;
pub mod grpc;
pub mod http;
pub mod hub;
pub mod label_selector;
pub mod lines;
pub mod outputs;
pub mod record;
pub mod throttle;

pub use outputs::Outputs;
