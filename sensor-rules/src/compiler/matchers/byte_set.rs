//! Set membership for `in` / `intersects` on strings: a linear scan for a few values, a hash
//! set (with a length pre-check, as libsinsp does) for more.

use std::collections::HashSet;

const LINEAR_LIMIT: usize = 6;

#[derive(Clone, Debug)]
pub enum ByteSet {
    Few(Vec<Box<[u8]>>),
    Many {
        values: HashSet<Box<[u8]>, foldhash::fast::FixedState>,
        min_len: usize,
        max_len: usize,
    },
}

impl ByteSet {
    pub fn new<I: IntoIterator<Item = Vec<u8>>>(values: I) -> Self {
        let mut unique: Vec<Box<[u8]>> = Vec::new();
        for value in values {
            let value = value.into_boxed_slice();
            if !unique.contains(&value) {
                unique.push(value);
            }
        }
        if unique.len() <= LINEAR_LIMIT {
            return ByteSet::Few(unique);
        }
        let min_len = unique.iter().map(|v| v.len()).min().unwrap_or(0);
        let max_len = unique.iter().map(|v| v.len()).max().unwrap_or(0);
        ByteSet::Many {
            values: unique.into_iter().collect(),
            min_len,
            max_len,
        }
    }

    #[inline]
    pub fn contains(&self, value: &[u8]) -> bool {
        match self {
            ByteSet::Few(values) => values.iter().any(|v| **v == *value),
            ByteSet::Many {
                values,
                min_len,
                max_len,
            } => (*min_len..=*max_len).contains(&value.len()) && values.contains(value),
        }
    }

    /// The values, in no particular order.
    pub fn iter(&self) -> impl Iterator<Item = &[u8]> {
        let (few, many) = match self {
            ByteSet::Few(values) => (Some(values.iter()), None),
            ByteSet::Many { values, .. } => (None, Some(values.iter())),
        };
        few.into_iter()
            .flatten()
            .chain(many.into_iter().flatten())
            .map(|value| &**value)
    }

    pub fn len(&self) -> usize {
        match self {
            ByteSet::Few(values) => values.len(),
            ByteSet::Many { values, .. } => values.len(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn small_and_large_sets() {
        let few = ByteSet::new(vec![b"a".to_vec(), b"bb".to_vec()]);
        assert!(few.contains(b"bb"));
        assert!(!few.contains(b"c"));
        let many = ByteSet::new((0..100).map(|i| format!("v{i}").into_bytes()));
        assert!(many.contains(b"v42"));
        assert!(!many.contains(b"v420"));
        assert!(!many.contains(b""));
    }
}
