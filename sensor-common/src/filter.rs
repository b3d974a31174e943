//! The kernel filter compiled from the rules: per syscall, whether its exit may drop the call
//! without writing a record, because no loaded rule could match it.
//!
//! The agent derives, per syscall, a keep predicate in disjunctive normal form over literals
//! the exit program can evaluate from what it has at hand before building a record: the
//! result, the raw arguments, and whether a string argument changed during the call. An
//! entry that is not `active` keeps every call. The `FILTERS` array holds two tables of
//! `SYSCALL_TABLE_LEN` entries; the agent fills the one not in use and then flips
//! `FILTER_TABLE`, so a program never reads an entry being rewritten.

/// Clauses per syscall at most: the analysis widens (soundly) to fit. Each literal is
/// verified on its own by the kernel's verifier, and the exit program has little budget left.
pub const MAX_CLAUSES: usize = 8;
/// Literals per clause at most.
pub const MAX_LITERALS: usize = 4;

/// What a literal tests. `UNUSED` pads a clause (true).
pub mod literal {
    /// Always true: fills the clause's unused slots.
    pub const UNUSED: u8 = 0;
    /// The operand compared, as a signed 64-bit number, with `value`: the literal holds when
    /// the outcome (less, equal, greater) is one of those `accept` names.
    pub const COMPARE: u8 = 1;
    /// The operand has one of the bits of `value` set.
    pub const ANY_BIT: u8 = 2;
}

/// What a literal reads: the call's arguments `0..=5`, its result, or whether a string
/// changed.
pub mod operand {
    /// The signed result (`evt.rawres`).
    pub const RES: u8 = 6;
    /// 1 if a string argument read from the caller's memory differs between the call's enter
    /// and its exit (the agent's `evt.tampered` for the `Checked` and `Open` kinds), else 0.
    pub const CHANGED: u8 = 7;
    /// Operands in all: arguments 0 to 5, `RES`, `CHANGED`.
    pub const COUNT: usize = 8;
}

/// `accept` bits of a `COMPARE` literal: which outcomes of `operand <=> value` make it hold.
pub mod accept {
    pub const GREATER: u8 = 1;
    pub const EQUAL: u8 = 2;
    pub const LESS: u8 = 4;
}

#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct FilterLiteral {
    /// A [`literal`] kind.
    pub kind: u8,
    /// 1: the literal holds when the test does not.
    pub negated: u8,
    /// An argument index or an [`operand`].
    pub operand: u8,
    /// For `COMPARE`: [`accept`] bits.
    pub accept: u8,
    pub _pad: u32,
    pub value: i64,
}

#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FilterClause {
    pub literals: [FilterLiteral; MAX_LITERALS],
}

#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FilterSpec {
    /// 1: the clauses decide; 0: every call is kept.
    pub active: u8,
    /// Clauses in use (the rest are ignored). Active with none: no call is kept.
    pub clauses: u8,
    /// 1 if some literal is `CHANGED` (the exit then may have to hash the strings).
    pub reads_changed: u8,
    pub _pad: [u8; 5],
    pub clause: [FilterClause; MAX_CLAUSES],
}

impl FilterSpec {
    /// Keeps every call.
    pub const KEEP_ALL: Self = Self {
        active: 0,
        clauses: 0,
        reads_changed: 0,
        _pad: [0; 5],
        clause: [FilterClause {
            literals: [FilterLiteral {
                kind: literal::UNUSED,
                negated: 0,
                operand: 0,
                accept: 0,
                _pad: 0,
                value: 0,
            }; MAX_LITERALS],
        }; MAX_CLAUSES],
    };
}

/// Entries of the `FILTERS` array: two tables, each indexed by syscall number.
pub const FILTER_ENTRIES: u32 = 2 * crate::SYSCALL_TABLE_LEN;

#[cfg(feature = "user")]
mod pod {
    // SAFETY: plain repr(C) data; every bit pattern is a valid value.
    unsafe impl aya::Pod for super::FilterSpec {}
}
