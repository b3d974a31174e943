//! Comparisons of a string value with constants, built once when a rule is compiled.

use aho_corasick::AhoCorasick;
use memchr::memmem::Finder;
use regex::bytes::Regex;

use super::byte_set::ByteSet;
use super::glob::GlobPattern;
use super::path_prefix::PathPrefixSet;
use crate::condition::Modifier;

#[derive(Clone, Debug)]
pub enum StrTest {
    Eq(Box<[u8]>),
    Ne(Box<[u8]>),
    Lt(Box<[u8]>),
    Le(Box<[u8]>),
    Gt(Box<[u8]>),
    Ge(Box<[u8]>),
    Contains(Box<Finder<'static>>),
    /// ASCII case-insensitive substring, as strcasestr(3).
    IContains(AhoCorasick),
    StartsWith(Box<[u8]>),
    EndsWith(Box<[u8]>),
    Glob(GlobPattern),
    Regex(Regex),
    In(ByteSet),
    PMatch(PathPrefixSet),
    /// `op oneof/anyof/allof (values)`: one test per value.
    Modified {
        modifier: Modifier,
        tests: Box<[StrTest]>,
        /// `= anyof` and `!= allof` are plain set (non-)membership.
        set: Option<ByteSet>,
    },
}

impl StrTest {
    #[inline]
    pub fn matches(&self, value: &[u8]) -> bool {
        match self {
            StrTest::Eq(expected) => **expected == *value,
            StrTest::Ne(expected) => **expected != *value,
            StrTest::Lt(bound) => value < &**bound,
            StrTest::Le(bound) => value <= &**bound,
            StrTest::Gt(bound) => value > &**bound,
            StrTest::Ge(bound) => value >= &**bound,
            StrTest::Contains(finder) => finder.find(value).is_some(),
            StrTest::IContains(searcher) => searcher.is_match(value),
            StrTest::StartsWith(prefix) => value.starts_with(prefix),
            StrTest::EndsWith(suffix) => value.ends_with(suffix),
            StrTest::Glob(glob) => glob.matches(value),
            StrTest::Regex(regex) => regex.is_match(value),
            StrTest::In(set) => set.contains(value),
            StrTest::PMatch(prefixes) => prefixes.matches(value),
            StrTest::Modified {
                modifier,
                tests,
                set,
            } => match (modifier, set) {
                (Modifier::AnyOf, Some(set)) => set.contains(value),
                (Modifier::AllOf, Some(set)) => !set.contains(value),
                (Modifier::AnyOf, None) => tests.iter().any(|test| test.matches(value)),
                (Modifier::AllOf, None) => tests.iter().all(|test| test.matches(value)),
                (Modifier::OneOf, _) => {
                    let mut hits = 0;
                    for test in tests.iter() {
                        if test.matches(value) {
                            hits += 1;
                            if hits > 1 {
                                return false;
                            }
                        }
                    }
                    hits == 1
                }
            },
        }
    }
}
