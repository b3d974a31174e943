//! Alert sinks: who needs to know. Each raised alert is built once ([`record::AlertRecord`])
//! and handed to every configured output: gRPC subscribers through the [`hub`], and the
//! siblings behind the [`output::Output`] trait: stdout, a file, HTTP. Nothing here may stall
//! the pipeline thread: each output writes on its own thread from its own bounded
//! [`queue::AlertQueue`] with an explicit policy when full (by priority by default), counted.

pub mod drop_alert;
pub mod filter;
pub mod grpc;
pub mod http;
pub mod hub;
pub mod label_selector;
pub mod lines;
pub mod output;
pub mod outputs;
pub mod queue;
pub mod record;
pub mod throttle;

pub use outputs::Outputs;
