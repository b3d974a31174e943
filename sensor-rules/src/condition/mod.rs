//! The Falco condition language: syntax tree, operators and the parser.
//!
//! The grammar, precedence (`not` > `and` > `or`), tokens and string escapes follow libsinsp's
//! filter parser (`userspace/libsinsp/filter/parser.cpp`), quirks included, so a condition that
//! Falco accepts parses here to the same tree.

mod ast;
mod escape;
mod lexer;
mod operand_parser;
mod operator;
mod parser;

pub use ast::{
    Expr, FieldExpr, ListItem, Operand, SourceId, Span, TransformerArg, TransformerExpr, Value,
};
pub use escape::unescape_quoted;
pub use operator::{parse_operator_with_modifier, Modifier, Operator};
pub use parser::{
    parse_condition, parse_list_literal, parse_operand, parse_operand_at, ParseError, MAX_DEPTH,
};

#[cfg(test)]
mod parser_tests;
