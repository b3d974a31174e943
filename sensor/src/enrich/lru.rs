//! A map with a fixed number of entries that, when full, drops the entry used least recently:
//! the bound of every cache an observed process can fill (processes, cgroups, mount
//! namespaces, pending exec images). Clearing a full cache whole would let one tenant that
//! creates many of them evict every other tenant's entries at once and make each of their
//! next events pay a /proc read; here a flood only pushes out what nobody used since.
//!
//! An intrusive doubly linked list over a slab of slots, indexed by a hash map: a lookup, an
//! insert and an eviction each cost one hash operation and a few index writes, never a scan.

use std::collections::HashMap;
use std::hash::Hash;

const NONE: u32 = u32::MAX;

struct Slot<K, V> {
    key: K,
    value: V,
    /// Towards the most recently used end.
    newer: u32,
    /// Towards the least recently used end.
    older: u32,
}

pub struct LruMap<K, V> {
    index: HashMap<K, u32>,
    slots: Vec<Slot<K, V>>,
    /// Most recently used slot.
    newest: u32,
    /// Least recently used slot: the next one evicted.
    oldest: u32,
    capacity: usize,
    /// Entries dropped to make room, for the logs and the metrics.
    evicted: u64,
}

impl<K: Hash + Eq + Clone, V> LruMap<K, V> {
    /// A map of at most `capacity` entries (at least one). Memory grows with use, up to that.
    pub fn new(capacity: usize) -> Self {
        let capacity = capacity.clamp(1, NONE as usize - 1);
        Self {
            index: HashMap::new(),
            slots: Vec::new(),
            newest: NONE,
            oldest: NONE,
            capacity,
            evicted: 0,
        }
    }

    pub fn len(&self) -> usize {
        self.index.len()
    }

    pub fn is_empty(&self) -> bool {
        self.index.is_empty()
    }

    pub fn capacity(&self) -> usize {
        self.capacity
    }

    /// Entries dropped so far because the map was full.
    pub fn evicted(&self) -> u64 {
        self.evicted
    }

    /// The value of `key`, without counting as a use (no reordering).
    pub fn peek(&self, key: &K) -> Option<&V> {
        self.index.get(key).map(|&i| &self.slots[i as usize].value)
    }

    pub fn contains(&self, key: &K) -> bool {
        self.index.contains_key(key)
    }

    /// The value of `key`, now the most recently used.
    pub fn get(&mut self, key: &K) -> Option<&V> {
        let i = *self.index.get(key)?;
        self.touch(i);
        Some(&self.slots[i as usize].value)
    }

    /// As [`LruMap::get`], mutable.
    pub fn get_mut(&mut self, key: &K) -> Option<&mut V> {
        let i = *self.index.get(key)?;
        self.touch(i);
        Some(&mut self.slots[i as usize].value)
    }

    /// Sets `key` to `value` as the most recently used entry; when a new key finds the map
    /// full, the least recently used entry goes first and is returned.
    pub fn insert(&mut self, key: K, value: V) -> Option<(K, V)> {
        if let Some(&i) = self.index.get(&key) {
            self.slots[i as usize].value = value;
            self.touch(i);
            return None;
        }
        if self.index.len() >= self.capacity {
            // Reuse the oldest slot in place: the slab never grows past the capacity.
            let i = self.oldest;
            self.unlink(i);
            let slot = &mut self.slots[i as usize];
            let old_key = std::mem::replace(&mut slot.key, key.clone());
            let old_value = std::mem::replace(&mut slot.value, value);
            self.index.remove(&old_key);
            self.index.insert(key, i);
            self.push_newest(i);
            self.evicted += 1;
            return Some((old_key, old_value));
        }
        let i = self.slots.len() as u32;
        self.slots.push(Slot {
            key: key.clone(),
            value,
            newer: NONE,
            older: NONE,
        });
        self.index.insert(key, i);
        self.push_newest(i);
        None
    }

    /// Removes `key`, returning its value.
    pub fn remove(&mut self, key: &K) -> Option<V> {
        let i = self.index.remove(key)?;
        self.unlink(i);
        let last = self.slots.len() as u32 - 1;
        // Keep the slab dense: the last slot moves into the hole.
        let removed = self.slots.swap_remove(i as usize);
        if i != last {
            // Nothing links to `i` any more; point the moved slot's neighbours and its key at
            // its new place.
            let (newer, older) = {
                let moved = &self.slots[i as usize];
                (moved.newer, moved.older)
            };
            if newer != NONE {
                self.slots[newer as usize].older = i;
            } else {
                self.newest = i;
            }
            if older != NONE {
                self.slots[older as usize].newer = i;
            } else {
                self.oldest = i;
            }
            let moved_key = &self.slots[i as usize].key;
            if let Some(slot) = self.index.get_mut(moved_key) {
                *slot = i;
            }
        }
        Some(removed.value)
    }

