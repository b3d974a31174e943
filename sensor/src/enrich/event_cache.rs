//! The event cache (as Tetragon's eventcache): events whose pod or user names are not known
//! yet wait here, in arrival order, until the answer comes or their deadline passes, while
//! the events of other processes flow on.
//!
//! Order per process is kept: once an event of a process is held, every later event of that
//! process is held behind it (even one that needs nothing), and an event is released only
//! when no earlier event of its process is still held. Bounded in count and bytes; when full,
//! the oldest held event is released as it is (counted as `evicted`, never dropped), which
//! cannot break the order: the oldest is first of its process too.

use std::collections::{HashMap, HashSet, VecDeque};

/// Held events at most, by default.
pub const MAX_EVENTS: usize = 16_384;
/// Estimated bytes of held events at most, by default: well within the DaemonSet's limit.
pub const MAX_BYTES: usize = 16 << 20;

/// What to do with a held event now.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Verdict {
    /// Still missing something and its deadline has not passed.
    Wait,
    /// Everything it waited for is known.
    Ready,
    /// Its deadline passed: released without what was missing.
    Expired,
}

/// Counters, for metrics and the summary.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct EventCacheStats {
    /// Events held now.
    pub held: usize,
    /// Events that were ever held.
    pub holds: u64,
    /// Released once what they waited for was known.
    pub completed: u64,
    /// Released at their deadline without it.
    pub expired: u64,
    /// Released early without it because the cache was full (oldest first).
    pub evicted: u64,
}

struct Held<E> {
    item: E,
    pid: u32,
    bytes: usize,
}

pub struct EventCache<E> {
    queue: VecDeque<Held<E>>,
    per_pid: HashMap<u32, usize>,
    bytes: usize,
    max_events: usize,
    max_bytes: usize,
    stats: EventCacheStats,
}

impl<E> EventCache<E> {
    pub fn new(max_events: usize, max_bytes: usize) -> Self {
        Self {
            queue: VecDeque::new(),
            per_pid: HashMap::new(),
            bytes: 0,
            max_events: max_events.max(1),
            max_bytes,
            stats: EventCacheStats::default(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.queue.is_empty()
    }

    pub fn len(&self) -> usize {
        self.queue.len()
    }

    /// True while an event of `pid` is held: a later one must wait behind it.
    pub fn holds(&self, pid: u32) -> bool {
        self.per_pid.contains_key(&pid)
    }

    pub fn stats(&self) -> EventCacheStats {
        EventCacheStats {
            held: self.queue.len(),
            ..self.stats
        }
    }

    /// Holds `item` (of process `pid`, about `bytes` large). If that overfills the cache, the
    /// oldest held events go to `evicted`.
    pub fn hold(&mut self, item: E, pid: u32, bytes: usize, mut evicted: impl FnMut(E)) {
        self.queue.push_back(Held { item, pid, bytes });
        *self.per_pid.entry(pid).or_default() += 1;
        self.bytes += bytes;
        self.stats.holds += 1;
        while self.queue.len() > self.max_events
            || (self.bytes > self.max_bytes && self.queue.len() > 1)
        {
            let Some(oldest) = self.pop_front() else {
                break;
            };
            self.stats.evicted += 1;
            evicted(oldest);
        }
    }

    fn pop_front(&mut self) -> Option<E> {
        let held = self.queue.pop_front()?;
        self.forget(&held);
        Some(held.item)
    }

    fn forget(&mut self, held: &Held<E>) {
        self.bytes -= held.bytes;
        if let Some(n) = self.per_pid.get_mut(&held.pid) {
            *n -= 1;
            if *n == 0 {
                self.per_pid.remove(&held.pid);
            }
        }
    }

    /// Releases, in order, every held event that `verdict` lets go and that no earlier held
    /// event of its process is waiting in front of.
    pub fn release(&mut self, mut verdict: impl FnMut(&mut E) -> Verdict, mut out: impl FnMut(E)) {
        let mut blocked: HashSet<u32> = HashSet::new();
        let queue = std::mem::take(&mut self.queue);
        let mut kept = VecDeque::with_capacity(queue.len());
        for mut held in queue {
            if !blocked.contains(&held.pid) {
                match verdict(&mut held.item) {
                    Verdict::Wait => {}
                    v => {
                        if v == Verdict::Ready {
                            self.stats.completed += 1;
                        } else {
                            self.stats.expired += 1;
                        }
                        self.forget(&held);
                        out(held.item);
                        continue;
                    }
                }
            }
            blocked.insert(held.pid);
            kept.push_back(held);
        }
        self.queue = kept;
    }

    /// Releases everything held, in order (at shutdown).
    pub fn drain(&mut self, mut out: impl FnMut(E)) {
        while let Some(item) = self.pop_front() {
            self.stats.expired += 1;
            out(item);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// (pid, sequence number, ready)
    type Item = (u32, u32, bool);

    fn released(cache: &mut EventCache<Item>) -> Vec<(u32, u32)> {
        let mut out = Vec::new();
        cache.release(
            |i| if i.2 { Verdict::Ready } else { Verdict::Wait },
            |i| out.push((i.0, i.1)),
        );
        out
    }

    #[test]
    fn a_process_keeps_its_order_and_others_pass() {
        let mut c = EventCache::new(100, 1 << 20);
        c.hold((1, 0, false), 1, 10, |_| panic!("not full"));
        // A later event of pid 1 that is ready itself must wait behind the held one.
        c.hold((1, 1, true), 1, 10, |_| panic!("not full"));
        c.hold((2, 0, true), 2, 10, |_| panic!("not full"));
        assert_eq!(released(&mut c), vec![(2, 0)]);
        assert!(c.holds(1) && !c.holds(2));
        let mut out = Vec::new();
        c.release(|_| Verdict::Ready, |i| out.push((i.0, i.1)));
        assert_eq!(out, vec![(1, 0), (1, 1)]);
        assert!(c.is_empty());
        assert_eq!(c.stats().completed, 3);
    }

    #[test]
    fn full_releases_the_oldest_and_counts_it() {
        let mut c = EventCache::new(2, 1 << 20);
        let mut evicted = Vec::new();
        for n in 0..4 {
            c.hold((n, n, false), n, 10, |i| evicted.push(i.1));
        }
        assert_eq!(evicted, vec![0, 1]);
        assert_eq!(c.len(), 2);
        assert_eq!(c.stats().evicted, 2);
        // By bytes too.
        let mut c = EventCache::new(100, 25);
        let mut evicted = Vec::new();
        for n in 0..4 {
            c.hold((n, n, false), n, 10, |i| evicted.push(i.1));
        }
        assert_eq!(evicted, vec![0, 1]);
        let mut rest = Vec::new();
        c.drain(|i| rest.push(i.1));
        assert_eq!(rest, vec![2, 3]);
        assert!(!c.holds(3));
    }

    #[test]
    fn expired_events_are_released_and_counted() {
        let mut c = EventCache::new(10, 1 << 20);
        c.hold((1, 0, false), 1, 1, |_| {});
        let mut out = Vec::new();
        c.release(|_| Verdict::Expired, |i| out.push(i.1));
        assert_eq!(out, vec![0]);
        assert_eq!(c.stats().expired, 1);
    }
}
