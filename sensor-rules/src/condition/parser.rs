//! Recursive-descent parser of conditions, mirroring libsinsp's `filter/parser.cpp`.
//!
//! Grammar (EBNF, as documented by libsinsp):
//! ```text
//! Expr        ::= OrExpr
//! OrExpr      ::= AndExpr ('or' (' ' AndExpr | '(' Expr ')'))*
//! AndExpr     ::= NotExpr ('and' (' ' NotExpr | '(' Expr ')'))*
//! NotExpr     ::= ('not ')* ('not(' Expr ')' | Check)
//! Check       ::= Field Condition | Transformer Condition | Identifier | '(' Expr ')'
//! Condition   ::= 'exists' | NumOp (Number | Transformer) | StrOp (Str | Transformer)
//!               | StrOp Modifier ListValue | ListOp (ListValue | Transformer)
//! ListValue   ::= '(' (Str (',' Str)*)? ')' | Identifier
//! ```

use super::ast::{Expr, Operand, SourceId, Span, Value};
use super::lexer::Lexer;
use super::operator::{Modifier, Operator};

/// Maximum recursion depth: [`crate::limits::MAX_CONDITION_DEPTH`].
pub const MAX_DEPTH: u32 = crate::limits::MAX_CONDITION_DEPTH;

const UNARY_OPERATORS: &[&str] = &["exists"];
const NUMERIC_OPERATORS: &[&str] = &["<=", "<", ">=", ">"];
// A trailing space means the operator needs a blank after it (libsinsp convention).
const STRING_OPERATORS: &[&str] = &[
    "==",
    "=",
    "!=",
    "glob ",
    "iglob ",
    "contains ",
    "icontains ",
    "bcontains ",
    "startswith ",
    "bstartswith ",
    "endswith ",
    "regex ",
];
const MODIFIERS: &[&str] = &["oneof ", "anyof ", "allof "];
const LIST_OPERATORS: &[&str] = &["intersects", "in", "pmatch"];
pub(super) const TRANSFORMERS: &[&str] = &[
    "tolower(",
    "toupper(",
    "b64(",
    "basename(",
    "len(",
    "join(",
    "concat(",
    "getopt(",
];

const SUPPORTED_OPERATORS: &str = "'exists', '<=', '<', '>=', '>', '==', '=', '!=', 'glob', \
     'iglob', 'contains', 'icontains', 'bcontains', 'startswith', 'bstartswith', 'endswith', \
     'regex', 'intersects', 'in', 'pmatch'";
pub(super) const SUPPORTED_TRANSFORMERS: &str =
    "'val', 'tolower', 'toupper', 'b64', 'basename', 'len', 'join', 'concat', 'getopt'";

/// A syntax error at byte `offset` of the condition text.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct ParseError {
    pub offset: usize,
    pub message: String,
    /// Another place the message refers to (e.g. the `(` that was never closed).
    pub related: Option<usize>,
}

pub(super) type Result<T> = std::result::Result<T, ParseError>;

pub(super) struct Parser<'a> {
    pub(super) lexer: Lexer<'a>,
    pub(super) source: SourceId,
    depth: u32,
}

/// Parses a whole condition.
pub fn parse_condition(text: &str, source: SourceId) -> Result<Expr> {
    if text.is_empty() {
        return Err(ParseError {
            offset: 0,
            message: "filter input string is empty: write a condition such as `evt.type = execve`"
                .to_string(),
            related: None,
        });
    }
    let mut parser = Parser::new(text, source);
    let expr = parser.parse_or()?;
    if !parser.lexer.at_end() {
        return Err(parser.error(format!(
            "unexpected token after '{}', expecting 'or', 'and'",
            parser.lexer.last_token
        )));
    }
    Ok(expr)
}

/// Parses a field or transformer at the start of `text` (as output formats and exception
/// fields need). Returns the operand and the byte length it used.
pub fn parse_operand(text: &str, source: SourceId) -> Result<(Operand, usize)> {
    parse_operand_at(text, 0, source)
}

