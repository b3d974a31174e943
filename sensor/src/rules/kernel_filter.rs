//! The kernel filter derived from the rules in force: for each traced syscall, a predicate
//! its exit program evaluates before building a record (`sensor_common::filter`), which
//! holds on every call some loaded rule could match. The analysis over the rules' conditions
//! is the engine's (`sensor_rules::kernel_filter`); this file is its oracle, saying which
//! checks the kernel can evaluate and how, and turns the result into the kernel's table.
//!
//! A check is lowered only where the field is a function of one thing the exit program
//! holds: the result (`evt.rawres`, `evt.res`, `evt.failed`, an open's `fd.num`), a mode
//! argument's 12 bits (`evt.arg.mode contains S_ISUID`), or whether a string changed during
//! the call (`evt.tampered`). The check is then decided by evaluating it, through the same
//! field table the rules read, on events that differ only in that thing: every mode, every
//! errno and a non-negative result, changed or not. So the kernel form agrees with the
//! engine by construction, not by a second reading of each field's rendering. That the
//! field depends on nothing else is the oracle's claim about the field table; it is held to
//! the table's own answers on events whose other arguments, result and flags differ.
//!
//! The clauses are then folded where two differ in one literal that joins (two mode bits;
//! success or failure, which keeps the type whole), and printed for people in Falco's field
//! names (`sensor rules check --explain`).
//!
//! Not filtered, whatever the rules: the exec family (the process table learns each image
//! from it) and the mount family (a successful mount invalidates the names cache), and
//! 32-bit calls (the kernel side keeps them all).

use std::collections::BTreeMap;

use sensor_common::filter::{
    accept, literal, operand, FilterClause, FilterLiteral, FilterSpec, MAX_CLAUSES, MAX_LITERALS,
};
use sensor_common::syscall::SpecKind;
use sensor_rules::kernel_filter::{Atom, AtomTest, Budget, Lowered, TypeFilter};
use sensor_rules::{EventTypeId, Ruleset};

use super::fields::RuleEvent;
use crate::model::kernel_filter::KernelFilterTable;
use crate::model::syscall_set::SyscallSet;
use crate::model::syscalls::{self, ArgType, Family, SyscallDef};
use crate::model::{Event, EventKind};

/// One kernel test, negation included: what a lowered check becomes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct KernelAtom(FilterLiteral);

impl KernelAtom {
    fn compare(operand: u8, accept: u8, value: i64) -> Self {
        Self(FilterLiteral {
            kind: literal::COMPARE,
            operand,
            accept,
            value,
            ..FilterLiteral::default()
        })
    }

    fn any_bit(operand: u8, mask: i64, negated: bool) -> Self {
        Self(FilterLiteral {
            kind: literal::ANY_BIT,
            negated: u8::from(negated),
            operand,
            value: mask,
            ..FilterLiteral::default()
        })
    }

    const TRUE: Self = Self(FilterLiteral {
        kind: literal::COMPARE,
        negated: 0,
        operand: operand::RES,
        accept: accept::LESS | accept::EQUAL | accept::GREATER,
        _pad: 0,
        value: 0,
    });

    const FALSE: Self = Self(FilterLiteral {
        kind: literal::COMPARE,
        negated: 0,
        operand: operand::RES,
        accept: 0,
        _pad: 0,
        value: 0,
    });

    /// The literal as the kernel evaluates it, negated once more if `negated`.
    fn literal(self, negated: bool) -> FilterLiteral {
        FilterLiteral {
            negated: self.0.negated ^ u8::from(negated),
            ..self.0
        }
    }
}

/// Whether the kernel may drop calls of `def` at all (see the module documentation).
pub fn filterable(def: &SyscallDef) -> bool {
    !matches!(def.family, Family::Exec | Family::Mount) && def.kind != SpecKind::Exec
}

/// What a field of `def`'s events depends on, when it is one thing the exit program holds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Dependency {
    Res,
    Changed,
    /// The 12 mode bits of argument `index`.
    Mode(u8),
}

