//! Precompiled value tests: strings, numbers, IP addresses and networks, globs, path
//! prefixes, sets.

mod byte_set;
mod glob;
mod ip_test;
mod number_test;
mod path_prefix;
mod string_test;

pub use byte_set::ByteSet;
pub use glob::GlobPattern;
pub use ip_test::{
    canonical_ip, parse_ip_address, same_ip, IpNetwork, IpParseError, IpSet, IpTest,
};
pub use number_test::{parse_integer, NumOp, NumTest};
pub use path_prefix::PathPrefixSet;
pub use string_test::StrTest;
