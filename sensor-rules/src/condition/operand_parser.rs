//! The value and operand side of the parser: right-hand values (numbers, strings, lists,
//! list names), field arguments and transformers. Split from `parser.rs`, same grammar.

use super::ast::{FieldExpr, ListItem, Operand, Span, TransformerArg, TransformerExpr, Value};
use super::escape::unescape_quoted;
use super::parser::{ParseError, Parser, Result, SUPPORTED_TRANSFORMERS, TRANSFORMERS};

impl Parser<'_> {
    pub(super) fn transformer_type(&mut self) -> Option<String> {
        for transformer in TRANSFORMERS {
            if self.lexer.literal(transformer) {
                return Some(transformer.trim_end_matches('(').to_string());
            }
        }
        None
    }

    pub(super) fn field_remainder(&mut self, name: String, start: usize) -> Result<FieldExpr> {
        self.guarded(|p| {
            let arg = p.optional_field_arg()?;
            Ok(FieldExpr {
                name,
                arg,
                span: p.span(start),
            })
        })
    }

    pub(super) fn optional_field_arg(&mut self) -> Result<Option<String>> {
        if !self.lexer.literal("[") {
            return Ok(None);
        }
        let arg = if let Some((s, e)) = self.lexer.quoted() {
            let raw = &self.lexer.input[s..e];
            let bytes = unescape_quoted(raw).map_err(|message| ParseError {
                offset: s,
                message,
                related: None,
            })?;
            String::from_utf8_lossy(&bytes).into_owned()
        } else if let Some((s, e)) = self.lexer.field_arg_bare() {
            self.lexer.text(s, e)
        } else {
            return Err(self.error(
                "expected a valid field argument: a quoted string or a bare string, as in `proc.aname[2]`",
            ));
        };
        if !self.lexer.literal("]") {
            return Err(self.error("expected a ']' token to close the field argument"));
        }
        Ok(Some(arg))
    }

    pub(super) fn transformer_remainder(
        &mut self,
        name: String,
        start: usize,
    ) -> Result<TransformerExpr> {
        self.guarded(|p| {
            p.lexer.blank();
            let mut args = Vec::new();
            loop {
                let arg_start = p.lexer.pos;
                args.push(p.transformer_arg(arg_start)?);
                p.lexer.blank();
                if !p.lexer.literal(",") {
                    break;
                }
            }
            p.lexer.blank();
            if !p.lexer.literal(")") {
                return Err(p.error(format!(
                    "expected a ')' token closing the transformer '{name}'"
                )));
            }
            let arg = p.optional_field_arg()?;
            Ok(TransformerExpr {
                name,
                args,
                arg,
                span: p.span(start),
            })
        })
    }

    pub(super) fn transformer_arg(&mut self, _start: usize) -> Result<TransformerArg> {
        self.guarded(|p| {
            p.lexer.blank();
            let start = p.lexer.pos;
            if let Some((s, e)) = p.lexer.hex_number().or_else(|| p.lexer.number()) {
                return Ok(TransformerArg::Number(p.lexer.text(s, e), p.span(start)));
            }
            if let Some((s, e)) = p.lexer.quoted() {
                let bytes = unescape_quoted(&p.lexer.input[s..e]).map_err(|message| ParseError {
                    offset: s,
                    message,
                    related: None,
                })?;
                return Ok(TransformerArg::Str(
                    String::from_utf8_lossy(&bytes).into_owned(),
                    p.span(start),
                ));
            }
            if p.lexer.literal("(") {
                return p.transformer_list(start);
            }
            if let Some(name) = p.transformer_type() {
                let transformer = p.transformer_remainder(name, start)?;
                return Ok(TransformerArg::Operand(Operand::Transformer(transformer)));
            }
            if let Some((s, e)) = p.lexer.field_name() {
                let name = p.lexer.text(s, e);
                let field = p.field_remainder(name, start)?;
                return Ok(TransformerArg::Operand(Operand::Field(field)));
            }
            Err(p.error(
                "expected field transformer argument: field, transformer, quoted string, number, or transformer list",
            ))
        })
    }

    pub(super) fn transformer_list(&mut self, start: usize) -> Result<TransformerArg> {
        self.guarded(|p| {
            let mut items = Vec::new();
            p.lexer.blank();
            if p.lexer.literal(")") {
                return Ok(TransformerArg::List(items, p.span(start)));
            }
            items.push(p.transformer_list_arg()?);
            p.lexer.blank();
            while p.lexer.literal(",") {
                p.lexer.blank();
                items.push(p.transformer_list_arg()?);
                p.lexer.blank();
            }
            if !p.lexer.literal(")") {
                return Err(p.error("expected ')' to close the transformer list"));
            }
            Ok(TransformerArg::List(items, p.span(start)))
        })
    }

    pub(super) fn transformer_list_arg(&mut self) -> Result<TransformerArg> {
        let start = self.lexer.pos;
        if let Some((s, e)) = self.lexer.field_name() {
            let name = self.lexer.text(s, e);
            let field = self.field_remainder(name, start)?;
            return Ok(TransformerArg::Operand(Operand::Field(field)));
        }
        if let Some(name) = self.transformer_type() {
            self.lexer.blank();
            let transformer = self.transformer_remainder(name, start)?;
            return Ok(TransformerArg::Operand(Operand::Transformer(transformer)));
        }
        if let Some((s, e)) = self.lexer.quoted() {
            let bytes = unescape_quoted(&self.lexer.input[s..e]).map_err(|message| ParseError {
                offset: s,
                message,
                related: None,
            })?;
            return Ok(TransformerArg::Str(
                String::from_utf8_lossy(&bytes).into_owned(),
                self.span(start),
            ));
        }
        if let Some((s, e)) = self.lexer.hex_number().or_else(|| self.lexer.number()) {
            return Ok(TransformerArg::Number(
                self.lexer.text(s, e),
                self.span(start),
            ));
        }
        Err(self.error(
            "expected transformer list argument: field, transformer, quoted string, or number",
        ))
    }

    pub(super) fn list_value_follows(&mut self) -> bool {
        if self.lexer.peek() == Some(b'(') {
            return true;
        }
        let saved = (self.lexer.pos, self.lexer.last_token.clone());
        let found = self.lexer.identifier().is_some();
        self.lexer.pos = saved.0;
        self.lexer.last_token = saved.1;
        found
    }

    pub(super) fn num_value_or_transformer(&mut self) -> Result<Value> {
        self.guarded(|p| {
            p.lexer.blank();
            let start = p.lexer.pos;
            if let Some(operand) = p.try_transformer_or_val()? {
                return Ok(Value::Operand(operand));
            }
            if let Some((s, e)) = p.lexer.hex_number().or_else(|| p.lexer.number()) {
                return Ok(Value::Scalar {
                    text: p.lexer.input[s..e].to_vec(),
                    quoted: false,
                    span: p.span(start),
                });
            }
            Err(p.error(format!(
                "expected a number value or a field with a valid transformer: {SUPPORTED_TRANSFORMERS}"
            )))
        })
    }

    /// A quoted or bare string, unescaped.
    fn string_token(&mut self) -> Result<Option<(Vec<u8>, bool, Span)>> {
        let start = self.lexer.pos;
        if let Some((s, e)) = self.lexer.quoted() {
            let bytes = unescape_quoted(&self.lexer.input[s..e]).map_err(|message| ParseError {
                offset: s,
                message,
                related: None,
            })?;
            return Ok(Some((bytes, true, self.span(start))));
        }
        if let Some((s, e)) = self.lexer.bare_string() {
            return Ok(Some((
                self.lexer.input[s..e].to_vec(),
                false,
                self.span(start),
            )));
        }
        Ok(None)
    }

    pub(super) fn str_value_or_transformer(&mut self, no_transformer: bool) -> Result<Value> {
        self.guarded(|p| {
            p.lexer.blank();
            if !no_transformer {
                if let Some(operand) = p.try_transformer_or_val()? {
                    return Ok(Value::Operand(operand));
                }
            }
            if let Some((text, quoted, span)) = p.string_token()? {
                return Ok(Value::Scalar { text, quoted, span });
            }
            Err(p.error(if no_transformer {
                "expected a string value".to_string()
            } else {
                format!(
                    "expected a string value or a field with a valid transformer: {SUPPORTED_TRANSFORMERS}"
                )
            }))
        })
    }

    pub(super) fn try_list_expr(&mut self) -> Result<Option<Value>> {
        let start = self.lexer.pos;
        if !self.lexer.literal("(") {
            return Ok(None);
        }
        let mut items = Vec::new();
        self.lexer.blank();
        // As in libsinsp, a list whose first element does not parse is taken as empty, and
        // the closing ')' is then required right here.
        let first = self.string_token().unwrap_or_default();
        if let Some((value, quoted, span)) = first {
            items.push(ListItem {
                value,
                quoted,
                span,
            });
            self.lexer.blank();
            while self.lexer.literal(",") {
                self.lexer.blank();
                match self.string_token()? {
                    Some((value, quoted, span)) => items.push(ListItem {
                        value,
                        quoted,
                        span,
                    }),
                    None => return Err(self.error("expected a string value in the list")),
                }
                self.lexer.blank();
            }
        }
        if !self.lexer.literal(")") {
            let mut error = self.error("expected a ')' token to close the list");
            error.related = Some(start);
            return Err(error);
        }
        Ok(Some(Value::List(items, self.span(start))))
    }

    pub(super) fn list_value(&mut self) -> Result<Value> {
        self.guarded(|p| {
            p.lexer.blank();
            let start = p.lexer.pos;
            if let Some(list) = p.try_list_expr()? {
                return Ok(list);
            }
            if let Some((s, e)) = p.lexer.identifier() {
                return Ok(Value::ListName(p.lexer.text(s, e), p.span(start)));
            }
            Err(p.error("expected a list or an identifier"))
        })
    }

    pub(super) fn list_value_or_transformer(&mut self) -> Result<Value> {
        self.guarded(|p| {
            p.lexer.blank();
            let start = p.lexer.pos;
            if let Some(list) = p.try_list_expr()? {
                return Ok(list);
            }
            if let Some(operand) = p.try_transformer_or_val()? {
                return Ok(Value::Operand(operand));
            }
            if let Some((s, e)) = p.lexer.identifier() {
                return Ok(Value::ListName(p.lexer.text(s, e), p.span(start)));
            }
            Err(p.error(format!(
                "expected a list, an identifier, or a field with a valid transformer: {SUPPORTED_TRANSFORMERS}"
            )))
        })
    }

    pub(super) fn try_transformer_or_val(&mut self) -> Result<Option<Operand>> {
        self.guarded(|p| {
            p.lexer.blank();
            let start = p.lexer.pos;
            if p.lexer.literal("val(") {
                p.lexer.blank();
                let field_start = p.lexer.pos;
                let Some((s, e)) = p.lexer.field_name() else {
                    return Err(p.error("expected a field within 'val' transformer"));
                };
                let name = p.lexer.text(s, e);
                let field = p.field_remainder(name, field_start)?;
                p.lexer.blank();
                if !p.lexer.literal(")") {
                    return Err(p.error("expected a ')' token closing the transformer 'val'"));
                }
                let arg = p.optional_field_arg()?;
                return Ok(Some(Operand::Transformer(TransformerExpr {
                    name: "val".to_string(),
                    args: vec![TransformerArg::Operand(Operand::Field(field))],
                    arg,
                    span: p.span(start),
                })));
            }
            if let Some(name) = p.transformer_type() {
                p.lexer.blank();
                return Ok(Some(Operand::Transformer(
                    p.transformer_remainder(name, start)?,
                )));
            }
            Ok(None)
        })
    }
}