fn dependency(def: &SyscallDef, atom: &Atom<'_>) -> Option<Dependency> {
    let field = atom.field();
    let name = field.name();
    match name {
        "evt.rawres" | "evt.res" | "evt.failed" => return Some(Dependency::Res),
        // An open's or accept's fd is its result (-1 when it failed).
        "fd.num" if def.args.iter().any(|a| a.ty == ArgType::Res) => return Some(Dependency::Res),
        "evt.tampered" if matches!(def.kind, SpecKind::Checked | SpecKind::Open) => {
            return Some(Dependency::Changed)
        }
        _ => {}
    }
    let arg = if let Some(key) = name
        .strip_prefix("evt.arg.")
        .or_else(|| name.strip_prefix("evt.rawarg."))
    {
        def.arg(key)?
    } else if name.starts_with("evt.arg[") {
        def.args.get(field.index()? as usize)?
    } else {
        return None;
    };
    // An open's mode is read as 0 unless it creates the file (`probe::decode`), while the
    // kernel sees the register: not the same operand.
    let rewritten = matches!(def.kind, SpecKind::Open | SpecKind::Dup);
    (matches!(arg.ty, ArgType::Mode | ArgType::Oct) && !rewritten)
        .then_some(Dependency::Mode(arg.index))
}

/// A synthetic event of `def`: only what the exit program holds is set.
fn event_of(def: &'static SyscallDef, res: i64, changed: bool, args: [u64; 6]) -> Event {
    Event {
        res,
        raw_args: args,
        changed: u8::from(changed),
        ..Event::bare(EventKind::Syscall(def))
    }
}

fn holds(atom: &Atom<'_>, event: &Event) -> bool {
    atom.matches(&RuleEvent::new(event, 1, ""))
}

/// Other values of everything the oracle assumes a field does not depend on: the other
/// arguments, the result, the changed flag, and the bits above a mode's 12.
const OTHER_ARGS: [[u64; 6]; 3] = [
    [3, 0x7fff_0000_1000, 0o600, 1, 0x80000, 7],
    [u64::MAX, 0, u64::MAX, 0, u64::MAX, 0],
    [
        0xffff_ff9c,
        0x5555_5555,
        0o4777,
        0o1_000_000,
        2,
        0xdead_beef,
    ],
];

/// One event to hold a check to: its result, changed flag, and one argument's value.
type Sample = (i64, bool, Option<(u8, u64)>);

/// Whether `atom` reads only what its samples vary (the argument, and the result or the
/// changed flag when `vary_res` / `vary_changed`): its value on each sample is the same
/// whatever else the event holds. The oracle's reading of which operand a field depends on
/// is a claim about the field table; this holds it to the table's own answers, so a field
/// that reads something more is not lowered.
fn depends_only_on(
    def: &'static SyscallDef,
    atom: &Atom<'_>,
    samples: &[Sample],
    vary_res: bool,
    vary_changed: bool,
) -> bool {
    samples.iter().all(|&(res, changed, arg)| {
        let plain = {
            let mut args = [0u64; 6];
            if let Some((index, value)) = arg {
                args[index as usize] = value;
            }
            holds(atom, &event_of(def, res, changed, args))
        };
        OTHER_ARGS.iter().enumerate().all(|(i, other)| {
            let mut args = *other;
            if let Some((index, value)) = arg {
                // Bits above the mode's 12 are the other thing varied here.
                args[index as usize] = value | (other[index as usize] & !0o7777);
            }
            let res = if vary_res { res } else { [0, -1, 5][i] };
            let changed = if vary_changed { changed } else { i % 2 == 0 };
            holds(atom, &event_of(def, res, changed, args)) == plain
        })
    })
}

/// Results standing for every class `evt.res` and `evt.failed` tell apart: each errno and
/// success (every result >= 0 reads `SUCCESS`, not failed). Results below -4095 are not
/// errors, and none of the filterable syscalls returns one.
fn result_samples() -> impl Iterator<Item = i64> {
    -4095..=0
}

