//! Errors and warnings found while loading rules, each tied to a place in a rules file.

use std::fmt;
use std::sync::Arc;

use serde::Serialize;

/// A place in a rules file: file name, 1-based line and 1-based column (in characters).
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize)]
pub struct Position {
    pub file: Arc<str>,
    pub line: u32,
    pub column: u32,
}

impl Position {
    pub fn new(file: Arc<str>, line: u32, column: u32) -> Self {
        Position { file, line, column }
    }

    /// A position for problems that concern a whole file (unreadable, empty, ...).
    pub fn file_start(file: Arc<str>) -> Self {
        Position {
            file,
            line: 1,
            column: 1,
        }
    }
}

impl fmt::Display for Position {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}:{}", self.file, self.line, self.column)
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Error,
    Warning,
}

impl fmt::Display for Severity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Severity::Error => "error",
            Severity::Warning => "warning",
        })
    }
}

/// One finding of the loader or compiler.
///
/// `item` names the rule, macro or list concerned (e.g. "rule `Terminal shell in container`")
/// so a reader can find it without opening the file.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Diagnostic {
    pub severity: Severity,
    pub position: Position,
    pub item: Option<String>,
    pub message: String,
}

impl Diagnostic {
    pub fn error(position: Position, message: impl Into<String>) -> Self {
        Diagnostic {
            severity: Severity::Error,
            position,
            item: None,
            message: message.into(),
        }
    }

    pub fn warning(position: Position, message: impl Into<String>) -> Self {
        Diagnostic {
            severity: Severity::Warning,
            position,
            item: None,
            message: message.into(),
        }
    }

    pub fn with_item(mut self, item: impl Into<String>) -> Self {
        self.item = Some(item.into());
        self
    }

    pub fn is_error(&self) -> bool {
        self.severity == Severity::Error
    }
}

impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}: ", self.position, self.severity)?;
        if let Some(item) = &self.item {
            write!(f, "{item}: ")?;
        }
        f.write_str(&self.message)
    }
}

/// Collects diagnostics in the order they are found.
#[derive(Clone, Debug, Default)]
pub struct Diagnostics {
    items: Vec<Diagnostic>,
}

impl Diagnostics {
    pub fn push(&mut self, diagnostic: Diagnostic) {
        match diagnostic.severity {
            Severity::Error => tracing::debug!(%diagnostic, "rules error"),
            Severity::Warning => tracing::trace!(%diagnostic, "rules warning"),
        }
        self.items.push(diagnostic);
    }

    pub fn error(&mut self, position: Position, message: impl Into<String>) {
        self.push(Diagnostic::error(position, message));
    }

    pub fn warning(&mut self, position: Position, message: impl Into<String>) {
        self.push(Diagnostic::warning(position, message));
    }

    pub fn has_errors(&self) -> bool {
        self.items.iter().any(Diagnostic::is_error)
    }

    pub fn into_vec(self) -> Vec<Diagnostic> {
        self.items
    }

    pub fn iter(&self) -> impl Iterator<Item = &Diagnostic> {
        self.items.iter()
    }
}
