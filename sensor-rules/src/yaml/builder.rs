//! Builds [`Node`] trees from the marked event stream of `yaml-rust2`, within the limits of
//! [`crate::limits`]: nesting depth, node count, and what aliases copy.

use std::collections::HashMap;

use yaml_rust2::parser::{Event, Parser};
use yaml_rust2::scanner::{Marker, TScalarStyle};

use super::node::{Mark, Node, NodeValue, ScalarStyle};
use crate::limits::{MAX_YAML_ALIAS_BYTES, MAX_YAML_DEPTH, MAX_YAML_NODES};

/// Why a YAML text was not turned into documents.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum YamlErrorKind {
    /// Not valid YAML (as yaml-rust2 reads it).
    Syntax,
    /// Valid YAML past a limit of [`crate::limits`]: too deep, too many nodes, an alias bomb.
    Limit,
}

/// A YAML error with the place the scanner or the builder stopped.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct YamlError {
    pub mark: Mark,
    pub message: String,
    pub kind: YamlErrorKind,
}

/// How many closing-bracket lines [`parse_documents`] re-indents before giving up.
const MAX_BRACKET_FIXES: usize = 64;

/// Parses every document of a YAML stream; a document that is empty yields no node.
///
/// yaml-rust2 rejects a flow collection closed at the indentation of its key inside a block
/// sequence item (`- list: x` / `  items: [` ... `  ]`), which yaml-cpp (and so Falco)
/// accepts and Falco's own rules files use. Such a closing line is indented by one more
/// space and parsing retried; no other line moves, so every reported position stays exact.
pub fn parse_documents(source: &str) -> Result<Vec<Node>, YamlError> {
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

fn parse_once(source: &str) -> Result<Vec<Node>, YamlError> {
    let mut builder = TreeBuilder::new(source);
    let mut parser = Parser::new_from_str(source);
    // `Parser::load` recurses once per nesting level, and a few kilobytes of `- - - ...`
    // overflow a 2 MiB stack before the builder can refuse the depth. Pulling the events
    // keeps parsing iterative, and stops at the first limit instead of reading on.
    loop {
        let (event, marker) = parser.next_token().map_err(|error| YamlError {
            mark: mark_from(error.marker()),
            message: error.info().to_string(),
            kind: YamlErrorKind::Syntax,
        })?;
        if event == Event::StreamEnd {
            return Ok(builder.documents);
        }
        builder.on_event(event, mark_from(&marker))?;
    }
}

fn mark_from(marker: &Marker) -> Mark {
    Mark {
        index: marker.index(),
        line: u32::try_from(marker.line()).unwrap_or(u32::MAX),
        // yaml-rust2 counts columns from 0; every position we print counts from 1.
        column: u32::try_from(marker.col().saturating_add(1)).unwrap_or(u32::MAX),
    }
}

/// The name of the alias written at `mark` (`*name`), for messages.
fn alias_name(source: &str, mark: Mark) -> String {
    let line = usize::try_from(mark.line.saturating_sub(1)).unwrap_or(usize::MAX);
    let column = usize::try_from(mark.column.saturating_sub(1)).unwrap_or(usize::MAX);
    source
        .split('\n')
        .nth(line)
        .map(|text| {
            text.chars()
                .skip(column)
                .take_while(|c| !c.is_whitespace() && !matches!(c, ',' | '[' | ']' | '{' | '}'))
                .take(64)
                .collect()
        })
        .unwrap_or_default()
}

/// What a node holds, itself included: what copying it (for an alias or an anchor) costs.
#[derive(Clone, Copy, Debug, Default)]
struct Weight {
    nodes: usize,
    scalar_bytes: usize,
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
    /// `built` before this node: its weight is what was built since.
    built_before: Weight,
}

struct TreeBuilder<'s> {
    source: &'s str,
    documents: Vec<Node>,
    stack: Vec<OpenFrame>,
    anchors: HashMap<usize, (Node, Weight)>,
    /// Every node built so far, copies included.
    built: Weight,
    /// Scalar bytes copied by aliases and anchors.
    copied_bytes: usize,
}

type Built = Result<(), YamlError>;

fn limit_error(mark: Mark, message: String) -> YamlError {
    YamlError {
        mark,
        message,
        kind: YamlErrorKind::Limit,
    }
}