fn lower_res(def: &'static SyscallDef, atom: &Atom<'_>) -> Option<Lowered<KernelAtom>> {
    let name = atom.field().name();
    let compare = match atom.test() {
        AtomTest::Num(test) => compare_of(test),
        _ => None,
    };
    match (name, compare) {
        // The literal itself.
        ("evt.rawres", Some((accept, value))) => {
            return Some(Lowered::Exact(KernelAtom::compare(
                operand::RES,
                accept,
                value,
            )))
        }
        ("evt.rawres", None) => return None,
        // `fd.num` is the result, or -1 for every failure: against a bound >= 0 that is the
        // result's own comparison (every failure compares as -1 would); against a negative
        // bound only success or failure matters, which the samples decide.
        ("fd.num", Some((accept, value))) if value >= 0 => {
            return Some(Lowered::Exact(KernelAtom::compare(
                operand::RES,
                accept,
                value,
            )))
        }
        ("fd.num", None) => return None,
        _ => {}
    }
    // Every result >= 0 reads as success: 0 stands for them, if the table agrees.
    let stand_ins: Vec<Sample> = [0, 1, 2, 1000, i64::MAX, -1, -2, -13]
        .iter()
        .map(|&r| (r, false, None))
        .collect();
    if !depends_only_on(def, atom, &stand_ins, true, false) {
        return None;
    }
    let positive_like_zero = [1, 2, 1000, i64::MAX].iter().all(|&r| {
        holds(atom, &event_of(def, r, false, [0; 6]))
            == holds(atom, &event_of(def, 0, false, [0; 6]))
    });
    if !positive_like_zero {
        return None;
    }
    let base = [0u64; 6];
    let (mut success, mut failure) = (Vec::new(), Vec::new());
    for res in result_samples() {
        let t = holds(atom, &event_of(def, res, false, base));
        if res >= 0 {
            success.push(t)
        } else {
            failure.push(t)
        }
    }
    let all = |v: &[bool]| v.iter().all(|t| *t);
    let none = |v: &[bool]| v.iter().all(|t| !*t);
    let atom = match (all(&success), none(&success), all(&failure), none(&failure)) {
        (true, _, true, _) => KernelAtom::TRUE,
        (_, true, _, true) => KernelAtom::FALSE,
        (true, _, _, true) => KernelAtom::compare(operand::RES, accept::GREATER | accept::EQUAL, 0),
        (_, true, true, _) => KernelAtom::compare(operand::RES, accept::LESS, 0),
        // Some errnos and not others: no one literal says it.
        _ => return None,
    };
    Some(Lowered::Exact(atom))
}

/// `op N` of a plain comparison as `accept` bits.
fn compare_of(test: &sensor_rules::compiler::matchers::NumTest) -> Option<(u8, i64)> {
    use sensor_rules::compiler::matchers::{NumOp, NumTest};
    let NumTest::Compare(op, bound) = test else {
        return None;
    };
    let value = i64::try_from(*bound).ok()?;
    let accept = match op {
        NumOp::Eq => accept::EQUAL,
        NumOp::Ne => accept::LESS | accept::GREATER,
        NumOp::Lt => accept::LESS,
        NumOp::Le => accept::LESS | accept::EQUAL,
        NumOp::Gt => accept::GREATER,
        NumOp::Ge => accept::GREATER | accept::EQUAL,
    };
    Some((accept, value))
}

fn lower_changed(def: &'static SyscallDef, atom: &Atom<'_>) -> Option<Lowered<KernelAtom>> {
    if !depends_only_on(def, atom, &[(0, true, None), (0, false, None)], false, true) {
        return None;
    }
    let base = [0u64; 6];
    let when = |changed| holds(atom, &event_of(def, 0, changed, base));
    let changed = KernelAtom::compare(operand::CHANGED, accept::EQUAL, 1);
    Some(Lowered::Exact(match (when(true), when(false)) {
        (true, true) => KernelAtom::TRUE,
        (false, false) => KernelAtom::FALSE,
        (true, false) => changed,
        (false, true) => KernelAtom(changed.literal(true)),
    }))
}

/// A mode argument: the check's value on each of the 4,096 modes decides it. Exact when the
/// modes it holds on are those with one of some bits set (or none of them); otherwise, when
/// it never holds on mode 0, implied by "one of the bits of the modes it holds on".
fn lower_mode(def: &'static SyscallDef, atom: &Atom<'_>, index: u8) -> Option<Lowered<KernelAtom>> {
    let samples: Vec<Sample> = [0, 0o4000, 0o2000, 0o644, 0o4755, 0o7777]
        .iter()
        .map(|&m| (0, false, Some((index, m))))
        .collect();
    if !depends_only_on(def, atom, &samples, false, false) {
        return None;
    }
    let mut args = [0u64; 6];
    let mut holds_on = Vec::with_capacity(4096);
    for mode in 0..0o10000u64 {
        args[index as usize] = mode;
        holds_on.push(holds(atom, &event_of(def, 0, false, args)));
    }
    // The bits whose mode alone makes the check `want`: the candidate mask.
    let single_bits = |want: bool| -> i64 {
        (0..12)
            .map(|bit| 1i64 << bit)
            .filter(|m| holds_on[*m as usize] == want)
            .fold(0, |acc, m| acc | m)
    };
    // Whether "one of `mask`'s bits is set" is exactly where the check is `want`.
    let is_any_bit = |mask: i64, want: bool| {
        (0..0o10000i64).all(|m| (m & mask != 0) == (holds_on[m as usize] == want))
    };
    if holds_on.iter().all(|h| *h) {
        return Some(Lowered::Exact(KernelAtom::TRUE));
    }
    if holds_on.iter().all(|h| !*h) {
        return Some(Lowered::Exact(KernelAtom::FALSE));
    }
    let mask = single_bits(true);
    if is_any_bit(mask, true) {
        return Some(Lowered::Exact(KernelAtom::any_bit(index, mask, false)));
    }
    let mask = single_bits(false);
    if is_any_bit(mask, false) {
        return Some(Lowered::Exact(KernelAtom::any_bit(index, mask, true)));
    }
    if !holds_on[0] {
        // Every mode it holds on has a bit set, so one of the bits of all of them.
        let union = (0..0o10000i64)
            .filter(|m| holds_on[*m as usize])
            .fold(0, |acc, m| acc | m);
        return Some(Lowered::Implied(KernelAtom::any_bit(index, union, false)));
    }
    None
}