/// [`parse_operand`] on `text[start..]`, with spans (and the returned end) counted from the
/// start of `text`, so that they point into the whole text.
pub fn parse_operand_at(text: &str, start: usize, source: SourceId) -> Result<(Operand, usize)> {
    let mut parser = Parser::new(text, source);
    parser.lexer.pos = start.min(text.len());
    let start = parser.lexer.pos;
    let operand = if let Some((s, e)) = parser.lexer.field_name() {
        let name = parser.lexer.text(s, e);
        Operand::Field(parser.field_remainder(name, start)?)
    } else if let Some(name) = parser.transformer_type() {
        parser.lexer.blank();
        Operand::Transformer(parser.transformer_remainder(name, start)?)
    } else {
        return Err(parser.error(
            "expected a field name such as `proc.name` or a transformer such as `tolower(proc.name)`",
        ));
    };
    Ok((operand, parser.lexer.pos))
}

/// Parses a whole literal list `(a, "b c")`, as exception values written with list
/// operators need.
pub fn parse_list_literal(text: &str, source: SourceId) -> Result<Value> {
    let mut parser = Parser::new(text, source);
    parser.lexer.blank();
    let value = match parser.try_list_expr()? {
        Some(value) => value,
        None => return Err(parser.error("expected a list such as `(a, b)`")),
    };
    parser.lexer.blank();
    if !parser.lexer.at_end() {
        return Err(parser.error(format!(
            "unexpected text after the list `{}`",
            parser.lexer.last_token
        )));
    }
    Ok(value)
}

impl<'a> Parser<'a> {
    fn new(text: &'a str, source: SourceId) -> Self {
        Parser {
            lexer: Lexer::new(text),
            source,
            depth: 0,
        }
    }

    pub(super) fn error(&self, message: impl Into<String>) -> ParseError {
        ParseError {
            offset: self.lexer.pos,
            message: message.into(),
            related: None,
        }
    }

    pub(super) fn span(&self, start: usize) -> Span {
        Span::new(self.source, start, self.lexer.pos)
    }

    fn enter(&mut self) -> Result<()> {
        self.depth += 1;
        if self.depth >= MAX_DEPTH {
            return Err(self.error(format!(
                "exceeded max depth limit of {MAX_DEPTH}: split the condition into macros"
            )));
        }
        Ok(())
    }

    fn leave(&mut self) {
        self.depth -= 1;
    }

    pub(super) fn guarded<T>(&mut self, f: impl FnOnce(&mut Self) -> Result<T>) -> Result<T> {
        self.enter()?;
        let result = f(self);
        self.leave();
        result
    }

    fn parse_or(&mut self) -> Result<Expr> {
        self.guarded(|p| {
            p.lexer.blank();
            let start = p.lexer.pos;
            let mut children = vec![p.parse_and()?];
            p.lexer.blank();
            while p.lexer.literal("or") {
                let child = if p.lexer.blank() {
                    p.parse_and()?
                } else if p.lexer.literal("(") {
                    let open = p.lexer.pos - 1;
                    p.embedded_remainder(open)?
                } else {
                    return Err(p.error("expected blank or '(' after 'or'"));
                };
                children.push(child);
                p.lexer.blank();
            }
            Ok(if children.len() > 1 {
                Expr::Or(children, p.span(start))
            } else {
                children.remove(0)
            })
        })
    }

    fn parse_and(&mut self) -> Result<Expr> {
        self.guarded(|p| {
            p.lexer.blank();
            let start = p.lexer.pos;
            let mut children = vec![p.parse_not()?];
            p.lexer.blank();
            while p.lexer.literal("and") {
                let child = if p.lexer.blank() {
                    p.parse_not()?
                } else if p.lexer.literal("(") {
                    let open = p.lexer.pos - 1;
                    p.embedded_remainder(open)?
                } else {
                    return Err(p.error("expected blank or '(' after 'and'"));
                };
                children.push(child);
                p.lexer.blank();
            }
            Ok(if children.len() > 1 {
                Expr::And(children, p.span(start))
            } else {
                children.remove(0)
            })
        })
    }

