//! Bounded disjunctive normal forms over interned kernel atoms, with widenings that only
//! ever weaken: every operation returns a formula implied by the exact result, so an
//! over-approximation stays one however often the budget cuts in.

use smallvec::SmallVec;

/// Limits on the keep predicate of one event type, sized for an eBPF evaluator that
/// walks a fixed table of clauses with bounded loops.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Budget {
    /// Clauses per event type; more are merged (weakened) until they fit.
    pub max_clauses: usize,
    /// Literals per clause; more are dropped (weakening the clause).
    pub max_literals: usize,
}

impl Budget {
    /// 16 clauses of at most 4 literals: a 64-entry table per event type, small enough for
    /// the verifier to unroll and for one map value.
    pub const DEFAULT: Budget = Budget {
        max_clauses: 16,
        max_literals: 4,
    };
}

impl Default for Budget {
    fn default() -> Self {
        Budget::DEFAULT
    }
}

/// An interned atom and its polarity; ordering groups an atom's two polarities together,
/// so contradictions are adjacent in a sorted clause.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub(crate) struct Lit(u32);

impl Lit {
    pub fn new(atom: u32, negated: bool) -> Lit {
        Lit((atom << 1) | u32::from(negated))
    }

    pub fn atom(self) -> u32 {
        self.0 >> 1
    }

    pub fn negated(self) -> bool {
        self.0 & 1 == 1
    }
}

/// A conjunction of literals (sorted, unique), with the rules it stands for (sorted,
/// unique; empty inside one rule's analysis).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct Conj {
    pub lits: SmallVec<[Lit; 4]>,
    pub rules: SmallVec<[u32; 2]>,
}

fn union_sorted<T: Copy + Ord, const N: usize>(a: &[T], b: &[T]) -> SmallVec<[T; N]>
where
    [T; N]: smallvec::Array<Item = T>,
{
    let mut out = SmallVec::with_capacity(a.len() + b.len());
    let (mut i, mut j) = (0, 0);
    while i < a.len() && j < b.len() {
        match a[i].cmp(&b[j]) {
            std::cmp::Ordering::Less => {
                out.push(a[i]);
                i += 1;
            }
            std::cmp::Ordering::Greater => {
                out.push(b[j]);
                j += 1;
            }
            std::cmp::Ordering::Equal => {
                out.push(a[i]);
                i += 1;
                j += 1;
            }
        }
    }
    out.extend_from_slice(&a[i..]);
    out.extend_from_slice(&b[j..]);
    out
}

fn is_subset<T: Ord>(small: &[T], large: &[T]) -> bool {
    let mut large = large.iter();
    small
        .iter()
        .all(|item| large.by_ref().any(|candidate| candidate == item))
}

impl Conj {
    /// `self ∧ other`, or `None` when it contains an atom and its negation (false in the
    /// kernel whatever the atom approximates: the kernel evaluates each atom once).
    fn and(&self, other: &Conj, budget: Budget) -> Option<Conj> {
        let lits: SmallVec<[Lit; 4]> = union_sorted(&self.lits, &other.lits);
        if lits.windows(2).any(|pair| pair[0].atom() == pair[1].atom()) {
            return None;
        }
        let mut conj = Conj {
            lits,
            rules: union_sorted(&self.rules, &other.rules),
        };
        conj.fit(budget);
        Some(conj)
    }

    /// Drops literals beyond the budget, keeping positive ones first: a positive check
    /// (`fd.name startswith /etc`) usually selects far fewer events than a negated one
    /// (`not proc.name in (...)`). Dropping a literal weakens the clause.
    fn fit(&mut self, budget: Budget) {
        if self.lits.len() <= budget.max_literals {
            return;
        }
        let mut kept: SmallVec<[Lit; 4]> =
            self.lits.iter().copied().filter(|l| !l.negated()).collect();
        kept.extend(self.lits.iter().copied().filter(|l| l.negated()));
        kept.truncate(budget.max_literals);
        kept.sort_unstable();
        self.lits = kept;
    }