/// The oracle: the kernel's form of `atom` on events of `type_id`, if it has one.
fn lower(type_id: EventTypeId, atom: &Atom<'_>) -> Option<Lowered<KernelAtom>> {
    let def = syscalls::by_name(type_id.name())?;
    if !filterable(def) {
        return None;
    }
    match dependency(def, atom)? {
        Dependency::Res => lower_res(def, atom),
        Dependency::Changed => lower_changed(def, atom),
        Dependency::Mode(index) => lower_mode(def, atom, index),
    }
}

/// One clause as the kernel evaluates it, and the rules it stands for.
#[derive(Clone, Debug, PartialEq, Eq)]
struct KernelClause {
    /// Sorted; empty is `true`.
    literals: Vec<FilterLiteral>,
    rules: std::collections::BTreeSet<String>,
}

/// What the kernel does with one traced syscall.
enum Verdict {
    Filtered(Vec<KernelClause>),
    /// No rule is evaluated on it.
    KeepNothing,
    /// Its rules' checks give the kernel nothing to test: these rules.
    KeepAll(Vec<String>),
}

/// The kernel's table for `ruleset`, for the syscalls in `traced`: a filterable syscall no
/// rule is evaluated on keeps nothing, one whose rules give a predicate keeps what it
/// allows, any other keeps everything.
pub fn compile(ruleset: &Ruleset, traced: &SyscallSet) -> KernelFilterTable {
    // First with room to spare, since folding (below) shrinks what Falco's rules give; a
    // type that still does not fit is analysed again within the kernel's own budget, where
    // the analysis widens (soundly) to fit.
    let roomy = ruleset.kernel_filter_within(
        Budget {
            max_clauses: 4 * MAX_CLAUSES,
            max_literals: MAX_LITERALS,
        },
        lower,
    );
    let mut tight = None;
    let mut specs = BTreeMap::new();
    let mut explain = Vec::new();
    for def in traced.defs() {
        let (Some(nr), Some(type_id)) = (def.nr(), EventTypeId::from_name(def.name)) else {
            continue;
        };
        if !filterable(def) {
            explain.push(format!(
                "{}: keep all (never filtered: the process table or the names cache reads it)",
                def.name
            ));
            continue;
        }
        let verdict = match roomy.get(type_id) {
            None if roomy.without_rules().contains(type_id) => Verdict::KeepNothing,
            None => Verdict::KeepAll(Vec::new()),
            Some(TypeFilter::KeepAll { because, .. }) => Verdict::KeepAll(because.clone()),
            Some(TypeFilter::KeepWhen(clauses)) => fold(kernel_clauses(clauses)),
        };
        let verdict = match verdict {
            Verdict::Filtered(c) if c.len() > MAX_CLAUSES => {
                let tight = tight.get_or_insert_with(|| {
                    ruleset.kernel_filter_within(
                        Budget {
                            max_clauses: MAX_CLAUSES,
                            max_literals: MAX_LITERALS,
                        },
                        lower,
                    )
                });
                match tight.get(type_id) {
                    Some(TypeFilter::KeepWhen(clauses)) => fold(kernel_clauses(clauses)),
                    Some(TypeFilter::KeepAll { because, .. }) => Verdict::KeepAll(because.clone()),
                    None => Verdict::KeepAll(Vec::new()),
                }
            }
            other => other,
        };
        let spec = match &verdict {
            Verdict::Filtered(clauses) => spec_of(clauses),
            Verdict::KeepNothing => spec_of(&[]),
            Verdict::KeepAll(_) => None,
        };
        explain.push(describe(def, &verdict, spec.is_some()));
        if let Some(spec) = spec {
            specs.insert(nr, spec);
        }
    }
    explain.insert(
        0,
        format!(
            "{} of {} traced syscalls filtered in the kernel (each at most {MAX_CLAUSES} clauses of {MAX_LITERALS} tests):",
            specs.len(),
            traced.len()
        ),
    );
    KernelFilterTable {
        specs,
        explain: explain.join("\n"),
    }
}

