//! YAML documents with the source position of every node.
//!
//! `serde_yaml` forgets where a value came from; rule diagnostics need file:line:col for every
//! key, so documents are built here from the event stream of `yaml-rust2`, whose events carry
//! markers.

mod builder;
mod node;
mod scalar_position;

pub use builder::{parse_documents, YamlError, YamlErrorKind};
pub use node::{Mark, Node, NodeValue, ScalarStyle};
pub use scalar_position::ScalarSource;
