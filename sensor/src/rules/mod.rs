//! Does it matter: the agent's side of the rules stage. The language itself (loader, compiler,
//! engine) is the `sensor-rules` crate; here are the field adapter, the rule sources with
//! their reloading, and the sink that evaluates events and emits alerts.

pub mod alerts;
pub mod fields;
pub mod kernel_filter;
pub mod live;
pub mod sources;

pub use alerts::AlertSink;
pub use live::{LiveRules, ReloadMetrics};
pub use sources::RuleFiles;