/// The clauses as the kernel's literals (negation folded in), sorted.
fn kernel_clauses(
    clauses: &[sensor_rules::kernel_filter::Clause<KernelAtom>],
) -> Vec<KernelClause> {
    clauses
        .iter()
        .map(|c| {
            let mut literals: Vec<FilterLiteral> = c
                .literals
                .iter()
                .map(|l| l.atom.literal(l.negated))
                .collect();
            literals.sort();
            literals.dedup();
            KernelClause {
                literals,
                rules: c.rules.iter().cloned().collect(),
            }
        })
        .collect()
}

/// `a or b` as one literal, when it is one: two bit tests of an operand are a test of both
/// bits, two comparisons of an operand with one value a comparison accepting either outcome.
fn join(a: &FilterLiteral, b: &FilterLiteral) -> Option<FilterLiteral> {
    if a.operand != b.operand || a.kind != b.kind || a.negated != 0 || b.negated != 0 {
        return None;
    }
    match a.kind {
        literal::ANY_BIT => Some(FilterLiteral {
            value: a.value | b.value,
            ..*a
        }),
        literal::COMPARE if a.value == b.value => Some(FilterLiteral {
            accept: a.accept | b.accept,
            ..*a
        }),
        _ => None,
    }
}

fn always_true(l: &FilterLiteral) -> bool {
    l.kind == literal::COMPARE
        && l.negated == 0
        && l.accept == accept::LESS | accept::EQUAL | accept::GREATER
}

/// Simplifies the clauses without changing what they keep: clauses that differ in one
/// literal whose two forms join into one (`(R and a & m1) or (R and a & m2)` is
/// `R and a & (m1 | m2)`; `res >= 0 or res < 0` is `true`) become one, and a clause implied
/// by another goes. Falco's rules name mode bits one at a time (`S_ISUID or S_ISGID`), which
/// the analysis keeps as a clause each. A clause left empty keeps everything.
fn fold(mut clauses: Vec<KernelClause>) -> Verdict {
    let mut changed = true;
    while changed {
        changed = false;
        'pairs: for i in 0..clauses.len() {
            for j in 0..clauses.len() {
                if i == j {
                    continue;
                }
                let (ci, cj) = (&clauses[i], &clauses[j]);
                // Absorption: every literal of `i` in `j` means `j` implies `i`.
                if ci.literals.iter().all(|l| cj.literals.contains(l)) {
                    let rules = cj.rules.clone();
                    clauses[i].rules.extend(rules);
                    clauses.remove(j);
                    changed = true;
                    break 'pairs;
                }
                if i > j || ci.literals.len() != cj.literals.len() {
                    continue;
                }
                let only_i: Vec<&FilterLiteral> = ci
                    .literals
                    .iter()
                    .filter(|l| !cj.literals.contains(l))
                    .collect();
                let only_j: Vec<&FilterLiteral> = cj
                    .literals
                    .iter()
                    .filter(|l| !ci.literals.contains(l))
                    .collect();
                let ([a], [b]) = (only_i.as_slice(), only_j.as_slice()) else {
                    continue;
                };
                let Some(joined) = join(a, b) else {
                    continue;
                };
                let mut literals: Vec<FilterLiteral> = ci
                    .literals
                    .iter()
                    .filter(|l| l != a)
                    .copied()
                    .chain((!always_true(&joined)).then_some(joined))
                    .collect();
                literals.sort();
                let mut rules = ci.rules.clone();
                rules.extend(cj.rules.iter().cloned());
                clauses[i] = KernelClause { literals, rules };
                clauses.remove(j);
                changed = true;
                break 'pairs;
            }
        }
    }
    if let Some(empty) = clauses.iter().find(|c| c.literals.is_empty()) {
        return Verdict::KeepAll(empty.rules.iter().cloned().collect());
    }
    Verdict::Filtered(clauses)
}

/// A literal as a reader of the rules would write it: the argument by its Falco name.
fn describe_literal(def: &SyscallDef, l: &FilterLiteral) -> String {
    let operand = match l.operand {
        operand::RES => "evt.rawres".to_string(),
        operand::CHANGED => "evt.tampered".to_string(),
        index => def
            .args
            .iter()
            .find(|a| a.index == index && !matches!(a.ty, ArgType::Res | ArgType::Opened(_)))
            .map_or_else(|| format!("arg{index}"), |a| format!("evt.arg.{}", a.name)),
    };
    let not = if l.negated != 0 { "not " } else { "" };
    if l.kind == literal::ANY_BIT {
        return format!("{not}{operand} & {:#o}", l.value);
    }
    if l.operand == operand::CHANGED && l.accept == accept::EQUAL && l.value == 1 {
        return format!("{not}{operand}");
    }
    let op = match l.accept {
        0 => return format!("{not}false"),
        accept::LESS => "<",
        accept::EQUAL => "=",
        accept::GREATER => ">",
        a if a == accept::LESS | accept::EQUAL => "<=",
        a if a == accept::GREATER | accept::EQUAL => ">=",
        a if a == accept::LESS | accept::GREATER => "!=",
        _ => return format!("{not}true"),
    };
    format!("{not}{operand} {op} {}", l.value)
}

