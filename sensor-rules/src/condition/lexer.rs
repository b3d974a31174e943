//! Token recognisers over the bytes of a condition, equivalent to the POSIX regular
//! expressions of libsinsp's parser (all anchored at the cursor, longest match).

/// libsinsp's `lex_blank` set: space, tab, backspace, CR, LF.
fn is_blank(byte: u8) -> bool {
    matches!(byte, b' ' | b'\t' | 0x08 | b'\r' | b'\n')
}

/// POSIX `[[:space:]]`.
fn is_posix_space(byte: u8) -> bool {
    matches!(byte, b' ' | b'\t' | b'\n' | 0x0b | 0x0c | b'\r')
}

fn is_alpha(byte: u8) -> bool {
    byte.is_ascii_alphabetic()
}

fn is_ident_tail(byte: u8) -> bool {
    byte.is_ascii_alphanumeric() || byte == b'_'
}

pub struct Lexer<'a> {
    pub input: &'a [u8],
    pub pos: usize,
    /// The text of the last token consumed, for "unexpected token after ..." messages.
    pub last_token: String,
}

impl<'a> Lexer<'a> {
    pub fn new(input: &'a str) -> Self {
        Lexer {
            input: input.as_bytes(),
            pos: 0,
            last_token: String::new(),
        }
    }

    pub fn at_end(&self) -> bool {
        self.pos >= self.input.len()
    }

    pub fn peek(&self) -> Option<u8> {
        self.input.get(self.pos).copied()
    }

