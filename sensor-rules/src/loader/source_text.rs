//! Text of a condition or output that remembers which YAML scalars it was assembled from,
//! so an offset in the text maps back to file:line:col even after appends.

use crate::diagnostic::Position;
use crate::yaml::ScalarSource;

#[derive(Clone, Debug)]
struct Segment {
    start: usize,
    value: String,
    origin: ScalarSource,
}

#[derive(Clone, Debug)]
pub struct SourceText {
    text: String,
    segments: Vec<Segment>,
    /// Bytes trimmed from the front: segment starts count from before the trim.
    lead: usize,
}

impl SourceText {
    pub fn from_scalar(value: String, origin: ScalarSource) -> Self {
        SourceText {
            text: value.clone(),
            segments: vec![Segment {
                start: 0,
                value,
                origin,
            }],
            lead: 0,
        }
    }

    pub fn as_str(&self) -> &str {
        &self.text
    }

    pub fn is_empty(&self) -> bool {
        self.text.is_empty()
    }

    /// Appends `other` after a space, as Falco joins appended conditions and outputs.
    pub fn append(&mut self, other: &SourceText) {
        self.text.push(' ');
        let base = (self.lead + self.text.len()).saturating_sub(other.lead);
        self.text.push_str(&other.text);
        self.segments
            .extend(other.segments.iter().map(|segment| Segment {
                start: base + segment.start,
                value: segment.value.clone(),
                origin: segment.origin.clone(),
            }));
    }

    /// Removes leading and trailing whitespace (Falco trims outputs).
    pub fn trim(&mut self) {
        let leading = self.text.len() - self.text.trim_start().len();
        self.text = self.text.trim().to_string();
        self.lead += leading;
    }

    /// Where the text starts in its file.
    pub fn position(&self) -> Position {
        self.position_of(0)
    }

    /// The file position of byte `offset` of the text.
    pub fn position_of(&self, offset: usize) -> Position {
        let offset = offset + self.lead;
        let segment = self
            .segments
            .iter()
            .rev()
            .find(|segment| segment.start <= offset)
            .or_else(|| self.segments.first());
        match segment {
            Some(segment) => {
                let within = offset - segment.start.min(offset);
                let within = within.min(segment.value.len());
                segment.origin.position_of(&segment.value, within)
            }
            None => Position::file_start("<unknown>".into()),
        }
    }
}