    fn absorb_rules(&mut self, other: &Conj) {
        if !other.rules.is_empty() {
            self.rules = union_sorted(&self.rules, &other.rules);
        }
    }
}

/// A disjunction of conjunctions. No clause: false. After [`Dnf::normalize`], `true` is a
/// single empty clause and no clause implies another.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct Dnf {
    pub clauses: Vec<Conj>,
}

impl Dnf {
    pub fn constant(value: bool) -> Dnf {
        Dnf {
            clauses: if value {
                vec![Conj::default()]
            } else {
                Vec::new()
            },
        }
    }

    pub fn literal(lit: Lit) -> Dnf {
        let mut lits = SmallVec::new();
        lits.push(lit);
        Dnf {
            clauses: vec![Conj {
                lits,
                rules: SmallVec::new(),
            }],
        }
    }

    pub fn is_false(&self) -> bool {
        self.clauses.is_empty()
    }

    pub fn is_true(&self) -> bool {
        self.clauses.iter().any(|clause| clause.lits.is_empty())
    }

    /// Marks every clause as coming from `rule`.
    pub fn tag(&mut self, rule: u32) {
        for clause in &mut self.clauses {
            clause.rules = SmallVec::from_slice(&[rule]);
        }
    }

    pub fn or(mut self, other: Dnf, budget: Budget) -> Dnf {
        self.clauses.extend(other.clauses);
        self.normalize(budget);
        self
    }

    /// The conjunction of `parts`, each normalized within `budget`. Parts are multiplied
    /// out smallest first; a part whose product would exceed the clause budget is left
    /// out, which weakens the result (a dropped conjunct counts as `true`) and bounds the
    /// work at budget² clause pairs per part, whatever the nesting.
    pub fn and_all(parts: Vec<Dnf>, budget: Budget) -> Dnf {
        let mut parts: Vec<Dnf> = parts.into_iter().filter(|part| !part.is_true()).collect();
        if parts.iter().any(Dnf::is_false) {
            return Dnf::constant(false);
        }
        parts.sort_by_key(|part| part.clauses.len());
        let mut acc = Dnf::constant(true);
        for part in parts {
            if acc.clauses.len() * part.clauses.len() > budget.max_clauses {
                continue;
            }
            let mut product = Vec::with_capacity(acc.clauses.len() * part.clauses.len());
            for left in &acc.clauses {
                for right in &part.clauses {
                    if let Some(conj) = left.and(right, budget) {
                        product.push(conj);
                    }
                }
            }
            acc = Dnf { clauses: product };
            acc.normalize(budget);
            if acc.is_false() {
                break;
            }
        }
        acc
    }

    /// Removes repeated and implied clauses (their rules move to the clause that implies
    /// them), then merges clauses until the budget holds.
    pub fn normalize(&mut self, budget: Budget) {
        for clause in &mut self.clauses {
            clause.fit(budget);
        }
        self.absorb();
        while self.clauses.len() > budget.max_clauses {
            self.merge_most_shared();
        }
    }

    /// A clause implied by a shorter (or equal) one adds nothing to the disjunction.
    fn absorb(&mut self) {
        if self.clauses.len() < 2 {
            return;
        }
        let mut clauses = std::mem::take(&mut self.clauses);
        clauses.sort_by(|a, b| {
            a.lits
                .len()
                .cmp(&b.lits.len())
                .then_with(|| a.lits.cmp(&b.lits))
        });
        let mut kept: Vec<Conj> = Vec::with_capacity(clauses.len());
        for clause in clauses {
            match kept.iter_mut().find(|k| is_subset(&k.lits, &clause.lits)) {
                Some(weaker) => weaker.absorb_rules(&clause),
                None => kept.push(clause),
            }
        }
        self.clauses = kept;
    }

