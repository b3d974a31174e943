//! `pmatch`: does the path lie under one of the listed directories? Compares whole path
//! components (so `/usr` matches `/usr/bin` but not `/usrx`); a component with `*`, `?` or
//! `[` is a glob, as in libsinsp's path_prefix_search.

use super::glob::GlobPattern;

#[derive(Clone, Debug)]
enum Component {
    Literal(Box<[u8]>),
    Glob(GlobPattern),
}

#[derive(Clone, Debug, Default)]
pub struct PathPrefixSet {
    prefixes: Vec<Vec<Component>>,
    /// The paths as written, for consumers that compile them elsewhere (a kernel filter).
    paths: Vec<Box<[u8]>>,
}

fn components(path: &[u8]) -> impl Iterator<Item = &[u8]> {
    path.split(|b| *b == b'/').filter(|part| !part.is_empty())
}

impl PathPrefixSet {
    pub fn new<'a>(paths: impl IntoIterator<Item = &'a [u8]>) -> Self {
        let paths: Vec<Box<[u8]>> = paths.into_iter().map(Box::from).collect();
        let prefixes = paths
            .iter()
            .map(|path| {
                components(path)
                    .map(|part| {
                        if part.iter().any(|b| matches!(b, b'*' | b'?' | b'[')) {
                            Component::Glob(GlobPattern::new(part, false))
                        } else {
                            Component::Literal(part.into())
                        }
                    })
                    .collect()
            })
            .collect();
        PathPrefixSet { prefixes, paths }
    }

    /// The prefixes as written in the rule, in order.
    pub fn paths(&self) -> impl Iterator<Item = &[u8]> {
        self.paths.iter().map(|path| &**path)
    }

    pub fn matches(&self, path: &[u8]) -> bool {
        self.prefixes.iter().any(|prefix| {
            let mut parts = components(path);
            prefix.iter().all(|component| match parts.next() {
                None => false,
                Some(part) => match component {
                    Component::Literal(literal) => **literal == *part,
                    Component::Glob(glob) => glob.matches(part),
                },
            })
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matches_whole_components() {
        let set = PathPrefixSet::new([
            b"/usr".as_slice(),
            b"/etc/ssh".as_slice(),
            b"/var/*/log".as_slice(),
        ]);
        assert!(set.matches(b"/usr/bin/ls"));
        assert!(set.matches(b"/usr"));
        assert!(!set.matches(b"/usrx/bin"));
        assert!(set.matches(b"/etc/ssh/sshd_config"));
        assert!(!set.matches(b"/etc/sshd"));
        assert!(set.matches(b"/var/app/log/x"));
        assert!(PathPrefixSet::new([b"/".as_slice()]).matches(b"/anything"));
    }
}
