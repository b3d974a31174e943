//! Comparison operators and the `oneof`/`anyof`/`allof` modifiers.

use std::fmt;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Operator {
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
    Contains,
    IContains,
    BContains,
    StartsWith,
    BStartsWith,
    EndsWith,
    Glob,
    IGlob,
    Regex,
    In,
    Intersects,
    PMatch,
    Exists,
}

impl Operator {
    pub const ALL: [Operator; 19] = [
        Operator::Eq,
        Operator::Ne,
        Operator::Lt,
        Operator::Le,
        Operator::Gt,
        Operator::Ge,
        Operator::Contains,
        Operator::IContains,
        Operator::BContains,
        Operator::StartsWith,
        Operator::BStartsWith,
        Operator::EndsWith,
        Operator::Glob,
        Operator::IGlob,
        Operator::Regex,
        Operator::In,
        Operator::Intersects,
        Operator::PMatch,
        Operator::Exists,
    ];

    /// Parses an operator token; `==` and `=` are the same operator.
    pub fn parse(token: &str) -> Option<Operator> {
        Some(match token {
            "=" | "==" => Operator::Eq,
            "!=" => Operator::Ne,
            "<" => Operator::Lt,
            "<=" => Operator::Le,
            ">" => Operator::Gt,
            ">=" => Operator::Ge,
            "contains" => Operator::Contains,
            "icontains" => Operator::IContains,
            "bcontains" => Operator::BContains,
            "startswith" => Operator::StartsWith,
            "bstartswith" => Operator::BStartsWith,
            "endswith" => Operator::EndsWith,
            "glob" => Operator::Glob,
            "iglob" => Operator::IGlob,
            "regex" => Operator::Regex,
            "in" => Operator::In,
            "intersects" => Operator::Intersects,
            "pmatch" => Operator::PMatch,
            "exists" => Operator::Exists,
            _ => return None,
        })
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Operator::Eq => "=",
            Operator::Ne => "!=",
            Operator::Lt => "<",
            Operator::Le => "<=",
            Operator::Gt => ">",
            Operator::Ge => ">=",
            Operator::Contains => "contains",
            Operator::IContains => "icontains",
            Operator::BContains => "bcontains",
            Operator::StartsWith => "startswith",
            Operator::BStartsWith => "bstartswith",
            Operator::EndsWith => "endswith",
            Operator::Glob => "glob",
            Operator::IGlob => "iglob",
            Operator::Regex => "regex",
            Operator::In => "in",
            Operator::Intersects => "intersects",
            Operator::PMatch => "pmatch",
            Operator::Exists => "exists",
        }
    }

    /// Operators whose right side is a list.
    pub fn takes_list(self) -> bool {
        matches!(self, Operator::In | Operator::Intersects | Operator::PMatch)
    }

    /// Operators that accept a `oneof`/`anyof`/`allof` modifier (string comparisons).
    pub fn accepts_modifier(self) -> bool {
        matches!(
            self,
            Operator::Eq
                | Operator::Ne
                | Operator::Contains
                | Operator::IContains
                | Operator::BContains
                | Operator::StartsWith
                | Operator::BStartsWith
                | Operator::EndsWith
                | Operator::Glob
                | Operator::IGlob
                | Operator::Regex
        )
    }
}

impl fmt::Display for Operator {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// `op oneof (...)`: exactly one value matches; `anyof`: at least one; `allof`: every value.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Modifier {
    OneOf,
    AnyOf,
    AllOf,
}

impl Modifier {
    pub fn parse(token: &str) -> Option<Modifier> {
        match token {
            "oneof" => Some(Modifier::OneOf),
            "anyof" => Some(Modifier::AnyOf),
            "allof" => Some(Modifier::AllOf),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Modifier::OneOf => "oneof",
            Modifier::AnyOf => "anyof",
            Modifier::AllOf => "allof",
        }
    }
}

impl fmt::Display for Modifier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Parses an exception `comps` entry such as `=`, `in` or `startswith oneof`.
pub fn parse_operator_with_modifier(text: &str) -> Option<(Operator, Option<Modifier>)> {
    let mut words = text.split(' ');
    let operator = Operator::parse(words.next()?)?;
    match words.next() {
        None => Some((operator, None)),
        Some(word) => {
            let modifier = Modifier::parse(word)?;
            if words.next().is_some() || !operator.accepts_modifier() {
                return None;
            }
            Some((operator, Some(modifier)))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_every_operator() {
        for operator in Operator::ALL {
            assert_eq!(Operator::parse(operator.as_str()), Some(operator));
        }
        assert_eq!(Operator::parse("=="), Some(Operator::Eq));
    }

    #[test]
    fn parses_comps_with_modifiers() {
        assert_eq!(
            parse_operator_with_modifier("startswith oneof"),
            Some((Operator::StartsWith, Some(Modifier::OneOf)))
        );
        assert_eq!(parse_operator_with_modifier("in oneof"), None);
        assert_eq!(
            parse_operator_with_modifier("in"),
            Some((Operator::In, None))
        );
    }
}
