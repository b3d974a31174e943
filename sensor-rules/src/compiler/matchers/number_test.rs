//! Comparisons of numbers (and booleans) with constants. Values are widened to i128 so
//! signed and unsigned fields compare without surprises.

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NumOp {
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
}

#[derive(Clone, Debug)]
pub enum NumTest {
    Compare(NumOp, i128),
    In(Box<[i128]>),
}

impl NumTest {
    #[inline]
    pub fn matches(&self, value: i128) -> bool {
        match self {
            NumTest::Compare(op, bound) => match op {
                NumOp::Eq => value == *bound,
                NumOp::Ne => value != *bound,
                NumOp::Lt => value < *bound,
                NumOp::Le => value <= *bound,
                NumOp::Gt => value > *bound,
                NumOp::Ge => value >= *bound,
            },
            NumTest::In(values) => values.contains(&value),
        }
    }
}

/// Parses a numeric constant as libsinsp does for integer fields: decimal (optionally
/// signed) or `0x` hexadecimal.
pub fn parse_integer(text: &str) -> Option<i128> {
    let trimmed = text.trim();
    let (negative, digits) = match trimmed.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, trimmed.strip_prefix('+').unwrap_or(trimmed)),
    };
    let magnitude = match digits
        .strip_prefix("0x")
        .or_else(|| digits.strip_prefix("0X"))
    {
        Some(hex) => u64::from_str_radix(hex, 16).ok()?,
        None => digits.parse::<u64>().ok()?,
    };
    let value = i128::from(magnitude);
    Some(if negative { -value } else { value })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_integers() {
        assert_eq!(parse_integer("42"), Some(42));
        assert_eq!(parse_integer("-1"), Some(-1));
        assert_eq!(parse_integer("0x10"), Some(16));
        assert_eq!(parse_integer("1.5"), None);
        assert_eq!(parse_integer("abc"), None);
    }

    #[test]
    fn compares() {
        assert!(NumTest::Compare(NumOp::Ge, 0).matches(0));
        assert!(!NumTest::Compare(NumOp::Lt, 0).matches(0));
        assert!(NumTest::In(vec![1, 2].into()).matches(2));
    }
}
