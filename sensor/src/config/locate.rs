//! Where a key sits in the configuration text, for errors found after parsing (a missing TLS
//! file, an address that does not parse): the same `file:line:col` a parse error has.

use yaml_rust2::parser::{Event, MarkedEventReceiver, Parser};
use yaml_rust2::scanner::Marker;

/// The 1-based line and column of the value at `path` (mapping keys from the top), or of
/// the deepest key of the path that exists.
pub fn locate(text: &str, path: &[&str]) -> Option<(usize, usize)> {
    let mut finder = Finder {
        path: path.iter().map(|s| s.to_string()).collect(),
        stack: Vec::new(),
        best: None,
        best_depth: 0,
    };
    let mut parser = Parser::new_from_str(text);
    parser.load(&mut finder, false).ok()?;
    finder.best
}

enum Frame {
    /// A mapping: the key being read (`None` while the next scalar is a key), and the path
    /// down to this mapping.
    Map {
        key: Option<String>,
        expect_key: bool,
        depth_path: Vec<String>,
    },
    Seq {
        depth_path: Vec<String>,
    },
}

struct Finder {
    path: Vec<String>,
    stack: Vec<Frame>,
    best: Option<(usize, usize)>,
    best_depth: usize,
}

impl Finder {
    /// The path to the node that starts now.
    fn current_path(&self) -> Vec<String> {
        match self.stack.last() {
            Some(Frame::Map {
                key: Some(key),
                depth_path,
                ..
            }) => {
                let mut p = depth_path.clone();
                p.push(key.clone());
                p
            }
            Some(Frame::Map { depth_path, .. }) | Some(Frame::Seq { depth_path }) => {
                depth_path.clone()
            }
            None => Vec::new(),
        }
    }

    /// Keeps the position of the longest prefix of the wanted path seen so far; at equal
    /// length a value wins over its key.
    fn note(&mut self, path: &[String], marker: Marker, is_value: bool) {
        if path.len() > self.path.len() || path != &self.path[..path.len()] {
            return;
        }
        if path.len() > self.best_depth || (path.len() == self.best_depth && is_value) {
            self.best_depth = path.len();
            self.best = Some((marker.line(), marker.col() + 1));
        }
    }

    /// After a value: the enclosing mapping expects a key again.
    fn value_done(&mut self) {
        if let Some(Frame::Map {
            key, expect_key, ..
        }) = self.stack.last_mut()
        {
            *key = None;
            *expect_key = true;
        }
    }
}

impl MarkedEventReceiver for Finder {
    fn on_event(&mut self, event: Event, marker: Marker) {
        match event {
            Event::MappingStart(..) => {
                let path = self.current_path();
                self.stack.push(Frame::Map {
                    key: None,
                    expect_key: true,
                    depth_path: path,
                });
            }
            Event::SequenceStart(..) => {
                let path = self.current_path();
                self.note(&path, marker, true);
                self.stack.push(Frame::Seq { depth_path: path });
            }
            Event::MappingEnd | Event::SequenceEnd => {
                self.stack.pop();
                self.value_done();
            }
            Event::Scalar(value, ..) => {
                if let Some(Frame::Map {
                    key, expect_key, ..
                }) = self.stack.last_mut()
                {
                    if *expect_key {
                        *key = Some(value);
                        *expect_key = false;
                        // A key's own position counts when its value is what is missing.
                        let path = self.current_path();
                        self.note(&path, marker, false);
                        return;
                    }
                }
                let path = self.current_path();
                self.note(&path, marker, true);
                self.value_done();
            }
            Event::Alias(_) => self.value_done(),
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_nested_values() {
        let text = "grpc:\n  tcp:\n    enabled: true\n    tls:\n      ca: /nope\n";
        assert_eq!(locate(text, &["grpc", "tcp", "tls", "ca"]), Some((5, 11)));
        assert_eq!(locate(text, &["grpc", "tcp", "enabled"]), Some((3, 14)));
        // Missing: the deepest key that is there.
        assert_eq!(
            locate(text, &["grpc", "tcp", "tls", "key"]).map(|l| l.0),
            Some(4)
        );
    }
}
