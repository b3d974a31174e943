//! The bounded queue every output holds its alerts in, with an explicit policy for when it is
//! full (as Vector's buffers): drop the newest, drop the oldest, or drop by priority (the
//! default), where the least severe alert goes first and a CRITICAL alert is never dropped
//! while a NOTICE one is queued. A queue is bounded by a count and, optionally, by bytes.
//!
//! One deque per priority, each in arrival order, and a sequence number per item: delivery
//! takes the oldest front of the eight, eviction the front of the least severe non-empty
//! deque. Both are a fixed eight comparisons, so a flood costs the pipeline no scan.

use std::collections::VecDeque;

use sensor_rules::Priority;

/// What a full queue gives up.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Deserialize, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum WhenFull {
    /// The alert arriving is dropped; what is queued stays.
    DropNewest,
    /// The oldest queued alert is dropped to make room.
    DropOldest,
    /// The least severe alert (the oldest of those) is dropped, the arriving one if it is
    /// less severe than everything queued.
    #[default]
    ByPriority,
}

impl WhenFull {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::DropNewest => "drop_newest",
            Self::DropOldest => "drop_oldest",
            Self::ByPriority => "by_priority",
        }
    }
}

/// What a queue holds: an alert, with its severity and its size.
pub trait Weighed {
    fn priority(&self) -> Priority;
    /// Bytes it keeps alive, for a byte budget.
    fn bytes(&self) -> usize;
}

/// How a push went: what it cost the queue.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Pushed<T> {
    /// Dropped to make room (or the arriving item itself, refused).
    pub dropped: Vec<T>,
}

impl<T> Pushed<T> {
    pub fn dropped(&self) -> usize {
        self.dropped.len()
    }
}

const LEVELS: usize = Priority::ALL.len();

pub struct AlertQueue<T> {
    levels: [VecDeque<(u64, T)>; LEVELS],
    next: u64,
    len: usize,
    bytes: usize,
    capacity: usize,
    max_bytes: Option<usize>,
    policy: WhenFull,
}

impl<T: Weighed> AlertQueue<T> {
    /// At most `capacity` items (at least one) and, when given, `max_bytes` bytes.
    pub fn new(capacity: usize, max_bytes: Option<usize>, policy: WhenFull) -> Self {
        Self {
            levels: Default::default(),
            next: 0,
            len: 0,
            bytes: 0,
            capacity: capacity.max(1),
            max_bytes,
            policy,
        }
    }

    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    pub fn bytes(&self) -> usize {
        self.bytes
    }

    fn over(&self, extra_bytes: usize, limit_bytes: Option<usize>) -> bool {
        let count = self.len >= self.capacity;
        let bytes = [self.max_bytes, limit_bytes]
            .into_iter()
            .flatten()
            .any(|max| self.bytes + extra_bytes > max);
        count || (bytes && self.len > 0)
    }

    /// Queues `item`, dropping what the policy says while the queue is full.
    pub fn push(&mut self, item: T) -> Pushed<T> {
        self.push_within(item, None)
    }

    /// As [`AlertQueue::push`], with a further byte bound (what a shared budget has left for
    /// this queue: `bytes()` plus the budget's free bytes).
    pub fn push_within(&mut self, item: T, limit_bytes: Option<usize>) -> Pushed<T> {
        let mut pushed = Pushed {
            dropped: Vec::new(),
        };
        let size = item.bytes();
        let level = item.priority() as usize;
        while self.over(size, limit_bytes) {
            let victim = match self.policy {
                WhenFull::DropNewest => None,
                WhenFull::DropOldest => self.oldest_level(),
                // The least severe level, unless the arriving item is less severe still.
                WhenFull::ByPriority => self.least_severe_level().filter(|&l| l >= level),
            };
            match victim {
                Some(l) => {
                    if let Some((_, old)) = self.levels[l].pop_front() {
                        self.len -= 1;
                        self.bytes -= old.bytes();
                        pushed.dropped.push(old);
                    }
                }
                None => {
                    pushed.dropped.push(item);
                    return pushed;
                }
            }
        }
        self.next += 1;
        self.levels[level].push_back((self.next, item));
        self.len += 1;
        self.bytes += size;
        pushed
    }

