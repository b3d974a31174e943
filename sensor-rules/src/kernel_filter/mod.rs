//! Rules compiled towards the kernel: for each event type, a predicate a kernel program
//! can evaluate that holds on every event some loaded rule could match. An event it
//! rejects can be dropped before it leaves the kernel.
//!
//! # What the caller supplies
//!
//! The analysis is generic over what the kernel can evaluate. For each event type and each
//! check of a rule evaluated on it, it shows the caller's oracle an [`Atom`] (a field as
//! the engine reads it and its test) and the oracle answers with its own kernel form `A`
//! ([`Lowered`], saying how exact it is) or `None` when the kernel cannot evaluate it.
//!
//! # Soundness
//!
//! For an event type E and an enabled rule R evaluated on E, the analysis computes a
//! formula `over(R)` with cond(R) ⇒ over(R) on every event of type E, by abstract
//! interpretation of R's compiled condition (macros expanded, lists resolved, exceptions
//! already added as `and not (...)`):
//!
//! * `evt.type` checks, constants and checks that only depend on the type (`evt.dir`,
//!   `evt.type startswith ...`) are evaluated for E and fold;
//! * an atom the oracle lowers exactly is itself, negated or not; an [`Lowered::Implied`]
//!   atom only stands for its positive occurrences, an [`Lowered::Implying`] one only for
//!   its negated ones; any other check (not lowered, transformers, comparisons of two
//!   fields) is `true` in the over- and `false` in the under-approximation;
//! * `over(a and b) = over(a) and over(b)`, `over(a or b) = over(a) or over(b)`,
//!   `over(not a) = not under(a)`, `under(not a) = not over(a)` (see `approximation`).
//!
//! The keep predicate of E is the disjunction of `over(R)` over the rules. It is kept as a
//! DNF within a [`Budget`]; every step that enforces the budget weakens the formula
//! (drops a literal, a conjunct, or merges clauses into their common literals, at worst
//! into `true`), so it remains implied by the rules. Hence: if a rule matches an event,
//! the event's type has a filter and the filter keeps the event, provided the oracle's
//! answers are true to [`Lowered`] on the events the kernel sees.
//!
//! Not covered, and the caller's to handle: events whose type Falco does not know (no
//! [`EventTypeId`]: rules without `evt.type` checks see them; keep them), and events the
//! agent needs for its own state whether or not a rule matches them (process tree from
//! `clone`/`execve`, `procexit`): the filter only speaks for rule matches.

mod approximation;
mod atom;
mod dnf;
mod explain;

use std::collections::BTreeMap;
use std::hash::Hash;

pub use atom::{Atom, AtomTest, ListApplication, Lowered};
pub use dnf::Budget;

use approximation::{Approximation, Interner};
use dnf::Dnf;

use crate::engine::Ruleset;
use crate::event::Event;
use crate::fields::{EventTypeId, EventTypeMask};

/// A kernel atom in a clause, possibly negated.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Literal<A> {
    pub atom: A,
    pub negated: bool,
}

/// A conjunction of literals, and the rules whose approximations it stands for (sorted).
/// An empty conjunction is `true`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Clause<A> {
    pub literals: Vec<Literal<A>>,
    pub rules: Vec<String>,
}

impl<A> Clause<A> {
    /// The clause's value given each kernel atom's value.
    pub fn holds(&self, mut atom: impl FnMut(&A) -> bool) -> bool {
        self.literals
            .iter()
            .all(|literal| atom(&literal.atom) != literal.negated)
    }
}

/// Why an event type is not filtered.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum KeepAllCause {
    /// The listed rules' conditions give no predicate the kernel can evaluate.
    NoPredicate,
    /// The rules' predicates did not fit the budget; widening them gave `true`.
    OverBudget,
}

/// What the kernel keeps of one event type that rules are evaluated on.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum TypeFilter<A> {
    /// Every event of the type, because of `because` (rule names, load order).
    KeepAll {
        because: Vec<String>,
        cause: KeepAllCause,
    },
    /// The events on which one of the clauses holds. No clause: the rules evaluated on
    /// this type can never match it (a condition that folds to false).
    KeepWhen(Vec<Clause<A>>),
}

