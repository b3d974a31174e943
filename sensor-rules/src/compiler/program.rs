//! A compiled condition: a tree of precompiled tests over resolved fields. Evaluating it
//! reads each field through [`Event::field`] with an id fixed at load time; no names are
//! looked up and no pattern is compiled per event.

use std::borrow::Cow;

use super::extract::Extractor;
use super::matchers::{same_ip, IpTest, NumTest, StrTest};
use super::value::Val;
use crate::event::{Event, FieldRef, FieldValue};
use crate::fields::{EventTypeId, EventTypeMask};

/// How a check applies to a field that yields several values.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum ListMode {
    /// True if the test holds for any value (ancestor fields, `intersects`).
    Any,
    /// True if the test holds for every value (`in` on label lists).
    All,
    /// The test applies to Falco's rendering of the list, `a,b,c`.
    Joined,
}

/// A test on one value.
#[derive(Clone, Debug)]
pub(crate) enum Test {
    Str(StrTest),
    Num(NumTest),
    Ip(IpTest),
    /// Compare with another field of the same event (`val(...)` or a transformer).
    Field(Box<FieldTest>),
}

#[derive(Clone, Debug)]
pub(crate) struct FieldTest {
    pub operator: crate::condition::Operator,
    pub right: Extractor,
}

#[derive(Clone, Debug)]
pub(crate) struct Check {
    pub left: Extractor,
    pub test: Test,
    pub list_mode: ListMode,
}

/// The common case kept flat: a plain event field tested against string constants.
#[derive(Clone, Debug)]
pub(crate) struct StrFieldCheck {
    pub field: FieldRef,
    pub test: StrTest,
    pub list_mode: ListMode,
}

/// A plain event field tested against numeric constants.
#[derive(Clone, Debug)]
pub(crate) struct NumFieldCheck {
    pub field: FieldRef,
    pub test: NumTest,
}

/// A plain event field of type `ipaddr` or `ipnet` tested against address or network
/// constants.
#[derive(Clone, Debug)]
pub(crate) struct IpFieldCheck {
    pub field: FieldRef,
    pub test: IpTest,
    pub list_mode: ListMode,
}

#[derive(Clone, Debug)]
pub(crate) enum Node {
    All(Box<[Node]>),
    Any(Box<[Node]>),
    Not(Box<Node>),
    Const(bool),
    EventType(Box<EventTypeMask>),
    Exists(Box<Extractor>),
    StrField(Box<StrFieldCheck>),
    NumField(Box<NumFieldCheck>),
    IpField(Box<IpFieldCheck>),
    Check(Box<Check>),
}

impl Node {
    #[inline]
    pub fn eval<E: Event + ?Sized>(&self, event: &E, event_type: Option<EventTypeId>) -> bool {
        match self {
            Node::All(children) => children.iter().all(|c| c.eval(event, event_type)),
            Node::Any(children) => children.iter().any(|c| c.eval(event, event_type)),
            Node::Not(child) => !child.eval(event, event_type),
            Node::Const(value) => *value,
            Node::EventType(mask) => event_type.is_some_and(|id| mask.contains(id)),
            Node::Exists(extractor) => extractor.extract(event).is_some(),
            Node::StrField(check) => match event.field(&check.field) {
                Some(FieldValue::Str(bytes)) => check.test.matches(bytes),
                Some(FieldValue::List(list)) => {
                    list_matches(Val::List(list), check.list_mode, |v| match v {
                        Val::Str(bytes) => check.test.matches(bytes),
                        _ => false,
                    })
                }
                _ => false,
            },
            Node::NumField(check) => match event.field(&check.field) {
                Some(FieldValue::I64(v)) => check.test.matches(i128::from(v)),
                Some(FieldValue::U64(v)) => check.test.matches(i128::from(v)),
                Some(FieldValue::Bool(v)) => check.test.matches(i128::from(v)),
                Some(FieldValue::List(list)) => list_matches(Val::List(list), ListMode::Any, |v| {
                    v.as_number().is_some_and(|n| check.test.matches(n))
                }),
                _ => false,
            },
            Node::IpField(check) => match event.field(&check.field) {
                Some(FieldValue::Ip(address)) => check.test.matches(address),
                Some(FieldValue::List(list)) => {
                    ip_list_matches(&check.test, &Val::List(list), check.list_mode)
                }
                // Missing, or not an address: false, as every comparison on a missing value.
                _ => false,
            },
            Node::Check(check) => check.eval(event),
        }
    }
}

/// Applies `test` to the values of a list without copying them.
fn list_matches(value: Val<'_>, mode: ListMode, test: impl Fn(&Val<'_>) -> bool) -> bool {
    let element = |list: &dyn crate::event::ValueList, index: usize| {
        list.get(index).is_some_and(|item| test(&Val::from(item)))
    };
    match (mode, &value) {
        (ListMode::Joined, _) => test(&Val::Str(Cow::Owned(value.render().into_bytes()))),
        (ListMode::Any, Val::List(list)) => (0..list.len()).any(|i| element(*list, i)),
        (ListMode::All, Val::List(list)) => (0..list.len()).all(|i| element(*list, i)),
        (ListMode::Any, Val::OwnedList(items)) => items.iter().any(test),
        (ListMode::All, Val::OwnedList(items)) => items.iter().all(test),
        (_, scalar) => test(scalar),
    }
}

