//! What the analysis shows the lowering oracle: one check of a compiled condition on one
//! field, and what the oracle answers about it.

use std::fmt;
use std::hash::{Hash, Hasher};

use crate::compiler::matchers::{IpTest, NumOp, NumTest, StrTest};
use crate::compiler::{ListMode, Node, Source, Test};
use crate::event::{Event, FieldRef, FieldValue};
use crate::fields::EventTypeId;

/// The test an [`Atom`] applies to its field's value.
#[derive(Clone, Copy, Debug)]
pub enum AtomTest<'r> {
    Str(&'r StrTest),
    Num(&'r NumTest),
    Ip(&'r IpTest),
    /// The field has a value (`field exists`).
    Exists,
}

/// How a test applies when the field yields several values (a list field such as
/// `proc.aname` without index, or container labels). For single-valued fields, which is
/// every field a kernel program sees in practice, it does not matter.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ListApplication {
    /// True if the test holds for any of the values.
    AnyValue,
    /// True if the test holds for every value (`in` on a list field).
    EveryValue,
    /// The test applies to the values joined as `a,b,c`.
    Joined,
}

/// One check of a compiled condition: a field as the engine reads it, and a test on its
/// value. Macros are expanded and lists resolved, so a `proc.name in (shell_binaries)`
/// atom carries the list's items.
///
/// Like every check in Falco, an atom is false when the field has no value (whatever the
/// test, `!=` included); only [`AtomTest::Exists`] tells a missing value apart. The field
/// is read as the engine reads it, fallbacks included: `evt.res` is derived from
/// `evt.rawres` when the event does not carry it.
///
/// Two atoms are equal when they are the same check of the same compiled rule (identity,
/// not structure): the analysis only uses equality to merge repeated literals, so
/// identity is sound and cheap; an oracle that wants structural sharing returns equal
/// kernel atoms for equal checks.
#[derive(Clone, Copy)]
pub struct Atom<'r> {
    node: &'r Node,
    field: &'r FieldRef,
    test: AtomTest<'r>,
    list: ListApplication,
}

/// What the oracle says about an atom on one event type. `A` is the kernel's own form of
/// the check; "kernel(A)" below is its value on an event as the kernel program sees it.
///
/// Kernel atoms are compared with `Eq`/`Hash`: returning equal atoms for two checks says
/// they are the same kernel predicate (which lets clauses of different rules share them),
/// so only do it when that is true.
///
/// Exactness is needed only where the analysis negates: an exact atom is usable under
/// `not` and in exceptions, an [`Lowered::Implied`] one only where the check appears
/// positively, an [`Lowered::Implying`] one only under an odd number of `not`s.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Lowered<A> {
    /// kernel(A) ⟺ the check, on every event of the type, including events where the
    /// field is missing (then both are false, except for `exists`).
    Exact(A),
    /// The check ⇒ kernel(A): the kernel may say yes where the engine says no. Typical:
    /// a path compared on a prefix the kernel truncated.
    Implied(A),
    /// kernel(A) ⇒ the check: the kernel may say no where the engine says yes.
    Implying(A),
}

impl<A> Lowered<A> {
    pub fn atom(&self) -> &A {
        match self {
            Lowered::Exact(atom) | Lowered::Implied(atom) | Lowered::Implying(atom) => atom,
        }
    }
}

/// The leaf analysis: an atom for the oracle, a value known from the event type alone, or
/// nothing the kernel could evaluate.
pub(crate) enum Leaf<'r> {
    Atom(Atom<'r>),
    Known(bool),
    Opaque,
}

/// An event that has only a type: for checks whose value depends on nothing else
/// (`evt.type startswith open`, `evt.dir = <`), evaluating on it gives their value for
/// every event of the type.
struct TypeOnly(EventTypeId);

impl Event for TypeOnly {
    fn event_type(&self) -> &str {
        self.0.name()
    }

    fn event_type_id(&self) -> Option<EventTypeId> {
        Some(self.0)
    }

    fn field(&self, _: &FieldRef) -> Option<FieldValue<'_>> {
        None
    }
}

fn list_application(mode: ListMode) -> ListApplication {
    match mode {
        ListMode::Any => ListApplication::AnyValue,
        ListMode::All => ListApplication::EveryValue,
        ListMode::Joined => ListApplication::Joined,
    }
}

fn depends_on_type_only(source: &Source) -> bool {
    matches!(source, Source::EventType | Source::Constant(_))
}

