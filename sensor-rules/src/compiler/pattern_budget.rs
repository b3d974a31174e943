//! Patterns compiled one per value, counted across the rules of a load.
//!
//! A list item is cheap where it becomes a set entry (`in (...)`), but a check with a
//! modifier compiles a matcher per value (`icontains oneof (...)` an Aho-Corasick searcher
//! of about a kilobyte each) and `regex` compiles a program per value. Lists multiply
//! values: seven rules of `regex oneof (l16)`, within every expansion limit, took 2.8 GB.
//! So these values are charged here, a whole check at a time before anything of it is
//! compiled, against [`MAX_MODIFIER_VALUES`] and [`MAX_REGEX_PATTERNS`].

use std::cell::Cell;

use crate::diagnostic::{Diagnostic, Position};
use crate::limits::{MAX_MODIFIER_VALUES, MAX_REGEX_PATTERNS};

#[derive(Debug, Default)]
pub(crate) struct PatternBudget {
    modifier_values: Cell<usize>,
    regexes: Cell<usize>,
}

impl PatternBudget {
    /// Charges `values` matchers for a check with modifier `what` (e.g. `icontains oneof`).
    pub fn charge_modifier_values(
        &self,
        values: usize,
        what: &str,
        position: Position,
    ) -> Result<(), Diagnostic> {
        let total = self.modifier_values.get().saturating_add(values);
        if total > MAX_MODIFIER_VALUES {
            return Err(Diagnostic::error(
                position,
                format!(
                    "`{what}` compiles a matcher for each of its {values} values, which would bring the rules loaded so far ({} such values) past the {MAX_MODIFIER_VALUES} allowed (MAX_MODIFIER_VALUES); test membership with `in (...)` or prefixes with `pmatch (...)`, which compile to one set, or use fewer values",
                    self.modifier_values.get()
                ),
            ));
        }
        self.modifier_values.set(total);
        Ok(())
    }

    /// Charges `patterns` regular expressions.
    pub fn charge_regexes(&self, patterns: usize, position: Position) -> Result<(), Diagnostic> {
        let total = self.regexes.get().saturating_add(patterns);
        if total > MAX_REGEX_PATTERNS {
            return Err(Diagnostic::error(
                position,
                format!(
                    "the check compiles {patterns} regular expression{}, which would bring the rules loaded so far ({}) past the {MAX_REGEX_PATTERNS} allowed (MAX_REGEX_PATTERNS); match with `glob`, `startswith`, `contains` or `in` instead",
                    if patterns == 1 { "" } else { "s" },
                    self.regexes.get()
                ),
            ));
        }
        self.regexes.set(total);
        Ok(())
    }
}