impl<'s> TreeBuilder<'s> {
    fn new(source: &'s str) -> Self {
        TreeBuilder {
            source,
            documents: Vec::new(),
            stack: Vec::new(),
            anchors: HashMap::new(),
            built: Weight::default(),
            copied_bytes: 0,
        }
    }

    /// Counts one new node of `scalar_bytes` text.
    fn count_node(&mut self, mark: Mark, scalar_bytes: usize) -> Built {
        self.built.nodes += 1;
        self.built.scalar_bytes += scalar_bytes;
        if self.built.nodes > MAX_YAML_NODES {
            return Err(limit_error(
                mark,
                format!(
                    "the file has more than {MAX_YAML_NODES} YAML nodes (MAX_YAML_NODES; Falco's largest rules file has about 2,500); split it into several files"
                ),
            ));
        }
        Ok(())
    }

    /// Counts a copy of a node of `weight`, made for an alias or an anchor, before making it.
    fn count_copy(&mut self, weight: Weight, mark: Mark, what: impl Fn() -> String) -> Built {
        self.built.nodes = self.built.nodes.saturating_add(weight.nodes);
        self.built.scalar_bytes = self.built.scalar_bytes.saturating_add(weight.scalar_bytes);
        self.copied_bytes = self.copied_bytes.saturating_add(weight.scalar_bytes);
        if self.built.nodes > MAX_YAML_NODES {
            return Err(limit_error(
                mark,
                format!(
                    "{} copies {} YAML nodes, which brings the file past {MAX_YAML_NODES} nodes (MAX_YAML_NODES; every alias counts the nodes it copies, so nested aliases multiply: a YAML alias bomb); write the items out instead of aliasing them",
                    what(),
                    weight.nodes
                ),
            ));
        }
        if self.copied_bytes > MAX_YAML_ALIAS_BYTES {
            return Err(limit_error(
                mark,
                format!(
                    "{} copies {} bytes of text, which brings what aliases copy in this file past {MAX_YAML_ALIAS_BYTES} bytes (MAX_YAML_ALIAS_BYTES: a YAML alias bomb); write the text out instead of aliasing it",
                    what(),
                    weight.scalar_bytes
                ),
            ));
        }
        Ok(())
    }

