//! Maps condition spans back to file positions. Every parsed text (a rule's condition, a
//! macro's condition, a clause built from an exception) gets a [`SourceId`].

use crate::condition::{SourceId, Span};
use crate::diagnostic::Position;
use crate::loader::SourceText;

#[derive(Clone, Debug)]
enum Location {
    Text(SourceText),
    /// Generated text: every offset maps to the item it was generated from.
    Fixed(Position),
}

#[derive(Clone, Debug)]
struct Entry {
    location: Location,
    /// What the text belongs to, e.g. "macro `container`".
    label: String,
}

#[derive(Clone, Debug, Default)]
pub(crate) struct SourceMap {
    entries: Vec<Entry>,
}

impl SourceMap {
    pub fn add_text(&mut self, text: SourceText, label: String) -> SourceId {
        self.push(Location::Text(text), label)
    }

    pub fn add_fixed(&mut self, position: Position, label: String) -> SourceId {
        self.push(Location::Fixed(position), label)
    }

    fn push(&mut self, location: Location, label: String) -> SourceId {
        self.entries.push(Entry { location, label });
        SourceId(u32::try_from(self.entries.len() - 1).unwrap_or(u32::MAX))
    }

    pub fn position_at(&self, source: SourceId, offset: usize) -> Position {
        match self.entries.get(source.0 as usize) {
            Some(Entry {
                location: Location::Text(text),
                ..
            }) => text.position_of(offset),
            Some(Entry {
                location: Location::Fixed(position),
                ..
            }) => position.clone(),
            None => Position::file_start("<condition>".into()),
        }
    }

    pub fn position(&self, span: Span) -> Position {
        self.position_at(span.source, span.start as usize)
    }

    pub fn label(&self, span: Span) -> &str {
        self.entries
            .get(span.source.0 as usize)
            .map_or("", |entry| entry.label.as_str())
    }
}
