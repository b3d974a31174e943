//! The filter as text, for `sensor rules check --explain`: per event type what the kernel
//! keeps and which rules made it so.

use std::fmt;

use super::{Clause, KeepAllCause, KernelFilter, Literal, TypeFilter};

impl<A: fmt::Display> fmt::Display for Literal<A> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.negated {
            write!(f, "not {}", self.atom)
        } else {
            write!(f, "{}", self.atom)
        }
    }
}

impl<A: fmt::Display> fmt::Display for Clause<A> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.literals.is_empty() {
            f.write_str("always")?;
        }
        for (index, literal) in self.literals.iter().enumerate() {
            if index > 0 {
                f.write_str(" and ")?;
            }
            write!(f, "{literal}")?;
        }
        write!(f, "  <- {}", self.rules.join(", "))
    }
}

impl<A: fmt::Display> fmt::Display for TypeFilter<A> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TypeFilter::KeepAll {
                because,
                cause: KeepAllCause::NoPredicate,
            } => write!(
                f,
                "keep all: no kernel predicate from {}",
                because.join(", ")
            ),
            TypeFilter::KeepAll {
                because,
                cause: KeepAllCause::OverBudget,
            } => write!(
                f,
                "keep all: the predicates of {} do not fit the budget",
                because.join(", ")
            ),
            TypeFilter::KeepWhen(clauses) if clauses.is_empty() => {
                f.write_str("keep nothing: no rule evaluated on it can match")
            }
            TypeFilter::KeepWhen(clauses) => {
                f.write_str("keep when")?;
                for clause in clauses {
                    write!(f, "\n    {clause}")?;
                }
                Ok(())
            }
        }
    }
}

impl<A: fmt::Display> fmt::Display for KernelFilter<A> {
    /// One paragraph per event type rules are evaluated on, then the count of the others.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (filtered, all) =
            self.iter()
                .fold((0, 0), |(filtered, all), (_, filter)| match filter {
                    TypeFilter::KeepAll { .. } => (filtered, all + 1),
                    TypeFilter::KeepWhen(_) => (filtered + 1, all),
                });
        writeln!(
            f,
            "kernel filter: {filtered} event types filtered, {all} kept whole (at most {} clauses of {} literals each)",
            self.budget.max_clauses, self.budget.max_literals
        )?;
        for (event_type, filter) in self.iter() {
            writeln!(f, "{event_type}: {filter}")?;
        }
        let unused = self.without_rules.len();
        write!(
            f,
            "{unused} other event types: no rule is evaluated on them"
        )
    }
}
