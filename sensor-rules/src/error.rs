//! Errors that stop loading before any rule is read: files that cannot be read.

use std::path::PathBuf;

#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    #[error("cannot read rules path `{path}`: {source}; check that it exists and is readable")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("rules file `{path}` is not valid UTF-8 text; save it as UTF-8")]
    NotUtf8 { path: PathBuf },
}
