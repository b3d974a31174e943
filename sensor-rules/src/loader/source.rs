//! Where rules come from: files, directories, or text embedded in the binary.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::error::LoadError;

/// The text of one rules file and the name diagnostics use for it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RuleSource {
    pub name: Arc<str>,
    pub content: Arc<str>,
}

impl RuleSource {
    /// Rules held in memory, e.g. defaults embedded with `include_str!`.
    pub fn new(name: impl Into<Arc<str>>, content: impl Into<Arc<str>>) -> Self {
        RuleSource {
            name: name.into(),
            content: content.into(),
        }
    }

    /// Reads one file.
    pub fn from_file(path: &Path) -> Result<RuleSource, LoadError> {
        let bytes = std::fs::read(path).map_err(|source| LoadError::Io {
            path: path.to_path_buf(),
            source,
        })?;
        let content = String::from_utf8(bytes).map_err(|_| LoadError::NotUtf8 {
            path: path.to_path_buf(),
        })?;
        Ok(RuleSource::new(path.display().to_string(), content))
    }

    /// Reads a file, or every `*.yaml` / `*.yml` file of a directory sorted by name (not
    /// recursing into subdirectories), as Falco's `rules_files` option does.
    pub fn from_path(path: &Path) -> Result<Vec<RuleSource>, LoadError> {
        let metadata = std::fs::metadata(path).map_err(|source| LoadError::Io {
            path: path.to_path_buf(),
            source,
        })?;
        if !metadata.is_dir() {
            return Ok(vec![RuleSource::from_file(path)?]);
        }
        let entries = std::fs::read_dir(path).map_err(|source| LoadError::Io {
            path: path.to_path_buf(),
            source,
        })?;
        let mut files: Vec<PathBuf> = Vec::new();
        for entry in entries {
            let entry = entry.map_err(|source| LoadError::Io {
                path: path.to_path_buf(),
                source,
            })?;
            let file = entry.path();
            let is_rules = file
                .extension()
                .and_then(|ext| ext.to_str())
                .is_some_and(|ext| ext == "yaml" || ext == "yml");
            if is_rules && file.is_file() {
                files.push(file);
            }
        }
        files.sort();
        tracing::debug!(directory = %path.display(), files = files.len(), "loading rules directory");
        files
            .iter()
            .map(|file| RuleSource::from_file(file))
            .collect()
    }

    /// Reads several paths in order (files and directories).
    pub fn from_paths<P: AsRef<Path>>(paths: &[P]) -> Result<Vec<RuleSource>, LoadError> {
        let mut sources = Vec::new();
        for path in paths {
            sources.extend(RuleSource::from_path(path.as_ref())?);
        }
        Ok(sources)
    }
}