/// Classifies a leaf node (anything but All/Any/Not/Const/EventType) for `event_type`.
pub(crate) fn leaf(node: &Node, event_type: EventTypeId) -> Leaf<'_> {
    let atom = |field, test, list| {
        Leaf::Atom(Atom {
            node,
            field,
            test,
            list,
        })
    };
    let known = || Leaf::Known(node.eval(&TypeOnly(event_type), Some(event_type)));
    match node {
        Node::StrField(check) => atom(
            &check.field,
            AtomTest::Str(&check.test),
            list_application(check.list_mode),
        ),
        Node::NumField(check) => atom(
            &check.field,
            AtomTest::Num(&check.test),
            ListApplication::AnyValue,
        ),
        Node::IpField(check) => atom(
            &check.field,
            AtomTest::Ip(&check.test),
            list_application(check.list_mode),
        ),
        Node::Exists(extractor) if depends_on_type_only(&extractor.source) => known(),
        Node::Exists(extractor) if extractor.transformers.is_empty() => atom(
            &extractor.field,
            AtomTest::Exists,
            ListApplication::AnyValue,
        ),
        Node::Check(check) => {
            let test = match &check.test {
                Test::Str(test) => AtomTest::Str(test),
                Test::Num(test) => AtomTest::Num(test),
                Test::Ip(test) => AtomTest::Ip(test),
                // Compares two fields of the event: not a test on one field.
                Test::Field(_) => return Leaf::Opaque,
            };
            if depends_on_type_only(&check.left.source) {
                known()
            } else if check.left.transformers.is_empty() {
                atom(&check.left.field, test, list_application(check.list_mode))
            } else {
                // `tolower(fd.name)`: the oracle would see the field, not the transformed
                // value; keep it out rather than describe transformers to every oracle.
                Leaf::Opaque
            }
        }
        Node::Const(value) => Leaf::Known(*value),
        Node::EventType(mask) => Leaf::Known(mask.contains(event_type)),
        Node::All(_) | Node::Any(_) | Node::Not(_) | Node::Exists(_) => Leaf::Opaque,
    }
}

impl<'r> Atom<'r> {
    /// The field, with its argument (`evt.arg.mode`, `proc.aname[2]`).
    pub fn field(&self) -> &'r FieldRef {
        self.field
    }

    pub fn test(&self) -> AtomTest<'r> {
        self.test
    }

    pub fn list_application(&self) -> ListApplication {
        self.list
    }

    /// The check on `event`, exactly as the engine evaluates it: the reference an oracle's
    /// kernel atom must agree with (see [`Lowered`]), and a differential test's oracle.
    pub fn matches<E: Event + ?Sized>(&self, event: &E) -> bool {
        self.node.eval(event, event.event_type_id())
    }
}

impl PartialEq for Atom<'_> {
    fn eq(&self, other: &Self) -> bool {
        std::ptr::eq(self.node, other.node)
    }
}

impl Eq for Atom<'_> {}

impl Hash for Atom<'_> {
    fn hash<H: Hasher>(&self, state: &mut H) {
        std::ptr::hash(self.node, state);
    }
}

impl fmt::Debug for Atom<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Atom({self})")
    }
}

/// At most this many constants of a set are shown; explain texts stay readable.
const SHOWN_CONSTANTS: usize = 6;

fn text(bytes: &[u8]) -> String {
    let text = String::from_utf8_lossy(bytes);
    if text.is_empty() || text.contains([' ', ',', '(', ')', '"']) {
        format!("{text:?}")
    } else {
        text.into_owned()
    }
}

fn constants<'a>(f: &mut fmt::Formatter<'_>, items: impl Iterator<Item = &'a [u8]>) -> fmt::Result {
    let mut items: Vec<String> = items.map(text).collect();
    // Large sets come from a hash set: sort so that explain texts are stable.
    items.sort();
    let total = items.len();
    items.truncate(SHOWN_CONSTANTS);
    if total > SHOWN_CONSTANTS {
        items.push(format!("... {} more", total - SHOWN_CONSTANTS));
    }
    write!(f, "({})", items.join(", "))
}

fn num_op(op: NumOp) -> &'static str {
    match op {
        NumOp::Eq => "=",
        NumOp::Ne => "!=",
        NumOp::Lt => "<",
        NumOp::Le => "<=",
        NumOp::Gt => ">",
        NumOp::Ge => ">=",
    }
}

fn str_test(f: &mut fmt::Formatter<'_>, test: &StrTest) -> fmt::Result {
    match test {
        StrTest::Eq(v) => write!(f, "= {}", text(v)),
        StrTest::Ne(v) => write!(f, "!= {}", text(v)),
        StrTest::Lt(v) => write!(f, "< {}", text(v)),
        StrTest::Le(v) => write!(f, "<= {}", text(v)),
        StrTest::Gt(v) => write!(f, "> {}", text(v)),
        StrTest::Ge(v) => write!(f, ">= {}", text(v)),
        StrTest::Contains(finder) => write!(f, "contains {}", text(finder.needle())),
        StrTest::IContains(_) => f.write_str("icontains (pattern)"),
        StrTest::StartsWith(v) => write!(f, "startswith {}", text(v)),
        StrTest::EndsWith(v) => write!(f, "endswith {}", text(v)),
        StrTest::Glob(_) => f.write_str("glob (pattern)"),
        StrTest::Regex(regex) => write!(f, "regex {:?}", regex.as_str()),
        StrTest::In(set) => {
            f.write_str("in ")?;
            constants(f, set.iter())
        }
        StrTest::PMatch(prefixes) => {
            f.write_str("pmatch ")?;
            constants(f, prefixes.paths())
        }
        StrTest::Modified {
            modifier, tests, ..
        } => write!(f, "{} of {} tests", modifier.as_str(), tests.len()),
    }
}

impl fmt::Display for Atom<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} ", self.field)?;
        match self.test {
            AtomTest::Str(test) => str_test(f, test),
            AtomTest::Num(NumTest::Compare(op, value)) => write!(f, "{} {value}", num_op(*op)),
            AtomTest::Num(NumTest::In(values)) => {
                let values: Vec<String> = values.iter().map(i128::to_string).collect();
                write!(f, "in ({})", values.join(", "))
            }
            AtomTest::Ip(test) if test.is_negated() => f.write_str("!= (addresses)"),
            AtomTest::Ip(_) => f.write_str("in (addresses)"),
            AtomTest::Exists => f.write_str("exists"),
        }
    }
}