fn describe(def: &SyscallDef, verdict: &Verdict, installed: bool) -> String {
    match verdict {
        Verdict::KeepNothing => format!("{}: keep nothing (no rule is evaluated on it)", def.name),
        Verdict::KeepAll(rules) if rules.is_empty() => format!("{}: keep all", def.name),
        Verdict::KeepAll(rules) => format!(
            "{}: keep all: no kernel test from {}",
            def.name,
            rules.join(", ")
        ),
        Verdict::Filtered(_) if !installed => format!(
            "{}: keep all (its rules' tests do not fit the kernel's table)",
            def.name
        ),
        Verdict::Filtered(clauses) => {
            let mut out = format!("{}: keep when", def.name);
            for c in clauses {
                let tests: Vec<String> = c
                    .literals
                    .iter()
                    .map(|l| describe_literal(def, l))
                    .collect();
                let rules: Vec<&str> = c.rules.iter().map(String::as_str).collect();
                out.push_str(&format!(
                    "\n    {}  <- {}",
                    tests.join(" and "),
                    rules.join(", ")
                ));
            }
            out
        }
    }
}

/// The kernel's spec for `clauses`; `None` if they do not fit it.
fn spec_of(clauses: &[KernelClause]) -> Option<FilterSpec> {
    if clauses.len() > MAX_CLAUSES || clauses.iter().any(|c| c.literals.len() > MAX_LITERALS) {
        return None;
    }
    let mut spec = FilterSpec::KEEP_ALL;
    spec.active = 1;
    spec.clauses = clauses.len() as u8;
    for (slot, clause) in spec.clause.iter_mut().zip(clauses) {
        *slot = FilterClause {
            literals: [FilterLiteral::default(); MAX_LITERALS],
        };
        for (l, lit) in slot.literals.iter_mut().zip(&clause.literals) {
            *l = *lit;
            if l.operand == operand::CHANGED {
                spec.reads_changed = 1;
            }
        }
    }
    Some(spec)
}