impl<A> TypeFilter<A> {
    /// Whether the kernel keeps an event, given each kernel atom's value on it.
    pub fn keeps(&self, mut atom: impl FnMut(&A) -> bool) -> bool {
        match self {
            TypeFilter::KeepAll { .. } => true,
            TypeFilter::KeepWhen(clauses) => clauses.iter().any(|clause| clause.holds(&mut atom)),
        }
    }
}

/// Per event type, what a kernel program may keep; see the module documentation for what
/// it guarantees.
#[derive(Clone, Debug)]
pub struct KernelFilter<A> {
    types: BTreeMap<EventTypeId, TypeFilter<A>>,
    without_rules: EventTypeMask,
    budget: Budget,
}

impl<A> KernelFilter<A> {
    /// The filter of an event type some enabled rule is evaluated on; `None` for the
    /// others (see [`KernelFilter::without_rules`]).
    pub fn get(&self, event_type: EventTypeId) -> Option<&TypeFilter<A>> {
        self.types.get(&event_type)
    }

    /// The event types rules are evaluated on, with their filters, by id.
    pub fn iter(&self) -> impl Iterator<Item = (EventTypeId, &TypeFilter<A>)> {
        self.types.iter().map(|(id, filter)| (*id, filter))
    }

    /// Known event types no enabled rule is evaluated on: for rule matching the kernel
    /// need not capture them at all. Kept apart from the filtered types: whether to
    /// capture them is the agent's call (it may need them for its own state).
    pub fn without_rules(&self) -> &EventTypeMask {
        &self.without_rules
    }

    pub fn budget(&self) -> Budget {
        self.budget
    }

    /// Whether the kernel would keep `event`, given how to evaluate a kernel atom on it
    /// (for tests: `|atom, event| atom.matches(event)` with [`Atom`] as the kernel atom).
    /// Events of a type Falco does not know are kept; events of a type no rule is
    /// evaluated on are not.
    pub fn keeps<E: Event + ?Sized>(
        &self,
        event: &E,
        mut atom: impl FnMut(&A, &E) -> bool,
    ) -> bool {
        let Some(id) = event.event_type_id() else {
            return true;
        };
        self.get(id)
            .is_some_and(|filter| filter.keeps(|kernel| atom(kernel, event)))
    }
}

