//! Where rules come from: files, directories, or text embedded in the binary.

use std::io::Read;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::error::LoadError;
use crate::limits::MAX_RULES_FILE_BYTES;

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

    /// Reads one file of at most [`MAX_RULES_FILE_BYTES`].
    pub fn from_file(path: &Path) -> Result<RuleSource, LoadError> {
        let io_error = |source| LoadError::Io {
            path: path.to_path_buf(),
            source,
        };
        let file = std::fs::File::open(path).map_err(io_error)?;
        // Read one byte past the limit to tell a file at the limit from a bigger one, and
        // never more: the file may be a device or grow while read.
        let limit = u64::try_from(MAX_RULES_FILE_BYTES).unwrap_or(u64::MAX);
        let mut bytes = Vec::new();
        file.take(limit.saturating_add(1))
            .read_to_end(&mut bytes)
            .map_err(io_error)?;
        if bytes.len() > MAX_RULES_FILE_BYTES {
            return Err(LoadError::TooLarge {
                path: path.to_path_buf(),
                limit: MAX_RULES_FILE_BYTES,
            });
        }
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