/// The kernel's evaluation of `spec` (`sensor-ebpf/src/filter.rs`), on a call's arguments,
/// result and whether a string changed: the model the tests hold the compiled tables to.
pub fn spec_keeps(spec: &FilterSpec, args: &[u64; 6], res: i64, changed: bool) -> bool {
    if spec.active == 0 {
        return true;
    }
    let mut values = [0i64; operand::COUNT];
    for (v, a) in values.iter_mut().zip(args) {
        *v = *a as i64;
    }
    values[operand::RES as usize] = res;
    values[operand::CHANGED as usize] = i64::from(changed && spec.reads_changed != 0);
    spec.clause[..spec.clauses as usize].iter().any(|clause| {
        clause.literals.iter().all(|l| {
            if l.kind == literal::UNUSED {
                return true;
            }
            let v = values[(l.operand as usize) & (operand::COUNT - 1)];
            let test = if l.kind == literal::ANY_BIT {
                v & l.value != 0
            } else {
                let outcome = match v.cmp(&l.value) {
                    std::cmp::Ordering::Less => accept::LESS,
                    std::cmp::Ordering::Equal => accept::EQUAL,
                    std::cmp::Ordering::Greater => accept::GREATER,
                };
                l.accept & outcome != 0
            };
            test != (l.negated != 0)
        })
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rules::RuleFiles;
    use sensor_rules::{MatchMode, RuleSource, RulesetBuilder};

    fn ruleset(conditions: &[&str]) -> Ruleset {
        let mut text = String::new();
        for (i, condition) in conditions.iter().enumerate() {
            text.push_str(&format!(
                "- rule: r{i}\n  desc: d\n  condition: {condition}\n  output: o\n  priority: WARNING\n"
            ));
        }
        let compiled = RulesetBuilder::new()
            .registry(crate::rules::fields::registry())
            .captured_event_types(crate::model::syscalls::SYSCALLS.iter().map(|s| s.name))
            .source(RuleSource::new("r.yaml", text))
            .build();
        assert!(!compiled.report.has_errors(), "{}", compiled.report);
        compiled.ruleset
    }

    fn spec_for(rules: &Ruleset, syscall: &str) -> Option<FilterSpec> {
        let def = syscalls::by_name(syscall).expect("known syscall");
        compile(rules, &SyscallSet::named([def.name]))
            .specs
            .get(&def.nr().expect("a number here"))
            .copied()
    }

    fn literals(spec: &FilterSpec) -> Vec<Vec<FilterLiteral>> {
        spec.clause[..spec.clauses as usize]
            .iter()
            .map(|c| {
                c.literals
                    .iter()
                    .filter(|l| l.kind != literal::UNUSED)
                    .copied()
                    .collect()
            })
            .collect()
    }

    #[test]
    fn a_mode_bit_check_becomes_one_bit_test_and_its_negation_the_negated_test() {
        let rules = ruleset(&["evt.type = fchmodat and evt.arg.mode contains S_ISUID"]);
        let spec = spec_for(&rules, "fchmodat").expect("filtered");
        assert_eq!(
            literals(&spec),
            vec![vec![KernelAtom::any_bit(2, 0o4000, false).literal(false)]]
        );
        let rules = ruleset(&["evt.type = fchmodat and not evt.arg.mode contains S_ISUID"]);
        let spec = spec_for(&rules, "fchmodat").expect("filtered");
        assert_eq!(
            literals(&spec),
            vec![vec![KernelAtom::any_bit(2, 0o4000, false).literal(true)]]
        );
    }

    #[test]
    fn bit_tests_of_one_operand_in_otherwise_equal_clauses_fold_into_one() {
        let rules = ruleset(&[
            "evt.type = fchmodat and evt.res = SUCCESS and (evt.arg.mode contains S_ISUID or evt.arg.mode contains S_ISGID)",
            "evt.type = fchmodat and evt.res = SUCCESS and evt.arg.mode contains S_IXOTH",
        ]);
        let spec = spec_for(&rules, "fchmodat").expect("filtered");
        let clauses = literals(&spec);
        assert_eq!(clauses.len(), 1, "{clauses:?}");
        assert!(
            clauses[0].contains(&KernelAtom::any_bit(2, 0o6001, false).literal(false)),
            "{clauses:?}"
        );
        assert!(spec_keeps(&spec, &[0, 0, 0o2000, 0, 0, 0], 0, false));
        assert!(!spec_keeps(&spec, &[0, 0, 0o2000, 0, 0, 0], -1, false));
        assert!(!spec_keeps(&spec, &[0, 0, 0o644, 0, 0, 0], 0, false));
    }

    #[test]
    fn a_mode_check_no_bit_test_says_exactly_is_implied_by_its_bits() {
        // Holds on mode 04000 alone (the rendering `S_ISUID`): no bit test is exact, but
        // "the setuid bit" holds wherever it does.
        let rules = ruleset(&["evt.type = fchmodat and evt.arg.mode = S_ISUID"]);
        let spec = spec_for(&rules, "fchmodat").expect("filtered");
        assert_eq!(
            literals(&spec),
            vec![vec![KernelAtom::any_bit(2, 0o4000, false).literal(false)]]
        );
        assert!(spec_keeps(&spec, &[0, 0, 0o4755, 0, 0, 0], 0, false));
    }

    #[test]
    fn result_checks_become_result_comparisons_and_an_errno_keeps_everything() {
        let rules = ruleset(&["evt.type = fchmodat and evt.res = SUCCESS"]);
        let spec = spec_for(&rules, "fchmodat").expect("filtered");
        assert!(spec_keeps(&spec, &[0; 6], 0, false));
        assert!(spec_keeps(&spec, &[0; 6], 3, false));
        assert!(!spec_keeps(&spec, &[0; 6], -2, false));
        let rules = ruleset(&["evt.type = fchmodat and evt.failed = true"]);
        let spec = spec_for(&rules, "fchmodat").expect("filtered");
        assert!(spec_keeps(&spec, &[0; 6], -13, false));
        assert!(!spec_keeps(&spec, &[0; 6], 0, false));
        // One errno and not the others: no literal says it, so the type is not filtered.
        let rules = ruleset(&["evt.type = fchmodat and evt.res = ENOENT"]);
        assert_eq!(spec_for(&rules, "fchmodat"), None);
    }

    #[test]
    fn a_tampered_check_reads_whether_the_strings_changed() {
        let rules = ruleset(&["evt.type = fchmodat and evt.tampered = true"]);
        let spec = spec_for(&rules, "fchmodat").expect("filtered");
        assert_eq!(spec.reads_changed, 1);
        assert!(spec_keeps(&spec, &[0; 6], 0, true));
        assert!(!spec_keeps(&spec, &[0; 6], 0, false));
    }

    #[test]
    fn a_type_no_rule_reads_keeps_nothing_and_the_exec_and_mount_families_everything() {
        let rules = ruleset(&["evt.type = fchmodat and evt.arg.mode contains S_ISUID"]);
        let traced = SyscallSet::named(["fchmodat", "chmod", "execve", "mount"]);
        let table = compile(&rules, &traced);
        let nr = |name: &str| syscalls::by_name(name).and_then(|d| d.nr()).expect("nr");
        let chmod = table.specs.get(&nr("chmod")).expect("chmod filtered");
        assert!(!spec_keeps(chmod, &[0, 0o4755, 0, 0, 0, 0], 0, true));
        assert!(!table.specs.contains_key(&nr("execve")));
        assert!(!table.specs.contains_key(&nr("mount")));
    }

    #[test]
    fn an_opens_mode_is_not_lowered_since_the_agent_reads_it_as_zero_unless_creating() {
        let rules = ruleset(&["evt.type = openat and not evt.arg.mode contains S_IWOTH"]);
        assert_eq!(spec_for(&rules, "openat"), None);
    }

    #[test]
    fn success_or_failure_folds_to_keeping_everything() {
        let rules = ruleset(&[
            "evt.type = fchmodat and evt.res = SUCCESS",
            "evt.type = fchmodat and evt.failed = true",
        ]);
        assert_eq!(spec_for(&rules, "fchmodat"), None);
    }

    #[test]
    fn a_proc_name_check_keeps_everything() {
        let rules = ruleset(&["evt.type = fchmodat and proc.name = chmod"]);
        assert_eq!(spec_for(&rules, "fchmodat"), None);
    }

    /// A small deterministic generator (xorshift64*), so a failure replays.
    struct Rng(u64);
    impl Rng {
        fn next(&mut self) -> u64 {
            self.0 ^= self.0 >> 12;
            self.0 ^= self.0 << 25;
            self.0 ^= self.0 >> 27;
            self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
        }
    }

    /// Soundness on Falco's stable, incubating and sandbox rules with the defaults: on random
    /// calls of every filterable syscall, whenever a rule matches, the compiled table keeps
    /// the call.
    #[test]
    fn no_call_a_rule_matches_is_filtered_out() {
        let dir = std::env::temp_dir().join(format!("sensor-kf-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("temp dir");
        let defaults = dir.join("defaults.yaml");
        let (_, text) = crate::rules::sources::DEFAULT_RULES[0];
        std::fs::write(&defaults, text).expect("defaults written");
        let mut paths: Vec<std::path::PathBuf> =
            ["falco-stable", "falco-incubating", "falco-sandbox"]
                .iter()
                .map(std::path::PathBuf::from)
                .collect();
        paths.push(defaults);
        let files = RuleFiles::new(paths);
        let (rules, _) = files.load().expect("rules load");
        let _ = std::fs::remove_dir_all(&dir);
        let traced = SyscallSet::all();
        let table = compile(&rules, &traced);
        assert!(!table.specs.is_empty(), "{}", table.explain);
        let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
        let mut kept = 0;
        let mut dropped = 0;
        for def in traced.defs().filter(|d| filterable(d)) {
            let Some(nr) = def.nr() else { continue };
            let Some(spec) = table.specs.get(&nr) else {
                continue;
            };
            for _ in 0..2000 {
                let mut args = [0u64; 6];
                for a in &mut args {
                    *a = match rng.next() % 3 {
                        0 => rng.next() % 0o10000,
                        1 => rng.next() % 64,
                        _ => rng.next(),
                    };
                }
                let res = match rng.next() % 3 {
                    0 => 0,
                    1 => (rng.next() % 100) as i64,
                    _ => -((rng.next() % 4095) as i64 + 1),
                };
                let changed = rng.next().is_multiple_of(4);
                let event = event_of(def, res, changed, args);
                let matched = rules.evaluate(&RuleEvent::new(&event, 1, ""), MatchMode::First);
                let keeps = spec_keeps(spec, &args, res, changed);
                if !matched.is_empty() {
                    assert!(
                        keeps,
                        "{} args {args:?} res {res} changed {changed}: matched `{}` but filtered\n{}",
                        def.name,
                        matched[0].name(),
                        table.explain
                    );
                }
                if keeps {
                    kept += 1;
                } else {
                    dropped += 1;
                }
            }
        }
        // The property means something only if the filter drops calls.
        assert!(dropped > 0 && kept > 0, "kept {kept}, dropped {dropped}");
    }
}
