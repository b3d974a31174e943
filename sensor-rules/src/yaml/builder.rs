//! Builds [`Node`] trees from the marked event stream of `yaml-rust2`.

use std::collections::HashMap;

use yaml_rust2::parser::{Event, MarkedEventReceiver, Parser};
use yaml_rust2::scanner::{Marker, TScalarStyle};

use super::node::{Mark, Node, NodeValue, ScalarStyle};

/// Deeper documents are refused: rules files are shallow, and a hostile file of nested
/// brackets must not exhaust the stack of the code that walks or drops the tree.
const MAX_DEPTH: usize = 256;

/// A YAML syntax error with the place the scanner stopped.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct YamlSyntaxError {
    pub mark: Mark,
    pub message: String,
}

/// How many closing-bracket lines [`parse_documents`] re-indents before giving up.
const MAX_BRACKET_FIXES: usize = 64;

/// Parses every document of a YAML stream; a document that is empty yields no node.
///
/// yaml-rust2 rejects a flow collection closed at the indentation of its key inside a block
/// sequence item (`- list: x` / `  items: [` ... `  ]`), which yaml-cpp (and so Falco)
/// accepts and Falco's own rules files use. Such a closing line is indented by one more
/// space and parsing retried; no other line moves, so every reported position stays exact.
pub fn parse_documents(source: &str) -> Result<Vec<Node>, YamlSyntaxError> {
    let mut text = std::borrow::Cow::Borrowed(source);
    for _ in 0..MAX_BRACKET_FIXES {
        match parse_once(&text) {
            Err(error) if error.message == "invalid indentation" => {
                match indent_closing_bracket(&text, error.mark.line) {
                    Some(fixed) => text = std::borrow::Cow::Owned(fixed),
                    None => return Err(error),
                }
            }
            other => return other,
        }
    }
    parse_once(&text)
}

/// The text with line `line` (1-based) indented by one space, if that line starts with a
/// closing bracket.
fn indent_closing_bracket(text: &str, line: u32) -> Option<String> {
    let index = usize::try_from(line.checked_sub(1)?).ok()?;
    let target = text.split('\n').nth(index)?;
    if !matches!(target.trim_start().chars().next(), Some(']' | '}')) {
        return None;
    }
    let mut out = String::with_capacity(text.len() + 1);
    for (number, current) in text.split('\n').enumerate() {
        if number > 0 {
            out.push('\n');
        }
        if number == index {
            out.push(' ');
        }
        out.push_str(current);
    }
    Some(out)
}

fn parse_once(source: &str) -> Result<Vec<Node>, YamlSyntaxError> {
    let mut builder = TreeBuilder::default();
    let mut parser = Parser::new_from_str(source);
    let loaded = parser.load(&mut builder, true);
    if let Err(error) = loaded {
        return Err(YamlSyntaxError {
            mark: mark_from(error.marker()),
            message: error.info().to_string(),
        });
    }
    if let Some(error) = builder.error {
        return Err(error);
    }
    Ok(builder.documents)
}

fn mark_from(marker: &Marker) -> Mark {
    Mark {
        index: marker.index(),
        line: u32::try_from(marker.line()).unwrap_or(u32::MAX),
        // yaml-rust2 counts columns from 0; every position we print counts from 1.
        column: u32::try_from(marker.col().saturating_add(1)).unwrap_or(u32::MAX),
    }
}

enum Frame {
    Sequence(Vec<Node>),
    Mapping {
        entries: Vec<(Node, Node)>,
        pending_key: Option<Node>,
    },
}

struct OpenFrame {
    frame: Frame,
    mark: Mark,
    anchor: usize,
}

#[derive(Default)]
struct TreeBuilder {
    documents: Vec<Node>,
    stack: Vec<OpenFrame>,
    anchors: HashMap<usize, Node>,
    /// Depth beyond MAX_DEPTH: events are counted but not built.
    skipped_depth: usize,
    error: Option<YamlSyntaxError>,
}

impl TreeBuilder {
    fn attach(&mut self, node: Node, anchor: usize) {
        if anchor > 0 {
            self.anchors.insert(anchor, node.clone());
        }
        match self.stack.last_mut() {
            None => {
                if !node.is_null() {
                    self.documents.push(node);
                }
            }
            Some(OpenFrame {
                frame: Frame::Sequence(items),
                ..
            }) => items.push(node),
            Some(OpenFrame {
                frame:
                    Frame::Mapping {
                        entries,
                        pending_key,
                    },
                ..
            }) => match pending_key.take() {
                None => *pending_key = Some(node),
                Some(key) => entries.push((key, node)),
            },
        }
    }

    fn open(&mut self, frame: Frame, mark: Mark, anchor: usize) {
        if self.skipped_depth > 0 || self.stack.len() >= MAX_DEPTH {
            if self.skipped_depth == 0 && self.error.is_none() {
                self.error = Some(YamlSyntaxError {
                    mark,
                    message: format!(
                        "nesting deeper than {MAX_DEPTH} levels; rules files never need this"
                    ),
                });
            }
            self.skipped_depth += 1;
            return;
        }
        self.stack.push(OpenFrame {
            frame,
            mark,
            anchor,
        });
    }