    fn attach(&mut self, node: Node, anchor: usize, weight: Weight) -> Built {
        if anchor > 0 {
            // The anchor keeps a copy for later aliases: a copy like any other.
            self.count_copy(weight, node.mark, || "this anchor".to_string())?;
            self.anchors.insert(anchor, (node.clone(), weight));
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
        Ok(())
    }

    fn open(&mut self, frame: Frame, mark: Mark, anchor: usize) -> Built {
        if self.stack.len() >= MAX_YAML_DEPTH {
            return Err(limit_error(
                mark,
                format!(
                    "nesting deeper than {MAX_YAML_DEPTH} levels (MAX_YAML_DEPTH); rules files never need this"
                ),
            ));
        }
        let built_before = self.built;
        self.count_node(mark, 0)?;
        self.stack.push(OpenFrame {
            frame,
            mark,
            anchor,
            built_before,
        });
        Ok(())
    }

    fn close(&mut self) -> Built {
        let Some(open) = self.stack.pop() else {
            return Ok(());
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
        let weight = Weight {
            nodes: self.built.nodes - open.built_before.nodes,
            scalar_bytes: self.built.scalar_bytes - open.built_before.scalar_bytes,
        };
        self.attach(
            Node {
                value,
                mark: open.mark,
            },
            open.anchor,
            weight,
        )
    }

    fn alias(&mut self, anchor: usize, mark: Mark) -> Built {
        let Some(weight) = self.anchors.get(&anchor).map(|(_, weight)| *weight) else {
            // yaml-rust2 resolves names across documents; YAML anchors hold within one.
            return Err(YamlError {
                mark,
                message: format!(
                    "alias `{}` refers to an anchor of an earlier document; an anchor holds only within its document",
                    alias_name(self.source, mark)
                ),
                kind: YamlErrorKind::Syntax,
            });
        };
        let source = self.source;
        self.count_copy(weight, mark, || {
            format!("alias `{}`", alias_name(source, mark))
        })?;
        // Counted first, copied after: a refused alias costs nothing.
        let Some((node, _)) = self.anchors.get(&anchor) else {
            return Ok(());
        };
        let value = node.value.clone();
        self.attach(Node { value, mark }, 0, weight)
    }

    fn on_event(&mut self, event: Event, mark: Mark) -> Built {
        match event {
            Event::Scalar(text, style, anchor, _tag) => {
                let style = match style {
                    TScalarStyle::Plain => ScalarStyle::Plain,
                    TScalarStyle::SingleQuoted => ScalarStyle::SingleQuoted,
                    TScalarStyle::DoubleQuoted => ScalarStyle::DoubleQuoted,
                    TScalarStyle::Literal => ScalarStyle::Literal,
                    TScalarStyle::Folded => ScalarStyle::Folded,
                };
                let weight = Weight {
                    nodes: 1,
                    scalar_bytes: text.len(),
                };
                self.count_node(mark, text.len())?;
                self.attach(
                    Node {
                        value: NodeValue::Scalar { text, style },
                        mark,
                    },
                    anchor,
                    weight,
                )
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
            Event::Alias(anchor) => self.alias(anchor, mark),
            Event::DocumentStart => {
                self.anchors.clear();
                Ok(())
            }
            Event::DocumentEnd | Event::StreamStart | Event::StreamEnd | Event::Nothing => Ok(()),
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

    /// Runs `f` on a thread with the 2 MiB stack a live reload gets.
    fn on_small_stack<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> T {
        std::thread::Builder::new()
            .stack_size(2 << 20)
            .spawn(f)
            .expect("thread starts")
            .join()
            .expect("no stack overflow")
    }

    #[test]
    fn refuses_deep_block_nesting_without_recursing() {
        // `Parser::load` recursed once per level: this overflowed a 2 MiB stack.
        let error = on_small_stack(|| parse_documents(&("- ".repeat(100_000) + "x\n")))
            .expect_err("too deep");
        assert_eq!(error.kind, YamlErrorKind::Limit);
        assert!(error.message.contains("MAX_YAML_DEPTH"), "{error:?}");
        assert_eq!((error.mark.line, error.mark.column), (1, 513));
    }

    #[test]
    fn refuses_alias_bomb_before_copying() {
        let mut text = "a0: &a0 [x, x, x, x, x, x, x, x, x, x]\n".to_string();
        for level in 1..10 {
            let aliases = vec![format!("*a{}", level - 1); 10].join(", ");
            text.push_str(&format!("a{level}: &a{level} [{aliases}]\n"));
        }
        let started = std::time::Instant::now();
        let error = on_small_stack(move || parse_documents(&text)).expect_err("alias bomb");
        assert!(started.elapsed() < std::time::Duration::from_secs(5));
        assert_eq!(error.kind, YamlErrorKind::Limit);
        assert!(
            error
                .message
                .starts_with("alias `*a4` copies 111111 YAML nodes"),
            "{error:?}"
        );
        assert!(error.message.contains("MAX_YAML_NODES"), "{error:?}");
        assert_eq!(error.mark.line, 6);
    }

    #[test]
    fn refuses_aliases_copying_too_much_text() {
        let long = "x".repeat(1 << 20);
        let text = format!("- &long \"{long}\"\n{}", "- *long\n".repeat(10));
        let error = parse_documents(&text).expect_err("copies 10 MiB");
        assert!(error.message.contains("MAX_YAML_ALIAS_BYTES"), "{error:?}");
        assert!(
            error
                .message
                .starts_with("alias `*long` copies 1048576 bytes"),
            "{error:?}"
        );
    }

    #[test]
    fn refuses_too_many_nodes() {
        let text = format!("[{}]", "x,".repeat(crate::limits::MAX_YAML_NODES));
        let error = parse_documents(&text).expect_err("too many nodes");
        assert!(error.message.contains("MAX_YAML_NODES"), "{error:?}");
    }

    #[test]
    fn anchors_hold_within_their_document() {
        let error = parse_documents("- &a x\n---\n- *a\n").expect_err("alias of another document");
        assert!(error.message.contains("alias `*a`"), "{error:?}");
        assert_eq!(error.mark.line, 3);
    }

    #[test]
    fn resolves_aliases() {
        let docs = parse_documents("- &a {x: 1}\n- *a\n").expect("parses");
        let items = docs[0].as_sequence().expect("sequence");
        assert_eq!(items[1].get("x").and_then(Node::as_scalar), Some("1"));
    }
}
