//! How `sensor events` writes events: Falco JSON (`json`) and one readable line (`text`).

pub mod control_chars;
pub mod json;
pub mod text;

// Transitional: the event moved to `crate::model`; these keep code written against the old
// paths (other branches in flight) compiling. New code imports from `crate::model`.
pub use crate::model::event::{ArgValue, Bytes, Event, EventKind, ExecDetails};
pub use crate::model::flags;