    fn close(&mut self) {
        if self.skipped_depth > 0 {
            self.skipped_depth -= 1;
            return;
        }
        let Some(open) = self.stack.pop() else {
            return;
        };
        let value = match open.frame {
            Frame::Sequence(items) => NodeValue::Sequence(items),
            Frame::Mapping {
                mut entries,
                pending_key,
            } => {
                // A key without value cannot come out of a well-formed event stream, but keep
                // it (as a null) rather than lose it.
                if let Some(key) = pending_key {
                    let mark = key.mark;
                    entries.push((
                        key,
                        Node {
                            value: NodeValue::Scalar {
                                text: String::new(),
                                style: ScalarStyle::Plain,
                            },
                            mark,
                        },
                    ));
                }
                NodeValue::Mapping(entries)
            }
        };
        self.attach(
            Node {
                value,
                mark: open.mark,
            },
            open.anchor,
        );
    }
}

impl MarkedEventReceiver for TreeBuilder {
    fn on_event(&mut self, event: Event, marker: Marker) {
        let mark = mark_from(&marker);
        match event {
            Event::Scalar(text, style, anchor, _tag) => {
                if self.skipped_depth > 0 {
                    return;
                }
                let style = match style {
                    TScalarStyle::Plain => ScalarStyle::Plain,
                    TScalarStyle::SingleQuoted => ScalarStyle::SingleQuoted,
                    TScalarStyle::DoubleQuoted => ScalarStyle::DoubleQuoted,
                    TScalarStyle::Literal => ScalarStyle::Literal,
                    TScalarStyle::Folded => ScalarStyle::Folded,
                };
                self.attach(
                    Node {
                        value: NodeValue::Scalar { text, style },
                        mark,
                    },
                    anchor,
                );
            }
            Event::SequenceStart(anchor, _tag) => {
                self.open(Frame::Sequence(Vec::new()), mark, anchor)
            }
            Event::MappingStart(anchor, _tag) => self.open(
                Frame::Mapping {
                    entries: Vec::new(),
                    pending_key: None,
                },
                mark,
                anchor,
            ),
            Event::SequenceEnd | Event::MappingEnd => self.close(),
            Event::Alias(anchor) => {
                if self.skipped_depth > 0 {
                    return;
                }
                let node = match self.anchors.get(&anchor) {
                    Some(node) => Node {
                        value: node.value.clone(),
                        mark,
                    },
                    None => Node {
                        value: NodeValue::Scalar {
                            text: String::new(),
                            style: ScalarStyle::Plain,
                        },
                        mark,
                    },
                };
                self.attach(node, 0);
            }
            Event::DocumentStart
            | Event::DocumentEnd
            | Event::StreamStart
            | Event::StreamEnd
            | Event::Nothing => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builds_marked_tree() {
        let docs = parse_documents("- rule: a\n  condition: >\n    x.y = 1\n").expect("parses");
        assert_eq!(docs.len(), 1);
        let items = docs[0].as_sequence().expect("sequence");
        let (key, value) = items[0].get_entry("condition").expect("condition");
        assert_eq!(key.mark.line, 2);
        assert_eq!(key.mark.column, 3);
        assert_eq!(value.as_scalar(), Some("x.y = 1\n"));
        assert_eq!(value.scalar_style(), Some(ScalarStyle::Folded));
        assert_eq!(value.mark.line, 3);
    }

    #[test]
    fn reports_syntax_error_position() {
        let error = parse_documents("- rule: a\n  desc: [unclosed\n").expect_err("must fail");
        assert!(error.mark.line >= 2, "{error:?}");
    }

    #[test]
    fn refuses_pathological_nesting() {
        let source = "[".repeat(1000) + &"]".repeat(1000);
        let error = parse_documents(&source).expect_err("too deep");
        assert!(
            error.message.contains("nesting") || error.message.contains("recursion"),
            "{error:?}"
        );
    }

    #[test]
    fn accepts_flow_sequence_closed_at_key_indentation() {
        let docs = parse_documents(
            "- list: a\n  items: [\n    \"x\",\n    \"y\"\n  ]\n- list: b\n  items: [z]\n",
        )
        .expect("yaml-cpp accepts this layout");
        let items = docs[0].as_sequence().expect("sequence");
        assert_eq!(items.len(), 2);
        assert_eq!(items[1].get("list").and_then(Node::as_scalar), Some("b"));
        assert_eq!(items[1].mark.line, 6);
    }

    #[test]
    fn resolves_aliases() {
        let docs = parse_documents("- &a {x: 1}\n- *a\n").expect("parses");
        let items = docs[0].as_sequence().expect("sequence");
        assert_eq!(items[1].get("x").and_then(Node::as_scalar), Some("1"));
    }
}