/// An IP test on several addresses: a list field, or a sensor handing both ends of a
/// connection for `fd.ip`/`fd.net`. `in` on a list field needs every address in the set (as
/// `in` on labels); otherwise `=`/`in` hold if any address matches and `!=` if none does, as
/// Falco's `fd.ip != X` means that neither end is X (not that one end is not). An empty list
/// is no value: false.
fn ip_list_matches(test: &IpTest, value: &Val<'_>, mode: ListMode) -> bool {
    if value.is_empty_list() {
        return false;
    }
    let hit = |v: &Val<'_>| v.as_ip().is_some_and(|address| test.contains(address));
    let element = |list: &dyn crate::event::ValueList, index: usize| {
        list.get(index).is_some_and(|item| hit(&Val::from(item)))
    };
    let hits = match (mode, value) {
        (ListMode::All, Val::List(list)) => (0..list.len()).all(|i| element(*list, i)),
        (ListMode::All, Val::OwnedList(items)) => items.iter().all(hit),
        (_, Val::List(list)) => (0..list.len()).any(|i| element(*list, i)),
        (_, Val::OwnedList(items)) => items.iter().any(hit),
        (_, scalar) => hit(scalar),
    };
    test.decide(hits)
}

impl Check {
    fn eval<E: Event + ?Sized>(&self, event: &E) -> bool {
        let Some(value) = self.left.extract(event) else {
            return false;
        };
        if value.is_list() {
            if let Test::Ip(test) = &self.test {
                return ip_list_matches(test, &value, self.list_mode);
            }
            return list_matches(value, self.list_mode, |v| self.test_value(v, event));
        }
        self.test_value(&value, event)
    }

    fn test_value<E: Event + ?Sized>(&self, value: &Val<'_>, event: &E) -> bool {
        match &self.test {
            Test::Str(test) => value.as_bytes().is_some_and(|bytes| test.matches(bytes)),
            Test::Num(test) => value.as_number().is_some_and(|n| test.matches(n)),
            Test::Ip(test) => value.as_ip().is_some_and(|address| test.matches(address)),
            Test::Field(field_test) => field_test.matches(value, event),
        }
    }
}

impl FieldTest {
    fn matches<E: Event + ?Sized>(&self, left: &Val<'_>, event: &E) -> bool {
        use crate::condition::Operator as Op;
        let Some(right) = self.right.extract(event) else {
            return false;
        };
        let candidates = right.elements();
        if matches!(self.operator, Op::In | Op::Intersects) {
            return candidates
                .iter()
                .any(|candidate| values_equal(left, candidate));
        }
        let Some(right) = candidates.first() else {
            return false;
        };
        if let (Some(l), Some(r)) = (left.as_number(), right.as_number()) {
            return match self.operator {
                Op::Eq => l == r,
                Op::Ne => l != r,
                Op::Lt => l < r,
                Op::Le => l <= r,
                Op::Gt => l > r,
                Op::Ge => l >= r,
                _ => false,
            };
        }
        if let (Some(l), Some(r)) = (left.as_ip(), right.as_ip()) {
            // Only equality applies to addresses (the operator was checked at load time).
            return match self.operator {
                Op::Eq => same_ip(l, r),
                Op::Ne => !same_ip(l, r),
                _ => false,
            };
        }
        let (Some(l), Some(r)) = (left.as_bytes(), right.as_bytes()) else {
            return false;
        };
        match self.operator {
            Op::Eq => l == r,
            Op::Ne => l != r,
            Op::Lt => l < r,
            Op::Le => l <= r,
            Op::Gt => l > r,
            Op::Ge => l >= r,
            Op::Contains | Op::BContains => memchr::memmem::find(l, r).is_some(),
            Op::IContains => {
                memchr::memmem::find(&l.to_ascii_lowercase(), &r.to_ascii_lowercase()).is_some()
            }
            Op::StartsWith | Op::BStartsWith => l.starts_with(r),
            Op::EndsWith => l.ends_with(r),
            Op::Glob => super::matchers::GlobPattern::new(r, false).matches(l),
            Op::IGlob => super::matchers::GlobPattern::new(r, true).matches(l),
            _ => false,
        }
    }
}

fn values_equal(left: &Val<'_>, right: &Val<'_>) -> bool {
    if let (Some(l), Some(r)) = (left.as_number(), right.as_number()) {
        return l == r;
    }
    if let (Some(l), Some(r)) = (left.as_ip(), right.as_ip()) {
        return same_ip(l, r);
    }
    match (left.as_bytes(), right.as_bytes()) {
        (Some(l), Some(r)) => l == r,
        _ => false,
    }
}

/// A rule's compiled condition and the event types it can match.
#[derive(Clone, Debug)]
pub(crate) struct Program {
    root: Node,
    event_types: EventTypeMask,
}

impl Program {
    pub fn new(root: Node, event_types: EventTypeMask) -> Self {
        Program { root, event_types }
    }

    pub fn event_types(&self) -> &EventTypeMask {
        &self.event_types
    }

    /// The condition tree, for analyses over the compiled rules (the kernel filter).
    pub fn root(&self) -> &Node {
        &self.root
    }

    pub fn matches<E: Event + ?Sized>(&self, event: &E) -> bool {
        self.root.eval(event, event.event_type_id())
    }

    #[inline]
    pub fn eval<E: Event + ?Sized>(&self, event: &E, event_type: Option<EventTypeId>) -> bool {
        self.root.eval(event, event_type)
    }
}