    pub fn rest(&self) -> &'a [u8] {
        self.input.get(self.pos..).unwrap_or(&[])
    }

    fn take(&mut self, len: usize) -> (usize, usize) {
        let start = self.pos;
        self.pos += len;
        self.last_token = String::from_utf8_lossy(&self.input[start..self.pos]).into_owned();
        (start, self.pos)
    }

    /// Skips blanks; true if at least one was skipped. Does not touch `last_token`.
    pub fn blank(&mut self) -> bool {
        let start = self.pos;
        while self.peek().is_some_and(is_blank) {
            self.pos += 1;
        }
        self.pos > start
    }

    /// Consumes `literal` if the input continues with it.
    pub fn literal(&mut self, literal: &str) -> bool {
        if self.rest().starts_with(literal.as_bytes()) {
            self.take(literal.len());
            true
        } else {
            false
        }
    }

    /// `(not[[:space:]]+)`
    pub fn not_blank(&mut self) -> bool {
        let rest = self.rest();
        if !rest.starts_with(b"not") {
            return false;
        }
        let spaces = rest[3..].iter().take_while(|b| is_posix_space(**b)).count();
        if spaces == 0 {
            return false;
        }
        self.take(3 + spaces);
        true
    }

    fn identifier_len(bytes: &[u8]) -> usize {
        if !bytes.first().copied().is_some_and(is_alpha) {
            return 0;
        }
        1 + bytes[1..].iter().take_while(|b| is_ident_tail(**b)).count()
    }

    /// `([a-zA-Z]+[a-zA-Z0-9_]*)`
    pub fn identifier(&mut self) -> Option<(usize, usize)> {
        let len = Self::identifier_len(self.rest());
        (len > 0).then(|| self.take(len))
    }

    /// `([a-zA-Z]+[a-zA-Z0-9_]*(\.[a-zA-Z]+[a-zA-Z0-9_]*)+)`
    pub fn field_name(&mut self) -> Option<(usize, usize)> {
        let rest = self.rest();
        let mut len = Self::identifier_len(rest);
        if len == 0 {
            return None;
        }
        let mut parts = 0;
        while rest.get(len) == Some(&b'.') {
            let part = Self::identifier_len(&rest[len + 1..]);
            if part == 0 {
                break;
            }
            len += 1 + part;
            parts += 1;
        }
        (parts > 0).then(|| self.take(len))
    }

    /// `([^][\"'[:space:]]+)`
    pub fn field_arg_bare(&mut self) -> Option<(usize, usize)> {
        let len = self
            .rest()
            .iter()
            .take_while(|b| !matches!(b, b'[' | b']' | b'"' | b'\'') && !is_posix_space(**b))
            .count();
        (len > 0).then(|| self.take(len))
    }

    /// `(0[xX][0-9a-fA-F]+)`
    pub fn hex_number(&mut self) -> Option<(usize, usize)> {
        let rest = self.rest();
        if rest.len() < 3 || rest[0] != b'0' || !matches!(rest[1], b'x' | b'X') {
            return None;
        }
        let digits = rest[2..]
            .iter()
            .take_while(|b| b.is_ascii_hexdigit())
            .count();
        (digits > 0).then(|| self.take(2 + digits))
    }

    /// `([+\-]?[0-9]+[\.]?[0-9]*([eE][+\-][0-9]+)?)`
    pub fn number(&mut self) -> Option<(usize, usize)> {
        let rest = self.rest();
        let mut len = 0;
        if matches!(rest.first(), Some(b'+' | b'-')) {
            len += 1;
        }
        let integer = rest[len..]
            .iter()
            .take_while(|b| b.is_ascii_digit())
            .count();
        if integer == 0 {
            return None;
        }
        len += integer;
        if rest.get(len) == Some(&b'.') {
            len += 1;
        }
        len += rest[len..]
            .iter()
            .take_while(|b| b.is_ascii_digit())
            .count();
        if matches!(rest.get(len), Some(b'e' | b'E'))
            && matches!(rest.get(len + 1), Some(b'+' | b'-'))
        {
            let exponent = rest[len + 2..]
                .iter()
                .take_while(|b| b.is_ascii_digit())
                .count();
            if exponent > 0 {
                len += 2 + exponent;
            }
        }
        Some(self.take(len))
    }

    /// `([^()\"'[:space:]=,]+)`
    pub fn bare_string(&mut self) -> Option<(usize, usize)> {
        let len = self
            .rest()
            .iter()
            .take_while(|b| {
                !matches!(b, b'(' | b')' | b'"' | b'\'' | b'=' | b',') && !is_posix_space(**b)
            })
            .count();
        (len > 0).then(|| self.take(len))
    }

    /// A quoted string; returns the span of the raw token, delimiters included. As in
    /// libsinsp, the closing quote is the first delimiter not preceded by a backslash.
    pub fn quoted(&mut self) -> Option<(usize, usize)> {
        let rest = self.rest();
        let delimiter = *rest.first()?;
        if delimiter != b'"' && delimiter != b'\'' {
            return None;
        }
        let mut previous = b'\\';
        for (index, &byte) in rest.iter().enumerate() {
            if index > 0 && byte == delimiter && previous != b'\\' {
                return Some(self.take(index + 1));
            }
            previous = byte;
        }
        None
    }

    /// Consumes the first operator of `operators` found at the cursor. Operators written
    /// with a trailing space need a blank after them (which is consumed too).
    pub fn operator(&mut self, operators: &[&'static str]) -> Option<&'static str> {
        for operator in operators {
            if let Some(word) = operator.strip_suffix(' ') {
                let saved = (self.pos, self.last_token.clone());
                if self.literal(word) {
                    if self.blank() {
                        return Some(word);
                    }
                    self.pos = saved.0;
                    self.last_token = saved.1;
                }
            } else if self.literal(operator) {
                return Some(operator);
            }
        }
        None
    }

    /// True if one of the words `and`, `or`, `not` starts at the cursor.
    pub fn bool_keyword_follows(&self) -> bool {
        let rest = self.rest();
        ["and", "or", "not"].iter().any(|keyword| {
            rest.starts_with(keyword.as_bytes())
                && rest
                    .get(keyword.len())
                    .is_none_or(|b| !b.is_ascii_alphanumeric())
        })
    }

    pub fn text(&self, start: usize, end: usize) -> String {
        String::from_utf8_lossy(self.input.get(start..end).unwrap_or(&[])).into_owned()
    }
}
