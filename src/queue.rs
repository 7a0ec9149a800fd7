//! A job's bounded request queue.
//!
//! Two bounds: operations (a batch of n ops weighs n) and bytes (keys,
//! payloads and a fixed cost per request), so memory is bounded by the
//! queue whatever the batch and payload sizes. Both count what waits: the
//! worker's round, once taken, no longer counts, as a callback of one job
//! may wait for room in another's queue, and room that only came back at
//! the end of a round could then wait for itself. (What the worker holds
//! is bounded by what it took: at most one queue's worth.) One request
//! heavier than a whole bound is still accepted when the queue is empty.
//! Storage grows with use, so an idle job costs a few hundred bytes. Closing happens
//! under the same lock as intake: once closed, nothing more is accepted and
//! the worker drains what was.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use parking_lot::{Condvar, Mutex};

/// How long the worker keeps looking for a new request before it parks:
/// a request that arrives within it skips a thread wake-up (tens of µs on a
/// virtual machine).
const SPIN_BEFORE_PARK: Duration = Duration::from_micros(50);

/// Why a request was not accepted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Refused {
    /// No room, and the caller does not wait.
    Full,
    /// The queue is closed.
    Closed,
    /// No room came before the caller's deadline.
    TimedOut,
}

struct State<T> {
    /// Each item with its weight and bytes.
    items: VecDeque<(T, usize, usize)>,
    weight: usize,
    /// Bytes of the items waiting.
    bytes: usize,
    closed: bool,
    blocked_senders: usize,
    /// Requests accepted so far (never goes down).
    accepted: u64,
}

pub(crate) struct Queue<T> {
    state: Mutex<State<T>>,
    /// The worker waits here for requests.
    ready: Condvar,
    /// Blocked senders wait here for room.
    room: Condvar,
    capacity: usize,
    max_bytes: usize,
    /// The weight waiting, readable without the lock.
    waiting: AtomicUsize,
}

impl<T> Queue<T> {
    /// A queue of at most `capacity` operations and `max_bytes` bytes.
    pub(crate) fn new(capacity: usize, max_bytes: usize) -> Queue<T> {
        Queue {
            state: Mutex::new(State {
                items: VecDeque::new(),
                weight: 0,
                bytes: 0,
                closed: false,
                blocked_senders: 0,
                accepted: 0,
            }),
            ready: Condvar::new(),
            room: Condvar::new(),
            capacity: capacity.max(1),
            max_bytes: max_bytes.max(1),
            waiting: AtomicUsize::new(0),
        }
    }

    /// Accepts `item` of `weight` operations and `bytes` bytes, waiting
    /// for room if `wait`. On refusal the item is handed back.
    pub(crate) fn push(
        &self,
        item: T,
        weight: usize,
        bytes: usize,
        wait: bool,
    ) -> Result<(), (T, Refused)> {
        self.push_until(item, weight, bytes, wait.then_some(None))
    }

    /// Whether a request of `weight` operations and `bytes` bytes fits now:
    /// within both bounds, or into an empty queue whatever its size.
    fn fits(&self, state: &State<T>, weight: usize, bytes: usize) -> bool {
        let ops_fit = state.weight == 0 || state.weight + weight <= self.capacity;
        let bytes_fit = state.bytes == 0 || state.bytes.saturating_add(bytes) <= self.max_bytes;
        ops_fit && bytes_fit
    }

    /// As [`Queue::push`]; `wait` is `None` not to wait, `Some(None)` to
    /// wait for room as long as it takes, `Some(Some(deadline))` to wait
    /// until `deadline` at most (then [`Refused::TimedOut`]).
    pub(crate) fn push_until(
        &self,
        item: T,
        weight: usize,
        bytes: usize,
        wait: Option<Option<Instant>>,
    ) -> Result<(), (T, Refused)> {
        let weight = weight.max(1);
        let mut state = self.state.lock();
        loop {
            if state.closed {
                return Err((item, Refused::Closed));
            }
            if self.fits(&state, weight, bytes) {
                break;
            }
            let Some(deadline) = wait else {
                return Err((item, Refused::Full));
            };
            state.blocked_senders += 1;
            let timed_out = match deadline {
                None => {
                    self.room.wait(&mut state);
                    false
                }
                Some(deadline) => self.room.wait_until(&mut state, deadline).timed_out(),
            };
            state.blocked_senders -= 1;
            if timed_out && !state.closed && !self.fits(&state, weight, bytes) {
                return Err((item, Refused::TimedOut));
            }
        }
        state.weight += weight;
        state.bytes += bytes;
        state.items.push_back((item, weight, bytes));
        state.accepted += 1;
        self.waiting.store(state.weight, Ordering::Release);
        drop(state);
        self.ready.notify_one();
        Ok(())
    }

