//! Errors that stop loading before any rule is read: files that cannot be read or are too
//! large to read.

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
    #[error("rules file `{path}` is larger than {limit} bytes (MAX_RULES_FILE_BYTES; Falco's largest rules file has 95 KB); split it into several files")]
    TooLarge { path: PathBuf, limit: usize },
}