impl Ruleset {
    /// The kernel filter of the enabled rules within [`Budget::DEFAULT`]. `lower` is asked,
    /// per event type, about each check of the rules evaluated on it; see [`Lowered`] for
    /// what its answer promises and the module documentation for what the result does.
    ///
    /// ```
    /// use sensor_rules::kernel_filter::{AtomTest, Lowered, TypeFilter};
    /// use sensor_rules::{EventTypeId, RuleSource, RulesetBuilder};
    ///
    /// let rules = "
    /// - rule: Setuid bit
    ///   desc: d
    ///   condition: evt.type = chmod and evt.arg.mode contains S_ISUID and proc.name != make
    ///   output: o
    ///   priority: WARNING
    /// ";
    /// let compiled = RulesetBuilder::new().source(RuleSource::new("r.yaml", rules)).build();
    /// // This kernel evaluates string checks on `evt.arg.*` only.
    /// let filter = compiled.ruleset.kernel_filter(|_, atom| {
    ///     let kernel = matches!(atom.test(), AtomTest::Str(_)) && atom.field().key().is_some();
    ///     kernel.then(|| Lowered::Exact(atom.to_string()))
    /// });
    /// let chmod = EventTypeId::from_name("chmod").unwrap();
    /// let Some(TypeFilter::KeepWhen(clauses)) = filter.get(chmod) else { panic!() };
    /// assert_eq!(clauses[0].literals[0].atom, "evt.arg.mode contains S_ISUID");
    /// assert_eq!(clauses[0].rules, ["Setuid bit"]);
    /// assert!(filter.get(EventTypeId::from_name("execve").unwrap()).is_none());
    /// ```
    pub fn kernel_filter<'r, A, F>(&'r self, lower: F) -> KernelFilter<A>
    where
        A: Clone + Eq + Hash,
        F: FnMut(EventTypeId, &Atom<'r>) -> Option<Lowered<A>>,
    {
        self.kernel_filter_within(Budget::DEFAULT, lower)
    }

    /// [`Ruleset::kernel_filter`] with the caller's budget (clamped to at least one clause
    /// of one literal).
    pub fn kernel_filter_within<'r, A, F>(&'r self, budget: Budget, mut lower: F) -> KernelFilter<A>
    where
        A: Clone + Eq + Hash,
        F: FnMut(EventTypeId, &Atom<'r>) -> Option<Lowered<A>>,
    {
        let budget = Budget {
            max_clauses: budget.max_clauses.max(1),
            max_literals: budget.max_literals.max(1),
        };
        let mut atoms = Interner::new();
        let mut types = BTreeMap::new();
        let mut without_rules = EventTypeMask::default();
        for index in 0..EventTypeId::count() {
            let Ok(raw) = u16::try_from(index) else {
                break;
            };
            let event_type = EventTypeId(raw);
            let rules = self.rule_indices(event_type);
            if rules.is_empty() {
                without_rules.insert(event_type);
                continue;
            }
            let mut approximation = Approximation {
                event_type,
                budget,
                lower: &mut lower,
                atoms: &mut atoms,
            };
            let filter = self.type_filter(rules, &mut approximation);
            types.insert(event_type, filter);
        }
        KernelFilter {
            types,
            without_rules,
            budget,
        }
        .resolve(&atoms.atoms)
    }

    fn type_filter<'r, A, F>(
        &'r self,
        rules: &[u32],
        approximation: &mut Approximation<'_, A, F>,
    ) -> TypeFilter<u32>
    where
        A: Clone + Eq + Hash,
        F: FnMut(EventTypeId, &Atom<'r>) -> Option<Lowered<A>>,
    {
        let mut unfiltered = Vec::new();
        let mut keep = Dnf::constant(false);
        for &index in rules {
            let Some(rule) = self.rules().get(index as usize) else {
                continue;
            };
            let mut over = approximation.approx(rule.program.root(), false);
            if over.is_true() {
                unfiltered.push(rule.name.clone());
            } else if unfiltered.is_empty() {
                over.tag(index);
                keep = keep.or(over, approximation.budget);
            }
        }
        if !unfiltered.is_empty() {
            return TypeFilter::KeepAll {
                because: unfiltered,
                cause: KeepAllCause::NoPredicate,
            };
        }
        let rule_names = |indices: &[u32]| -> Vec<String> {
            indices
                .iter()
                .filter_map(|index| self.rules().get(*index as usize))
                .map(|rule| rule.name.clone())
                .collect()
        };
        if keep.is_true() {
            let because = keep
                .clauses
                .iter()
                .flat_map(|clause| rule_names(&clause.rules))
                .collect();
            return TypeFilter::KeepAll {
                because,
                cause: KeepAllCause::OverBudget,
            };
        }
        TypeFilter::KeepWhen(
            keep.clauses
                .iter()
                .map(|clause| Clause {
                    literals: clause
                        .lits
                        .iter()
                        .map(|lit| Literal {
                            atom: lit.atom(),
                            negated: lit.negated(),
                        })
                        .collect(),
                    rules: rule_names(&clause.rules),
                })
                .collect(),
        )
    }
}

impl KernelFilter<u32> {
    /// Replaces interned ids by the kernel atoms they stand for.
    fn resolve<A: Clone>(self, atoms: &[A]) -> KernelFilter<A> {
        let types = self
            .types
            .into_iter()
            .map(|(id, filter)| {
                let filter = match filter {
                    TypeFilter::KeepAll { because, cause } => {
                        TypeFilter::KeepAll { because, cause }
                    }
                    TypeFilter::KeepWhen(clauses) => TypeFilter::KeepWhen(
                        clauses
                            .into_iter()
                            .map(|clause| Clause {
                                literals: clause
                                    .literals
                                    .into_iter()
                                    .filter_map(|literal| {
                                        Some(Literal {
                                            atom: atoms.get(literal.atom as usize)?.clone(),
                                            negated: literal.negated,
                                        })
                                    })
                                    .collect(),
                                rules: clause.rules,
                            })
                            .collect(),
                    ),
                };
                (id, filter)
            })
            .collect();
        KernelFilter {
            types,
            without_rules: self.without_rules,
            budget: self.budget,
        }
    }
}
