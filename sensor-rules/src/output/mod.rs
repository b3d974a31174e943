//! Alerts: priorities, the alert record and time formatting.

mod alert;
mod priority;
pub mod time_format;

pub use alert::Alert;
pub use priority::{InvalidPriority, Priority};