    /// Moves requests into `out` (at least one, and no more than
    /// `max_weight` operations beyond the first), blocking while the queue
    /// is empty. Returns false once the queue is closed and drained.
    pub(crate) fn pop_into(&self, out: &mut Vec<T>, max_weight: usize) -> bool {
        self.spin_for_work();
        let mut state = self.state.lock();
        while state.items.is_empty() {
            if state.closed {
                return false;
            }
            self.ready.wait(&mut state);
        }
        let mut taken = 0;
        let mut taken_bytes = 0;
        while let Some(&(_, weight, _)) = state.items.front() {
            if taken > 0 && taken + weight > max_weight {
                break;
            }
            let (item, weight, bytes) = state.items.pop_front().expect("front exists");
            taken += weight;
            taken_bytes += bytes;
            out.push(item);
        }
        state.weight -= taken;
        state.bytes -= taken_bytes;
        self.waiting.store(state.weight, Ordering::Release);
        let wake = state.blocked_senders > 0;
        drop(state);
        if wake {
            self.room.notify_all();
        }
        true
    }

    /// Waits up to `timeout` for a request (or the close), looking for one
    /// without the lock first as `pop_into` does. Tells whether one came.
    pub(crate) fn wait_for_work(&self, timeout: Duration) -> bool {
        self.spin_for_work();
        let mut state = self.state.lock();
        if state.items.is_empty() && !state.closed {
            self.ready.wait_for(&mut state, timeout);
        }
        !state.items.is_empty() || state.closed
    }

    /// Whether a request waits and `is` holds for the first one.
    pub(crate) fn first_is(&self, is: impl Fn(&T) -> bool) -> bool {
        self.len() > 0
            && self
                .state
                .lock()
                .items
                .front()
                .is_some_and(|(item, _, _)| is(item))
    }

    /// Looks for work for a bounded time without taking the lock.
    fn spin_for_work(&self) {
        if self.waiting.load(Ordering::Acquire) > 0 {
            return;
        }
        let start = Instant::now();
        let mut polls = 0u32;
        while self.waiting.load(Ordering::Acquire) == 0 {
            polls += 1;
            if polls % 64 == 0 {
                if start.elapsed() > SPIN_BEFORE_PARK {
                    return;
                }
                std::thread::yield_now();
            } else {
                std::hint::spin_loop();
            }
        }
    }

    /// Stops intake; blocked senders are refused, the worker drains what
    /// was accepted.
    pub(crate) fn close(&self) {
        self.state.lock().closed = true;
        self.ready.notify_all();
        self.room.notify_all();
    }

    /// Closes the queue and hands back everything still in it.
    pub(crate) fn close_and_take(&self) -> Vec<T> {
        let mut state = self.state.lock();
        state.closed = true;
        state.weight = 0;
        state.bytes = 0;
        self.waiting.store(0, Ordering::Release);
        let items = state.items.drain(..).map(|(item, _, _)| item).collect();
        drop(state);
        self.ready.notify_all();
        self.room.notify_all();
        items
    }

    /// How many requests were accepted so far: a request accepted after
    /// another makes this grow past the value read right after that one.
    pub(crate) fn accepted(&self) -> u64 {
        self.state.lock().accepted
    }

    pub(crate) fn is_closed(&self) -> bool {
        self.state.lock().closed
    }