    fn parse_not(&mut self) -> Result<Expr> {
        self.guarded(|p| {
            p.lexer.blank();
            let start = p.lexer.pos;
            let mut negated = false;
            while p.lexer.not_blank() {
                negated = !negated;
            }
            let child = if p.lexer.literal("not(") {
                negated = !negated;
                let open = p.lexer.pos - 1;
                p.embedded_remainder(open)?
            } else {
                p.parse_check()?
            };
            Ok(if negated {
                Expr::Not(Box::new(child), p.span(start))
            } else {
                child
            })
        })
    }

    /// The rest of `( Expr )` after the `(` at `open`.
    fn embedded_remainder(&mut self, open: usize) -> Result<Expr> {
        self.guarded(|p| {
            p.lexer.blank();
            let child = p.parse_or()?;
            p.lexer.blank();
            if !p.lexer.literal(")") {
                let mut error =
                    p.error("expected a ')' token to close the '(' that starts this group");
                error.related = Some(open);
                return Err(error);
            }
            Ok(child)
        })
    }

    fn parse_check(&mut self) -> Result<Expr> {
        self.guarded(|p| {
            p.lexer.blank();
            let start = p.lexer.pos;
            if p.lexer.literal("(") {
                return p.embedded_remainder(start);
            }
            if let Some((s, e)) = p.lexer.field_name() {
                let name = p.lexer.text(s, e);
                let field = p.field_remainder(name, start)?;
                return p.parse_condition(Operand::Field(field), start);
            }
            if let Some(name) = p.transformer_type() {
                p.lexer.blank();
                let transformer = p.transformer_remainder(name, start)?;
                return p.parse_condition(Operand::Transformer(transformer), start);
            }
            if let Some((s, e)) = p.lexer.identifier() {
                return Ok(Expr::Identifier(p.lexer.text(s, e), p.span(start)));
            }
            Err(p.error("expected a '(' token, a field check, or an identifier"))
        })
    }

    fn parse_condition(&mut self, left: Operand, start: usize) -> Result<Expr> {
        self.guarded(|p| {
            p.lexer.blank();
            if p.lexer.operator(UNARY_OPERATORS).is_some() {
                return Ok(Expr::Exists(left, p.span(start)));
            }
            p.lexer.blank();
            let (operator, modifier, right) = if let Some(op) = p.lexer.operator(NUMERIC_OPERATORS)
            {
                (op, None, p.num_value_or_transformer()?)
            } else if let Some(op) = p.lexer.operator(STRING_OPERATORS) {
                // Word operators consumed their blank already; symbols may be followed by one.
                let had_blank = op.as_bytes()[0].is_ascii_alphabetic() || p.lexer.blank();
                let saved = (p.lexer.pos, p.lexer.last_token.clone());
                let modifier = if had_blank {
                    p.lexer
                        .operator(MODIFIERS)
                        .filter(|_| p.list_value_follows() && !p.lexer.bool_keyword_follows())
                } else {
                    None
                };
                match modifier {
                    Some(modifier) => (op, Modifier::parse(modifier), p.list_value()?),
                    None => {
                        p.lexer.pos = saved.0;
                        p.lexer.last_token = saved.1;
                        (op, None, p.str_value_or_transformer(false)?)
                    }
                }
            } else if let Some(op) = p.lexer.operator(LIST_OPERATORS) {
                (op, None, p.list_value_or_transformer()?)
            } else {
                return Err(p.error(format!(
                    "expected a valid check operator: one of {SUPPORTED_OPERATORS}"
                )));
            };
            let operator = Operator::parse(operator).ok_or_else(|| p.error("unknown operator"))?;
            Ok(Expr::Compare {
                left,
                operator,
                modifier,
                right,
                span: p.span(start),
            })
        })
    }
}
