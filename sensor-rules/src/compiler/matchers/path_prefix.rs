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
}

fn components(path: &[u8]) -> impl Iterator<Item = &[u8]> {
    path.split(|b| *b == b'/').filter(|part| !part.is_empty())
}

impl PathPrefixSet {
    pub fn new<'a>(paths: impl IntoIterator<Item = &'a [u8]>) -> Self {
        let prefixes = paths
            .into_iter()
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
        PathPrefixSet { prefixes }
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
