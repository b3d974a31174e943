//! Syntax tree of a condition. Every node keeps the span of text it was parsed from.

use super::operator::{Modifier, Operator};

/// Identifies the text a span points into: a rule condition, a macro condition or a clause
/// generated from an exception. The compiler keeps the table that maps ids to texts.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct SourceId(pub u32);

/// A byte range in the text identified by `source`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct Span {
    pub source: SourceId,
    pub start: u32,
    pub end: u32,
}

impl Span {
    pub fn new(source: SourceId, start: usize, end: usize) -> Self {
        Span {
            source,
            start: u32::try_from(start).unwrap_or(u32::MAX),
            end: u32::try_from(end).unwrap_or(u32::MAX),
        }
    }
}

#[derive(Clone, Debug, PartialEq)]
pub enum Expr {
    And(Vec<Expr>, Span),
    Or(Vec<Expr>, Span),
    Not(Box<Expr>, Span),
    /// A bare name: a macro reference.
    Identifier(String, Span),
    /// `field exists`
    Exists(Operand, Span),
    /// `field op value`
    Compare {
        left: Operand,
        operator: Operator,
        modifier: Option<Modifier>,
        right: Value,
        span: Span,
    },
}

impl Expr {
    pub fn span(&self) -> Span {
        match self {
            Expr::And(_, span)
            | Expr::Or(_, span)
            | Expr::Not(_, span)
            | Expr::Identifier(_, span)
            | Expr::Exists(_, span)
            | Expr::Compare { span, .. } => *span,
        }
    }
}

/// A field, optionally with an argument: `proc.aname[2]`, `evt.arg.mode`, `k8s.pod.label[app]`.
#[derive(Clone, Debug, PartialEq)]
pub struct FieldExpr {
    pub name: String,
    pub arg: Option<String>,
    pub span: Span,
}

impl FieldExpr {
    /// The field as written, with its bracketed argument.
    pub fn display_name(&self) -> String {
        match &self.arg {
            Some(arg) => format!("{}[{}]", self.name, arg),
            None => self.name.clone(),
        }
    }
}

/// `tolower(proc.name)`, `val(proc.pname)`, `len(k8s.pod.labels)`, ...
#[derive(Clone, Debug, PartialEq)]
pub struct TransformerExpr {
    pub name: String,
    pub args: Vec<TransformerArg>,
    /// Falco's grammar allows `join(...)[arg]`.
    pub arg: Option<String>,
    pub span: Span,
}

#[derive(Clone, Debug, PartialEq)]
pub enum TransformerArg {
    Operand(Operand),
    Number(String, Span),
    Str(String, Span),
    List(Vec<TransformerArg>, Span),
}

/// The left side of a check, or a field on the right side (field-to-field comparison).
#[derive(Clone, Debug, PartialEq)]
pub enum Operand {
    Field(FieldExpr),
    Transformer(TransformerExpr),
}

impl Operand {
    pub fn span(&self) -> Span {
        match self {
            Operand::Field(field) => field.span,
            Operand::Transformer(transformer) => transformer.span,
        }
    }

    /// Text for messages, e.g. `tolower(proc.name)`.
    pub fn display(&self) -> String {
        match self {
            Operand::Field(field) => field.display_name(),
            Operand::Transformer(transformer) => {
                let args: Vec<String> = transformer
                    .args
                    .iter()
                    .map(|arg| match arg {
                        TransformerArg::Operand(operand) => operand.display(),
                        TransformerArg::Number(n, _) => n.clone(),
                        TransformerArg::Str(s, _) => format!("{s:?}"),
                        TransformerArg::List(items, _) => format!("({} items)", items.len()),
                    })
                    .collect();
                format!("{}({})", transformer.name, args.join(", "))
            }
        }
    }
}

/// One item of a literal list `(a, "b c")`. Only bare items can name another list.
#[derive(Clone, Debug, PartialEq)]
pub struct ListItem {
    /// Unescaped bytes; quoted strings may hold any byte through `\x` escapes.
    pub value: Vec<u8>,
    pub quoted: bool,
    pub span: Span,
}

/// The right side of a check.
#[derive(Clone, Debug, PartialEq)]
pub enum Value {
    /// A single string or number, quoted or bare.
    Scalar {
        text: Vec<u8>,
        quoted: bool,
        span: Span,
    },
    /// `(a, b, c)`
    List(Vec<ListItem>, Span),
    /// A bare name after a list operator: `proc.name in shell_binaries`.
    ListName(String, Span),
    /// `val(field)` or a transformer: compare with another field of the same event.
    Operand(Operand),
}

impl Value {
    pub fn span(&self) -> Span {
        match self {
            Value::Scalar { span, .. } | Value::List(_, span) | Value::ListName(_, span) => *span,
            Value::Operand(operand) => operand.span(),
        }
    }
}
