//! What compiling one rule found, sorted by consequence.

use crate::diagnostic::{Diagnostic, Position};

#[derive(Debug, Default)]
pub(crate) struct Problems {
    /// The rule is wrong: it cannot compile anywhere.
    pub errors: Vec<Diagnostic>,
    /// Falco's "unknown filter" class (unknown field or event type): an error, or a silent
    /// skip with `skip-if-unknown-filter: true`.
    pub unknown: Vec<Diagnostic>,
    /// The rule is fine but needs something this sensor lacks: it is skipped.
    pub unsupported: Vec<(String, Position)>,
    pub warnings: Vec<Diagnostic>,
    /// Output fields the sensor does not supply: worth a warning only if the rule runs.
    pub output_warnings: Vec<Diagnostic>,
}

impl Problems {
    pub fn unsupported(&mut self, reason: String, position: Position) {
        if !self.unsupported.iter().any(|(r, _)| *r == reason) {
            self.unsupported.push((reason, position));
        }
    }
}
