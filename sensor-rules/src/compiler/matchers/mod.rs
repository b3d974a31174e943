//! Precompiled value tests: strings, numbers, globs, path prefixes, sets.

mod byte_set;
mod glob;
mod number_test;
mod path_prefix;
mod string_test;

pub use byte_set::ByteSet;
pub use glob::GlobPattern;
pub use number_test::{parse_integer, NumOp, NumTest};
pub use path_prefix::PathPrefixSet;
pub use string_test::StrTest;
