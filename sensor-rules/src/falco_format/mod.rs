//! Falco's renderings of raw values, for sensors that fill `evt.arg.*` and `evt.res`.

mod errno;
mod mode;

pub use errno::errno_name;
pub use mode::chmod_mode_flags;