    /// Operations waiting now.
    pub(crate) fn len(&self) -> usize {
        self.waiting.load(Ordering::Acquire)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn capacity_counts_weight_and_admits_one_oversized_item() {
        let q = Queue::new(4, 1 << 20);
        assert!(q.push("a", 3, 0, false).is_ok());
        assert_eq!(q.push("b", 2, 0, false), Err(("b", Refused::Full)));
        assert!(q.push("c", 1, 0, false).is_ok());
        assert_eq!(q.len(), 4);
        let mut out = Vec::new();
        assert!(q.pop_into(&mut out, 100));
        assert_eq!(out, ["a", "c"]);
        assert!(
            q.push("huge", 10, 0, false).is_ok(),
            "an empty queue takes any item"
        );
        assert_eq!(q.push("d", 1, 0, false), Err(("d", Refused::Full)));
    }

    #[test]
    fn bytes_bound_and_one_oversized_item_needs_an_empty_queue() {
        let q = Queue::new(100, 10);
        assert!(q.push("a", 1, 6, false).is_ok());
        assert_eq!(q.push("b", 1, 5, false), Err(("b", Refused::Full)));
        assert!(q.push("c", 1, 4, false).is_ok());
        let mut out = Vec::new();
        assert!(q.pop_into(&mut out, 100));
        assert!(
            q.push("huge", 1, 50, false).is_ok(),
            "an empty queue takes any item"
        );
        assert_eq!(q.push("e", 1, 1, false), Err(("e", Refused::Full)));
        out.clear();
        assert!(q.pop_into(&mut out, 100));
        assert_eq!(out, ["huge"]);
        assert!(q.push("f", 1, 10, false).is_ok());
    }

    #[test]
    fn a_sender_blocked_on_bytes_wakes_when_the_worker_takes() {
        let q = std::sync::Arc::new(Queue::new(100, 10));
        q.push(0, 1, 10, false).expect("room");
        let sender = {
            let q = q.clone();
            std::thread::spawn(move || q.push(1, 1, 5, true))
        };
        while q.state.lock().blocked_senders == 0 {
            std::thread::yield_now();
        }
        let mut out = Vec::new();
        assert!(q.pop_into(&mut out, 100));
        assert_eq!(sender.join().expect("sender"), Ok(()));
    }

    #[test]
    fn pop_respects_max_weight_but_takes_at_least_one() {
        let q = Queue::new(100, 1 << 20);
        for w in [5, 5, 5] {
            q.push(w, w, 0, false).expect("room");
        }
        let mut out = Vec::new();
        assert!(q.pop_into(&mut out, 7));
        assert_eq!(out, [5]);
        out.clear();
        assert!(q.pop_into(&mut out, 10));
        assert_eq!(out, [5, 5]);
    }

    #[test]
    fn close_refuses_new_items_and_drains_old_ones() {
        let q = Queue::new(8, 1 << 20);
        q.push(1, 1, 0, false).expect("room");
        q.close();
        assert_eq!(q.push(2, 1, 0, true), Err((2, Refused::Closed)));
        let mut out = Vec::new();
        assert!(q.pop_into(&mut out, 8));
        assert_eq!(out, [1]);
        assert!(!q.pop_into(&mut out, 8));
    }

    #[test]
    fn a_blocked_sender_is_refused_by_close() {
        let q = std::sync::Arc::new(Queue::new(1, 1 << 20));
        q.push(0, 1, 0, false).expect("room");
        let sender = {
            let q = q.clone();
            std::thread::spawn(move || q.push(1, 1, 0, true))
        };
        while q.state.lock().blocked_senders == 0 {
            std::thread::yield_now();
        }
        q.close();
        assert_eq!(sender.join().expect("sender"), Err((1, Refused::Closed)));
    }

    #[test]
    fn a_bounded_wait_for_room_times_out_and_hands_the_item_back() {
        let q = Queue::new(1, 1024);
        q.push(0, 1, 0, false).expect("room");
        let deadline = Instant::now() + Duration::from_millis(20);
        assert_eq!(
            q.push_until(1, 1, 0, Some(Some(deadline))),
            Err((1, Refused::TimedOut))
        );
        assert!(Instant::now() >= deadline);
        assert_eq!(q.len(), 1);
    }
}
