//! Event type names and ids: Falco's universe of names, and the ones the sensor captures.

use std::collections::HashMap;
use std::fmt;
use std::sync::LazyLock;

use super::falco_event_types::FALCO_EVENT_TYPES;

/// The event types the sensor captures. Fork-like syscalls are reported once, from
/// `sched_process_fork`, as `clone`; `procexit` is the process exit.
pub const SENSOR_EVENT_TYPES: &[&str] = &[
    "execve",
    "execveat",
    "chmod",
    "fchmod",
    "fchmodat",
    "fchmodat2",
    "mount",
    "umount",
    "umount2",
    "fsopen",
    "fsconfig",
    "fsmount",
    "move_mount",
    "open_tree",
    "mount_setattr",
    "setuid",
    "setgid",
    "setreuid",
    "setregid",
    "setresuid",
    "setresgid",
    "setfsuid",
    "setfsgid",
    "capset",
    "clone",
    "fork",
    "vfork",
    "clone3",
    "procexit",
];

/// Index of an event type name in Falco's table of names. Sensors can compute it once per
/// syscall with [`EventTypeId::from_name`] and return it from [`crate::Event::event_type_id`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct EventTypeId(pub u16);

static IDS_BY_NAME: LazyLock<HashMap<&'static str, EventTypeId, foldhash::fast::RandomState>> =
    LazyLock::new(|| {
        FALCO_EVENT_TYPES
            .iter()
            .enumerate()
            .map(|(index, name)| (*name, EventTypeId(index as u16)))
            .collect()
    });

impl EventTypeId {
    /// The id of a Falco event type name, `None` for names Falco does not know.
    pub fn from_name(name: &str) -> Option<EventTypeId> {
        IDS_BY_NAME.get(name).copied()
    }

    pub fn name(self) -> &'static str {
        FALCO_EVENT_TYPES
            .get(usize::from(self.0))
            .copied()
            .unwrap_or("unknown")
    }

    /// Number of known event type names; ids are below this.
    pub fn count() -> usize {
        FALCO_EVENT_TYPES.len()
    }
}

impl fmt::Display for EventTypeId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// True if Falco knows this event type name.
pub fn is_falco_event_type(name: &str) -> bool {
    IDS_BY_NAME.contains_key(name)
}

const MASK_WORDS: usize = FALCO_EVENT_TYPES.len().div_ceil(64);

/// A set of event type ids, one bit each; testing membership costs one load.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash)]
pub struct EventTypeMask {
    words: [u64; MASK_WORDS],
}

impl EventTypeMask {
    pub fn insert(&mut self, id: EventTypeId) {
        let index = usize::from(id.0);
        if let Some(word) = self.words.get_mut(index / 64) {
            *word |= 1 << (index % 64);
        }
    }

    #[inline]
    pub fn contains(&self, id: EventTypeId) -> bool {
        let index = usize::from(id.0);
        self.words
            .get(index / 64)
            .is_some_and(|word| word & (1 << (index % 64)) != 0)
    }

    pub fn is_empty(&self) -> bool {
        self.words.iter().all(|word| *word == 0)
    }

    /// Every event type Falco knows.
    pub fn full() -> Self {
        let mut mask = EventTypeMask {
            words: [u64::MAX; MASK_WORDS],
        };
        let used = FALCO_EVENT_TYPES.len() % 64;
        if used != 0 {
            mask.words[MASK_WORDS - 1] = (1u64 << used) - 1;
        }
        mask
    }

    pub fn union(&self, other: &EventTypeMask) -> EventTypeMask {
        let mut out = self.clone();
        for (word, other) in out.words.iter_mut().zip(other.words.iter()) {
            *word |= other;
        }
        out
    }

    pub fn intersection(&self, other: &EventTypeMask) -> EventTypeMask {
        let mut out = self.clone();
        for (word, other) in out.words.iter_mut().zip(other.words.iter()) {
            *word &= other;
        }
        out
    }

    /// Every known event type not in this set.
    pub fn complement(&self) -> EventTypeMask {
        let full = EventTypeMask::full();
        let mut out = self.clone();
        for (word, full) in out.words.iter_mut().zip(full.words.iter()) {
            *word = !*word & full;
        }
        out
    }

    pub fn len(&self) -> usize {
        self.words
            .iter()
            .map(|word| word.count_ones() as usize)
            .sum()
    }

    pub fn is_full(&self) -> bool {
        *self == EventTypeMask::full()
    }

    pub fn iter(&self) -> impl Iterator<Item = EventTypeId> + '_ {
        (0..FALCO_EVENT_TYPES.len())
            .map(|index| EventTypeId(index as u16))
            .filter(|id| self.contains(*id))
    }
}

impl FromIterator<EventTypeId> for EventTypeMask {
    fn from_iter<T: IntoIterator<Item = EventTypeId>>(iter: T) -> Self {
        let mut mask = EventTypeMask::default();
        for id in iter {
            mask.insert(id);
        }
        mask
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sensor_types_are_falco_types() {
        for name in SENSOR_EVENT_TYPES {
            assert!(is_falco_event_type(name), "{name}");
        }
        assert!(FALCO_EVENT_TYPES.windows(2).all(|w| w[0] < w[1]), "sorted");
    }

    #[test]
    fn mask_membership() {
        let execve = EventTypeId::from_name("execve").expect("known");
        let chmod = EventTypeId::from_name("chmod").expect("known");
        let mask: EventTypeMask = [execve].into_iter().collect();
        assert!(mask.contains(execve));
        assert!(!mask.contains(chmod));
        assert_eq!(execve.name(), "execve");
    }
}
