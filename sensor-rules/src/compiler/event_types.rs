//! The event types a condition can match, derived as libsinsp's `ppm_event_codes` does:
//! `and` intersects, `or` unites, negations are pushed to the leaves (De Morgan), checks on
//! `evt.type` with `=`, `!=`, `in` give explicit sets, checks on other fields match every
//! type, and `evt.num` checks that can never (or always) hold are resolved statically (the
//! `never_true` macro idiom).

use crate::condition::{Expr, Operand, Operator, Value};
use crate::fields::{EventTypeId, EventTypeMask};

fn is_event_type_field(operand: &Operand) -> bool {
    matches!(operand, Operand::Field(field) if (field.name == "evt.type" || field.name == "syscall.type") && field.arg.is_none())
}

/// Values of a constant right side, if it is one.
fn constants(value: &Value) -> Option<Vec<&[u8]>> {
    match value {
        Value::Scalar { text, .. } => Some(vec![text.as_slice()]),
        Value::List(items, _) => Some(items.iter().map(|item| item.value.as_slice()).collect()),
        Value::ListName(name, _) => Some(vec![name.as_bytes()]),
        Value::Operand(_) => None,
    }
}

fn names_to_mask(values: &[&[u8]]) -> EventTypeMask {
    values
        .iter()
        .filter_map(|value| std::str::from_utf8(value).ok())
        .filter_map(EventTypeId::from_name)
        .collect()
}

pub(crate) enum Invariant {
    Empty,
    All,
}

/// `evt.num` starts at 1: `evt.num = 0` never holds, `evt.num >= 0` always does. (Also used to
/// fold such checks, Falco's `never_true` macro idiom, out of compiled programs.)
pub(crate) fn evt_num_invariant(
    left: &Operand,
    operator: Operator,
    right: &Value,
) -> Option<Invariant> {
    let Operand::Field(field) = left else {
        return None;
    };
    if field.name != "evt.num" || field.arg.is_some() {
        return None;
    }
    let parse = |bytes: &[u8]| std::str::from_utf8(bytes).ok()?.parse::<u64>().ok();
    if operator == Operator::In {
        let Value::List(items, _) = right else {
            return None;
        };
        return items
            .iter()
            .all(|item| parse(&item.value) == Some(0))
            .then_some(Invariant::Empty);
    }
    let Value::Scalar { text, .. } = right else {
        return None;
    };
    let n = parse(text)?;
    match operator {
        Operator::Eq if n == 0 => Some(Invariant::Empty),
        Operator::Ne if n == 0 => Some(Invariant::All),
        Operator::Lt if n <= 1 => Some(Invariant::Empty),
        Operator::Le if n == 0 => Some(Invariant::Empty),
        Operator::Gt if n == 0 => Some(Invariant::All),
        Operator::Ge if n <= 1 => Some(Invariant::All),
        _ => None,
    }
}

/// The event types `expr` can match (an expanded condition: no macro names left).
pub(crate) fn event_types(expr: &Expr) -> EventTypeMask {
    codes(expr, false)
}

fn codes(expr: &Expr, negated: bool) -> EventTypeMask {
    let invert = |mask: EventTypeMask| if negated { mask.complement() } else { mask };
    match expr {
        Expr::And(children, _) | Expr::Or(children, _) => {
            let intersect = matches!(expr, Expr::And(..)) != negated;
            let mut sets = children.iter().map(|child| codes(child, negated));
            let first = sets.next().unwrap_or_else(EventTypeMask::full);
            sets.fold(first, |acc, set| {
                if intersect {
                    acc.intersection(&set)
                } else {
                    acc.union(&set)
                }
            })
        }
        Expr::Not(child, _) => codes(child, !negated),
        Expr::Exists(operand, _) if is_event_type_field(operand) => invert(EventTypeMask::full()),
        Expr::Compare {
            left,
            operator,
            modifier: None,
            right,
            ..
        } => {
            if let Some(invariant) = evt_num_invariant(left, *operator, right) {
                return invert(match invariant {
                    Invariant::Empty => EventTypeMask::default(),
                    Invariant::All => EventTypeMask::full(),
                });
            }
            let explicit = is_event_type_field(left)
                && matches!(operator, Operator::Eq | Operator::Ne | Operator::In);
            match constants(right).filter(|_| explicit) {
                Some(values) => {
                    let set = names_to_mask(&values);
                    let set = if *operator == Operator::Ne {
                        set.complement()
                    } else {
                        set
                    };
                    invert(set)
                }
                // Checks on other fields say nothing about event types, negated or not.
                None => EventTypeMask::full(),
            }
        }
        _ => EventTypeMask::full(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::condition::{parse_condition, SourceId};

    fn types(condition: &str) -> EventTypeMask {
        let expr = parse_condition(condition, SourceId(0)).expect("parses");
        event_types(&expr)
    }

    fn names(mask: &EventTypeMask) -> Vec<&'static str> {
        mask.iter().map(EventTypeId::name).collect()
    }

    #[test]
    fn explicit_sets() {
        assert_eq!(
            names(&types("evt.type in (execve, execveat) and proc.name = x")),
            ["execve", "execveat"]
        );
        assert_eq!(
            names(&types("evt.type = chmod or evt.type = fchmod")),
            ["chmod", "fchmod"]
        );
        assert!(types("proc.name = x").is_full());
    }

    #[test]
    fn negations() {
        let mask = types("not evt.type = execve");
        assert_eq!(mask.len(), EventTypeMask::full().len() - 1);
        assert!(types("not proc.name = x").is_full());
        assert_eq!(names(&types("not (not evt.type = execve)")), ["execve"]);
        assert_eq!(
            names(&types("evt.type != execve and evt.type in (execve, chmod)")),
            ["chmod"]
        );
        assert!(types("not evt.type exists").is_empty());
    }

    #[test]
    fn evt_num_invariants() {
        assert!(types("evt.type = execve and evt.num = 0").is_empty());
        assert_eq!(
            names(&types("evt.type = execve and not evt.num = 0")),
            ["execve"]
        );
        assert_eq!(
            names(&types("evt.type = execve and evt.num >= 0")),
            ["execve"]
        );
    }
}