    /// The least recently used entry.
    pub fn oldest(&self) -> Option<(&K, &V)> {
        (self.oldest != NONE).then(|| {
            let s = &self.slots[self.oldest as usize];
            (&s.key, &s.value)
        })
    }

    /// Removes and returns the least recently used entry.
    pub fn pop_oldest(&mut self) -> Option<(K, V)> {
        let key = self.oldest().map(|(k, _)| k.clone())?;
        let value = self.remove(&key)?;
        Some((key, value))
    }

    pub fn clear(&mut self) {
        self.index.clear();
        self.slots.clear();
        self.newest = NONE;
        self.oldest = NONE;
    }

    /// Values from the most recently used on.
    pub fn values(&self) -> impl Iterator<Item = &V> {
        std::iter::successors((self.newest != NONE).then_some(self.newest), |&i| {
            let older = self.slots[i as usize].older;
            (older != NONE).then_some(older)
        })
        .map(|i| &self.slots[i as usize].value)
    }

    fn touch(&mut self, i: u32) {
        if self.newest == i {
            return;
        }
        self.unlink(i);
        self.push_newest(i);
    }

    fn push_newest(&mut self, i: u32) {
        let old_newest = self.newest;
        {
            let slot = &mut self.slots[i as usize];
            slot.newer = NONE;
            slot.older = old_newest;
        }
        if old_newest != NONE {
            self.slots[old_newest as usize].newer = i;
        } else {
            self.oldest = i;
        }
        self.newest = i;
    }

    fn unlink(&mut self, i: u32) {
        let (newer, older) = {
            let slot = &self.slots[i as usize];
            (slot.newer, slot.older)
        };
        if newer != NONE {
            self.slots[newer as usize].older = older;
        } else {
            self.newest = older;
        }
        if older != NONE {
            self.slots[older as usize].newer = newer;
        } else {
            self.oldest = newer;
        }
        let slot = &mut self.slots[i as usize];
        slot.newer = NONE;
        slot.older = NONE;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn order(map: &LruMap<u32, u32>) -> Vec<u32> {
        map.values().copied().collect()
    }

    #[test]
    fn a_full_map_drops_the_least_recently_used() {
        let mut map = LruMap::new(3);
        for k in 1..=3 {
            assert!(map.insert(k, k).is_none());
        }
        assert_eq!(map.get(&1), Some(&1));
        assert_eq!(map.insert(4, 4), Some((2, 2)));
        assert_eq!(order(&map), [4, 1, 3]);
        assert_eq!(map.insert(5, 5), Some((3, 3)));
        assert_eq!(map.len(), 3);
        assert_eq!(map.evicted(), 2);
        // Replacing a value is a use, not an eviction.
        assert!(map.insert(1, 10).is_none());
        assert_eq!(order(&map), [10, 5, 4]);
        assert_eq!(map.pop_oldest(), Some((4, 4)));
    }

    #[test]
    fn removal_keeps_the_order_of_the_rest() {
        let mut map = LruMap::new(8);
        for k in 0..6 {
            map.insert(k, k);
        }
        // The first slot, a middle one and the newest.
        assert_eq!(map.remove(&0), Some(0));
        assert_eq!(map.remove(&3), Some(3));
        assert_eq!(map.remove(&5), Some(5));
        assert_eq!(map.remove(&5), None);
        assert_eq!(order(&map), [4, 2, 1]);
        for k in [1, 2, 4] {
            assert_eq!(map.peek(&k), Some(&k));
        }
        map.get(&1);
        assert_eq!(order(&map), [1, 4, 2]);
        assert_eq!(map.oldest(), Some((&2, &2)));
    }

    /// Against a plain model: the map always holds the `capacity` keys used last.
    #[test]
    fn matches_a_model_under_mixed_use() {
        let capacity = 16;
        let mut map = LruMap::new(capacity);
        let mut model: Vec<u32> = Vec::new(); // most recent last
        let mut x: u64 = 0x2545_f491_4f6c_dd1d;
        for _ in 0..20_000 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            let key = (x % 40) as u32;
            match (x >> 8) % 3 {
                0 => {
                    map.insert(key, key);
                    model.retain(|&k| k != key);
                    model.push(key);
                    if model.len() > capacity {
                        model.remove(0);
                    }
                }
                1 => {
                    let got = map.get(&key).copied();
                    let want = model.contains(&key).then_some(key);
                    assert_eq!(got, want);
                    if want.is_some() {
                        model.retain(|&k| k != key);
                        model.push(key);
                    }
                }
                _ => {
                    assert_eq!(map.remove(&key), model.contains(&key).then_some(key));
                    model.retain(|&k| k != key);
                }
            }
            let want: Vec<u32> = model.iter().rev().copied().collect();
            assert_eq!(order(&map), want);
        }
    }
}
