//! A resolver: a few worker threads that do one kind of lookup which may block (a read in a
//! container's root, /proc, the cgroup tree), so that the capture thread only asks and later
//! reads the answer from memory.
//!
//! The observed process can make such a lookup block for as long as it likes (a FUSE
//! directory in its root, argv pages behind userfaultfd that a /proc/PID/cmdline read waits
//! on), and no read in progress can be cancelled. So the capture thread never waits for an
//! answer: whoever asked holds its event until the answer or a deadline (see
//! [`super::event_cache`]). A stuck worker stays stuck, but takes only its own request with
//! it: the pool starts another worker while none is idle, up to [`MAX_WORKERS`]; past that,
//! and when the queue is full, a request is refused at once and counted.

use std::collections::HashSet;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::mpsc::{self, Receiver, Sender, SyncSender, TrySendError};
use std::sync::{Arc, Mutex};

/// Workers of one resolver at most: as many requests as an attacker can keep stuck at once.
pub const MAX_WORKERS: usize = 4;
/// Requests waiting for a worker at most.
pub const QUEUE: usize = 4096;

/// What a resolver has done, for metrics.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ResolverStats {
    pub requests: u64,
    pub answers: u64,
    /// Refused: queue full (every worker busy or stuck).
    pub refused: u64,
    /// Requests taken by a worker and not answered yet (a lasting figure here is a stuck read).
    pub in_flight: usize,
}

/// A pool of workers answering requests of type `R` with `A`, each request known by a key so
/// that the same question is in flight only once.
pub struct Resolver<R, A> {
    name: &'static str,
    queue: SyncSender<R>,
    requests: Arc<Mutex<Receiver<R>>>,
    answers_tx: Sender<(u64, A)>,
    answers: Receiver<(u64, A)>,
    work: Arc<dyn Fn(R) -> A + Send + Sync>,
    key: fn(&R) -> u64,
    idle: Arc<AtomicUsize>,
    workers: usize,
    in_flight: HashSet<u64>,
    stats: ResolverStats,
    busy: Arc<AtomicU64>,
}

impl<R: Send + 'static, A: Send + 'static> Resolver<R, A> {
    pub fn new(
        name: &'static str,
        key: fn(&R) -> u64,
        work: impl Fn(R) -> A + Send + Sync + 'static,
    ) -> Self {
        let (queue, requests) = mpsc::sync_channel(QUEUE);
        let (answers_tx, answers) = mpsc::channel();
        Self {
            name,
            queue,
            requests: Arc::new(Mutex::new(requests)),
            answers_tx,
            answers,
            work: Arc::new(work),
            key,
            idle: Arc::new(AtomicUsize::new(0)),
            workers: 0,
            in_flight: HashSet::new(),
            stats: ResolverStats::default(),
            busy: Arc::new(AtomicU64::new(0)),
        }
    }

    /// True while `key` has been asked and not answered.
    pub fn is_pending(&self, key: u64) -> bool {
        self.in_flight.contains(&key)
    }

    /// Asks; never blocks. False if refused (queue full): the caller goes without.
    pub fn ask(&mut self, request: R) -> bool {
        let key = (self.key)(&request);
        if self.in_flight.contains(&key) {
            return true;
        }
        if self.idle.load(Ordering::Acquire) == 0 && self.workers < MAX_WORKERS {
            self.spawn_worker();
        }
        match self.queue.try_send(request) {
            Ok(()) => {
                self.in_flight.insert(key);
                self.stats.requests += 1;
                true
            }
            Err(TrySendError::Full(_) | TrySendError::Disconnected(_)) => {
                self.stats.refused += 1;
                false
            }
        }
    }

    /// The answers that arrived since the last call, without waiting.
    pub fn answers(&mut self) -> Vec<(u64, A)> {
        let mut out = Vec::new();
        while let Ok((key, answer)) = self.answers.try_recv() {
            self.in_flight.remove(&key);
            self.stats.answers += 1;
            out.push((key, answer));
        }
        out
    }

    pub fn stats(&self) -> ResolverStats {
        ResolverStats {
            in_flight: self.busy.load(Ordering::Relaxed) as usize,
            ..self.stats
        }
    }

    fn spawn_worker(&mut self) {
        let requests = self.requests.clone();
        let answers = self.answers_tx.clone();
        let work = self.work.clone();
        let idle = self.idle.clone();
        let busy = self.busy.clone();
        let key = self.key;
        idle.fetch_add(1, Ordering::AcqRel);
        let spawned = std::thread::Builder::new()
            .name(format!("resolve-{}", self.name))
            .spawn(move || loop {
                let request = {
                    let queue = requests.lock().unwrap_or_else(|e| e.into_inner());
                    queue.recv()
                };
                let Ok(request) = request else { return };
                idle.fetch_sub(1, Ordering::AcqRel);
                busy.fetch_add(1, Ordering::Relaxed);
                let k = key(&request);
                let answer = work(request);
                busy.fetch_sub(1, Ordering::Relaxed);
                idle.fetch_add(1, Ordering::AcqRel);
                if answers.send((k, answer)).is_err() {
                    return;
                }
            });
        match spawned {
            Ok(_) => self.workers += 1,
            Err(e) => {
                self.idle.fetch_sub(1, Ordering::AcqRel);
                tracing::warn!(resolver = self.name, "cannot start a resolver thread: {e}");
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::{Duration, Instant};

    fn wait_answers<R: Send + 'static, A: Send + 'static>(
        r: &mut Resolver<R, A>,
        n: usize,
    ) -> Vec<(u64, A)> {
        let deadline = Instant::now() + Duration::from_secs(5);
        let mut got = Vec::new();
        while got.len() < n && Instant::now() < deadline {
            got.extend(r.answers());
            std::thread::sleep(Duration::from_millis(1));
        }
        got
    }

    #[test]
    fn answers_come_back_once_per_key() {
        let mut r = Resolver::new("test", |k: &u64| *k, |k: u64| k * 2);
        assert!(r.ask(3));
        assert!(r.ask(3), "asked twice, in flight once");
        assert!(r.ask(4));
        let mut got = wait_answers(&mut r, 2);
        got.sort();
        assert_eq!(got, vec![(3, 6), (4, 8)]);
        assert_eq!(r.stats().requests, 2);
    }

    /// Stuck workers take only their own requests with them: others are still answered
    /// while fewer than MAX_WORKERS are stuck, and asking never blocks once all are.
    #[test]
    fn a_stuck_request_does_not_hold_up_the_others() {
        let mut r = Resolver::new(
            "test",
            |k: &u64| *k,
            move |k: u64| {
                if (100..1000).contains(&k) {
                    std::thread::sleep(Duration::from_secs(3));
                }
                k
            },
        );
        for stuck in 100..100 + (MAX_WORKERS as u64 - 1) {
            r.ask(stuck);
            std::thread::sleep(Duration::from_millis(20));
        }
        r.ask(1);
        assert_eq!(wait_answers(&mut r, 1), vec![(1, 1)]);
        assert_eq!(r.stats().in_flight, MAX_WORKERS - 1);
        // The last worker gets stuck too: requests queue, asking returns at once.
        r.ask(100 + MAX_WORKERS as u64 - 1);
        let started = Instant::now();
        for k in 0..(QUEUE as u64 + 10) {
            r.ask(1000 + k);
        }
        assert!(started.elapsed() < Duration::from_secs(1));
        assert!(r.stats().refused > 0, "a full queue refuses");
    }
}