    /// Widens by replacing every clause holding the most common literal with their common
    /// literals (a weaker clause that still holds that literal). With no literal shared by
    /// two clauses, only `true` is left.
    fn merge_most_shared(&mut self) {
        let mut counts: Vec<(Lit, usize)> = Vec::new();
        let mut all: Vec<Lit> = self
            .clauses
            .iter()
            .flat_map(|clause| clause.lits.iter().copied())
            .collect();
        all.sort_unstable();
        for lit in all {
            match counts.last_mut() {
                Some((last, count)) if *last == lit => *count += 1,
                _ => counts.push((lit, 1)),
            }
        }
        // Most shared first, then positive literals (usually more selective), then order.
        let best = counts
            .iter()
            .filter(|(_, count)| *count >= 2)
            .min_by_key(|(lit, count)| (std::cmp::Reverse(*count), lit.negated(), *lit));
        let Some(&(shared, _)) = best else {
            let mut everything = Conj::default();
            for clause in &self.clauses {
                everything.absorb_rules(clause);
            }
            self.clauses = vec![everything];
            return;
        };
        let (group, rest): (Vec<Conj>, Vec<Conj>) = std::mem::take(&mut self.clauses)
            .into_iter()
            .partition(|clause| clause.lits.contains(&shared));
        let mut merged = Conj::default();
        if let Some(first) = group.first() {
            merged.lits = first.lits.clone();
        }
        for clause in &group {
            merged.lits.retain(|lit| clause.lits.contains(lit));
            merged.absorb_rules(clause);
        }
        self.clauses = rest;
        self.clauses.push(merged);
        self.absorb();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn clause(lits: &[(u32, bool)]) -> Dnf {
        let parts = lits
            .iter()
            .map(|&(atom, negated)| Dnf::literal(Lit::new(atom, negated)))
            .collect();
        Dnf::and_all(parts, Budget::DEFAULT)
    }

    fn atoms(dnf: &Dnf) -> Vec<Vec<(u32, bool)>> {
        dnf.clauses
            .iter()
            .map(|c| c.lits.iter().map(|l| (l.atom(), l.negated())).collect())
            .collect()
    }

    #[test]
    fn contradictions_vanish_and_implied_clauses_are_absorbed() {
        let dnf = Dnf::and_all(
            vec![clause(&[(1, false)]), clause(&[(1, true)])],
            Budget::DEFAULT,
        );
        assert!(dnf.is_false());
        let dnf = clause(&[(1, false), (2, false)]).or(clause(&[(1, false)]), Budget::DEFAULT);
        assert_eq!(atoms(&dnf), [[(1, false)]]);
    }

    #[test]
    fn wide_clauses_keep_positive_literals() {
        let budget = Budget {
            max_clauses: 16,
            max_literals: 2,
        };
        let parts = [(1, true), (2, false), (3, true), (4, false)]
            .iter()
            .map(|&(a, n)| Dnf::literal(Lit::new(a, n)))
            .collect();
        let dnf = Dnf::and_all(parts, budget);
        assert_eq!(atoms(&dnf), [[(2, false), (4, false)]]);
    }

    #[test]
    fn too_many_clauses_merge_on_a_shared_literal_or_give_up() {
        let budget = Budget {
            max_clauses: 2,
            max_literals: 4,
        };
        let mut dnf = Dnf::constant(false);
        for atom in 2..6 {
            dnf = dnf.or(
                Dnf::and_all(
                    vec![
                        Dnf::literal(Lit::new(1, false)),
                        Dnf::literal(Lit::new(atom, false)),
                    ],
                    budget,
                ),
                budget,
            );
        }
        assert_eq!(atoms(&dnf), [[(1, false)]]);
        let mut dnf = Dnf::constant(false);
        for atom in 0..3 {
            dnf = dnf.or(Dnf::literal(Lit::new(atom, false)), budget);
        }
        assert!(dnf.is_true());
    }

    #[test]
    fn products_beyond_the_budget_drop_the_widest_part() {
        let budget = Budget {
            max_clauses: 4,
            max_literals: 4,
        };
        let or = |a: u32, b: u32| {
            Dnf::literal(Lit::new(a, false)).or(Dnf::literal(Lit::new(b, false)), budget)
        };
        let dnf = Dnf::and_all(vec![or(1, 2), or(3, 4), or(5, 6)], budget);
        assert_eq!(dnf.clauses.len(), 4);
        assert!(dnf.clauses.iter().all(|c| c.lits.len() == 2));
    }
}
