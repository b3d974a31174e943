//! The abstract interpretation of one compiled condition on one event type.
//!
//! `over(X)` is a formula over kernel atoms with X ⇒ over(X); `under(X)` one with
//! under(X) ⇒ X. They are computed together as `approx(X, negated)`:
//! `approx(X, false) = over(X)` and `approx(X, true) = over(not X) = not under(X)`, so
//! that `over(not X) = not under(X)` and `under(not X) = not over(X)` are just the flip of
//! `negated`, and `and`/`or` swap under negation by De Morgan. Only formulas in negation
//! normal form are built, which is what a DNF needs.

use std::collections::HashMap;
use std::hash::Hash;

use super::atom::{leaf, Atom, Leaf, Lowered};
use super::dnf::{Budget, Dnf, Lit};
use crate::compiler::Node;
use crate::fields::EventTypeId;

/// Kernel atoms met so far, numbered in order of appearance.
pub(crate) struct Interner<A> {
    pub atoms: Vec<A>,
    ids: HashMap<A, u32>,
}

impl<A: Clone + Eq + Hash> Interner<A> {
    pub fn new() -> Self {
        Interner {
            atoms: Vec::new(),
            ids: HashMap::new(),
        }
    }

    fn id(&mut self, atom: A) -> u32 {
        if let Some(id) = self.ids.get(&atom) {
            return *id;
        }
        let id = u32::try_from(self.atoms.len()).unwrap_or(u32::MAX);
        self.atoms.push(atom.clone());
        self.ids.insert(atom, id);
        id
    }
}

pub(crate) struct Approximation<'a, A, F> {
    pub event_type: EventTypeId,
    pub budget: Budget,
    pub lower: &'a mut F,
    pub atoms: &'a mut Interner<A>,
}

impl<'r, A, F> Approximation<'_, A, F>
where
    A: Clone + Eq + Hash,
    F: FnMut(EventTypeId, &Atom<'r>) -> Option<Lowered<A>>,
{
    /// `over(node)` if `negated` is false, `over(not node)` if it is true.
    pub fn approx(&mut self, node: &'r Node, negated: bool) -> Dnf {
        match node {
            // `and` stays a conjunction unless negated (then De Morgan makes it a
            // disjunction of negated children); `or` the other way round.
            Node::All(children) if !negated => self.conjunction(children, negated),
            Node::Any(children) if negated => self.conjunction(children, negated),
            Node::All(children) | Node::Any(children) => self.disjunction(children, negated),
            Node::Not(child) => self.approx(child, !negated),
            _ => self.leaf(node, negated),
        }
    }

    fn conjunction(&mut self, children: &'r [Node], negated: bool) -> Dnf {
        let mut parts = Vec::with_capacity(children.len());
        for child in children {
            let part = self.approx(child, negated);
            if part.is_false() {
                // Whatever the other children are, this is false: no need to lower them.
                return part;
            }
            parts.push(part);
        }
        Dnf::and_all(parts, self.budget)
    }

    fn disjunction(&mut self, children: &'r [Node], negated: bool) -> Dnf {
        let mut acc = Dnf::constant(false);
        for child in children {
            acc = acc.or(self.approx(child, negated), self.budget);
            if acc.is_true() {
                return acc;
            }
        }
        acc
    }

    fn leaf(&mut self, node: &'r Node, negated: bool) -> Dnf {
        let atom = match leaf(node, self.event_type) {
            Leaf::Known(value) => return Dnf::constant(value != negated),
            // Nothing the kernel can evaluate: over is `true`, under is `false`, and
            // either way the approximation here is `true`.
            Leaf::Opaque => return Dnf::constant(true),
            Leaf::Atom(atom) => atom,
        };
        let literal = |atoms: &mut Interner<A>, kernel: A, negated: bool| {
            Dnf::literal(Lit::new(atoms.id(kernel), negated))
        };
        match ((self.lower)(self.event_type, &atom), negated) {
            (None, _) => Dnf::constant(true),
            // check ⟺ K: over(check) = K, over(not check) = not K.
            (Some(Lowered::Exact(kernel)), negated) => literal(self.atoms, kernel, negated),
            // check ⇒ K: K bounds the check from above; nothing bounds `not check`.
            (Some(Lowered::Implied(kernel)), false) => literal(self.atoms, kernel, false),
            (Some(Lowered::Implied(_)), true) => Dnf::constant(true),
            // K ⇒ check, so not check ⇒ not K; nothing bounds the check itself.
            (Some(Lowered::Implying(_)), false) => Dnf::constant(true),
            (Some(Lowered::Implying(kernel)), true) => literal(self.atoms, kernel, true),
        }
    }
}