    fn oldest_level(&self) -> Option<usize> {
        (0..LEVELS)
            .filter_map(|l| self.levels[l].front().map(|(seq, _)| (*seq, l)))
            .min()
            .map(|(_, l)| l)
    }

    fn least_severe_level(&self) -> Option<usize> {
        (0..LEVELS).rev().find(|&l| !self.levels[l].is_empty())
    }

    /// The oldest item, whatever its priority (delivery keeps arrival order).
    pub fn pop(&mut self) -> Option<T> {
        let level = self.oldest_level()?;
        let (_, item) = self.levels[level].pop_front()?;
        self.len -= 1;
        self.bytes -= item.bytes();
        Some(item)
    }

    /// Everything queued, oldest first.
    pub fn drain(&mut self) -> VecDeque<T> {
        let mut all = VecDeque::with_capacity(self.len);
        while let Some(item) = self.pop() {
            all.push_back(item);
        }
        all
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, PartialEq, Eq)]
    struct Item(Priority, u32, usize);

    impl Weighed for Item {
        fn priority(&self) -> Priority {
            self.0
        }
        fn bytes(&self) -> usize {
            self.2
        }
    }

    fn ids(queue: &mut AlertQueue<Item>) -> Vec<u32> {
        queue.drain().into_iter().map(|i| i.1).collect()
    }

    #[test]
    fn a_flood_of_notices_never_evicts_a_critical() {
        let mut queue = AlertQueue::new(4, None, WhenFull::ByPriority);
        assert!(queue
            .push(Item(Priority::Critical, 0, 1))
            .dropped
            .is_empty());
        for i in 1..1000 {
            let pushed = queue.push(Item(Priority::Notice, i, 1));
            assert!(pushed.dropped.iter().all(|d| d.0 == Priority::Notice));
        }
        // The critical one, then the newest notices, in arrival order.
        assert_eq!(ids(&mut queue), [0, 997, 998, 999]);
    }

    #[test]
    fn a_less_severe_arrival_into_a_full_queue_of_severe_ones_is_refused() {
        let mut queue = AlertQueue::new(2, None, WhenFull::ByPriority);
        queue.push(Item(Priority::Critical, 0, 1));
        queue.push(Item(Priority::Error, 1, 1));
        let pushed = queue.push(Item(Priority::Notice, 2, 1));
        assert_eq!(pushed.dropped, [Item(Priority::Notice, 2, 1)]);
        // A more severe one evicts the least severe queued.
        let pushed = queue.push(Item(Priority::Emergency, 3, 1));
        assert_eq!(pushed.dropped, [Item(Priority::Error, 1, 1)]);
        assert_eq!(ids(&mut queue), [0, 3]);
    }

    #[test]
    fn drop_oldest_and_drop_newest_ignore_priority() {
        let mut oldest = AlertQueue::new(2, None, WhenFull::DropOldest);
        let mut newest = AlertQueue::new(2, None, WhenFull::DropNewest);
        for (i, p) in [Priority::Critical, Priority::Notice, Priority::Notice]
            .into_iter()
            .enumerate()
        {
            oldest.push(Item(p, i as u32, 1));
            newest.push(Item(p, i as u32, 1));
        }
        assert_eq!(ids(&mut oldest), [1, 2]);
        assert_eq!(ids(&mut newest), [0, 1]);
    }

    #[test]
    fn the_byte_budget_bounds_the_queue_and_one_large_item_still_fits_alone() {
        let mut queue = AlertQueue::new(100, Some(10), WhenFull::ByPriority);
        queue.push(Item(Priority::Critical, 0, 4));
        queue.push(Item(Priority::Notice, 1, 4));
        let pushed = queue.push(Item(Priority::Warning, 2, 4));
        assert_eq!(pushed.dropped, [Item(Priority::Notice, 1, 4)]);
        assert_eq!(queue.bytes(), 8);
        // A shared budget's lower limit counts too.
        let pushed = queue.push_within(Item(Priority::Critical, 3, 4), Some(8));
        assert_eq!(pushed.dropped, [Item(Priority::Warning, 2, 4)]);
        assert_eq!(ids(&mut queue), [0, 3]);
        // An item over the whole budget is taken when the queue is empty, not refused forever.
        assert!(queue.push(Item(Priority::Notice, 4, 50)).dropped.is_empty());
        assert_eq!(queue.len(), 1);
    }
}
