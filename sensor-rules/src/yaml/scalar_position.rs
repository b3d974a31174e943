//! Maps an offset inside a scalar's value back to a line and column of the file.
//!
//! A condition written as a folded (`>`) or multi-line plain scalar loses its line breaks and
//! indentation in the parsed value, so an offset in the value is not an offset in the file.
//! The mapping re-reads the source from the scalar's start and aligns it with the value,
//! skipping the whitespace that YAML folded away.

use std::sync::Arc;

use super::node::{Mark, ScalarStyle};
use crate::diagnostic::Position;

/// Where a scalar came from: enough to turn value offsets into file positions.
#[derive(Clone, Debug)]
pub struct ScalarSource {
    pub file: Arc<str>,
    pub text: Arc<str>,
    pub mark: Mark,
    pub style: ScalarStyle,
}

struct Cursor<'a> {
    text: &'a str,
    index: usize,
    line: u32,
    column: u32,
}

impl Cursor<'_> {
    fn peek(&self) -> Option<char> {
        self.text.get(self.index..)?.chars().next()
    }

    fn peek_second(&self) -> Option<char> {
        let mut chars = self.text.get(self.index..)?.chars();
        chars.next();
        chars.next()
    }

    fn advance(&mut self) {
        if let Some(c) = self.peek() {
            self.index += c.len_utf8();
            if c == '\n' {
                self.line = self.line.saturating_add(1);
                self.column = 1;
            } else {
                self.column = self.column.saturating_add(1);
            }
        }
    }
}

/// The byte index of 1-based `line` and `column` (columns count characters).
fn byte_index_of(text: &str, line: u32, column: u32) -> Option<usize> {
    let mut line_start = 0;
    for _ in 1..line {
        line_start += text.get(line_start..)?.find('\n')? + 1;
    }
    let skip = usize::try_from(column.checked_sub(1)?).ok()?;
    let rest = text.get(line_start..)?;
    match rest.char_indices().nth(skip) {
        Some((offset, _)) => Some(line_start + offset),
        None if rest.chars().count() == skip => Some(text.len()),
        None => None,
    }
}

fn is_yaml_blank(c: char) -> bool {
    matches!(c, ' ' | '\t' | '\n' | '\r')
}

impl ScalarSource {
    /// The position of the scalar itself (its first character or its indicator).
    pub fn position(&self) -> Position {
        Position::new(self.file.clone(), self.mark.line, self.mark.column)
    }

    /// The position in the file of the character at byte `offset` of `value`, which must be
    /// the parsed value of this scalar. Falls back to the last position it could align.
    pub fn position_of(&self, value: &str, offset: usize) -> Position {
        let (line, column) = self.align(value, offset);
        Position::new(self.file.clone(), line, column)
    }

    fn align(&self, value: &str, target: usize) -> (u32, u32) {
        let text: &str = &self.text;
        let Some(index) = byte_index_of(text, self.mark.line, self.mark.column) else {
            return (self.mark.line, self.mark.column);
        };
        let mut cursor = Cursor {
            text,
            index,
            line: self.mark.line,
            column: self.mark.column,
        };
        // Quoted scalars are marked at their opening quote; block scalars (`>`, `|`) at the
        // first character of their content; plain scalars at their first character.
        if matches!(
            self.style,
            ScalarStyle::SingleQuoted | ScalarStyle::DoubleQuoted
        ) {
            cursor.advance();
        }
        for (offset, wanted) in value.char_indices() {
            if offset >= target {
                break;
            }
            loop {
                let Some(found) = cursor.peek() else {
                    return (cursor.line, cursor.column);
                };
                if found == wanted {
                    cursor.advance();
                    break;
                }
                if is_yaml_blank(wanted) && is_yaml_blank(found) {
                    // A folded line break or a run of blanks stands for this one value blank.
                    while cursor.peek().is_some_and(is_yaml_blank) {
                        cursor.advance();
                    }
                    break;
                }
                if is_yaml_blank(found) {
                    cursor.advance();
                    continue;
                }
                let escaped = match self.style {
                    ScalarStyle::DoubleQuoted => found == '\\',
                    ScalarStyle::SingleQuoted => {
                        found == '\'' && cursor.peek_second() == Some('\'')
                    }
                    _ => false,
                };
                if escaped {
                    cursor.advance();
                    cursor.advance();
                    break;
                }
                // The value and the source no longer line up: the best we know is here.
                return (cursor.line, cursor.column);
            }
        }
        (cursor.line, cursor.column)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::yaml::parse_documents;

    fn source_of(text: &str, key: &str) -> (ScalarSource, String) {
        let docs = parse_documents(text).expect("valid yaml");
        let item = &docs[0].as_sequence().expect("seq")[0];
        let node = item.get(key).expect("key");
        let source = ScalarSource {
            file: Arc::from("f.yaml"),
            text: Arc::from(text),
            mark: node.mark,
            style: node.scalar_style().expect("scalar"),
        };
        (source, node.as_scalar().expect("scalar").to_string())
    }

    fn at(text: &str, key: &str, needle: &str) -> (u32, u32) {
        let (source, value) = source_of(text, key);
        let offset = value.find(needle).expect("needle in value");
        let position = source.position_of(&value, offset);
        (position.line, position.column)
    }

    #[test]
    fn multibyte_before_scalar() {
        assert_eq!(at("- d: é\n  c: a.b = 1\n", "c", "1"), (2, 12));
    }

    #[test]
    fn plain_single_line() {
        assert_eq!(at("- c: a.b = 1 and x.y = 2\n", "c", "x.y"), (1, 18));
    }

    #[test]
    fn folded_block() {
        let text = "- c: >\n    a.b = 1\n    and x.y = 2\n";
        assert_eq!(at(text, "c", "x.y"), (3, 9));
        assert_eq!(at(text, "c", "a.b"), (2, 5));
    }

    #[test]
    fn plain_multi_line() {
        let text = "- c: (a.b = 1 and\n     x.y = 2)\n";
        assert_eq!(at(text, "c", "x.y"), (2, 6));
    }

    #[test]
    fn double_quoted_with_escape() {
        let text = "- c: \"a.b = \\\"q\\\" and x.y = 2\"\n";
        assert_eq!(at(text, "c", "x.y"), (1, 23));
    }

    #[test]
    fn literal_block() {
        let text = "- c: |\n    a.b = 1\n    and   x.y = 2\n";
        assert_eq!(at(text, "c", "x.y"), (3, 11));
    }
}
