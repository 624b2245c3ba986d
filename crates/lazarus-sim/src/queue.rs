//! The virtual clock and its event queue.
//!
//! Events are ordered by (time, insertion sequence), so two events due at the same
//! millisecond always run in the order they were scheduled: the run is a pure function
//! of the seed.

use std::cmp::Ordering;
use std::collections::BinaryHeap;

use lazarus_core::Timestamp;

/// A queue of `T` due at virtual times, with the clock that advances as they are popped.
#[derive(Debug)]
pub struct EventQueue<T> {
    heap: BinaryHeap<Entry<T>>,
    seq: u64,
    now: u64,
}

#[derive(Debug)]
struct Entry<T> {
    at: u64,
    seq: u64,
    what: T,
}

impl<T> PartialEq for Entry<T> {
    fn eq(&self, other: &Self) -> bool {
        self.at == other.at && self.seq == other.seq
    }
}
impl<T> Eq for Entry<T> {}
impl<T> PartialOrd for Entry<T> {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}
impl<T> Ord for Entry<T> {
    /// Reversed, so the max-heap pops the earliest (time, seq) first.
    fn cmp(&self, other: &Self) -> Ordering {
        (other.at, other.seq).cmp(&(self.at, self.seq))
    }
}

impl<T> Default for EventQueue<T> {
    fn default() -> Self {
        Self::new()
    }
}

impl<T> EventQueue<T> {
    /// An empty queue at time zero.
    pub fn new() -> Self {
        Self {
            heap: BinaryHeap::new(),
            seq: 0,
            now: 0,
        }
    }

    /// The virtual time now, in milliseconds.
    pub fn now_ms(&self) -> u64 {
        self.now
    }

    /// The virtual time now.
    pub fn now(&self) -> Timestamp {
        Timestamp::from_millis(self.now)
    }

    /// Schedules `what` to happen `delay_ms` from now.
    pub fn after(&mut self, delay_ms: u64, what: T) {
        let at = self.now.saturating_add(delay_ms);
        self.at(at, what);
    }

    /// Schedules `what` at absolute time `at_ms` (not before now).
    pub fn at(&mut self, at_ms: u64, what: T) {
        let at = at_ms.max(self.now);
        self.seq += 1;
        self.heap.push(Entry {
            at,
            seq: self.seq,
            what,
        });
    }

    /// Pops the next event due no later than `until_ms`, advancing the clock to it.
    pub fn pop_until(&mut self, until_ms: u64) -> Option<T> {
        if self.heap.peek().is_some_and(|e| e.at <= until_ms) {
            let e = self.heap.pop()?;
            self.now = e.at;
            Some(e.what)
        } else {
            None
        }
    }

    /// Moves the clock forward to `ms` (never backwards).
    pub fn advance_to(&mut self, ms: u64) {
        self.now = self.now.max(ms);
    }

    /// Number of pending events.
    pub fn len(&self) -> usize {
        self.heap.len()
    }

    /// Whether nothing is pending.
    pub fn is_empty(&self) -> bool {
        self.heap.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn events_pop_in_time_then_insertion_order() {
        let mut q = EventQueue::new();
        q.after(10, "b");
        q.after(5, "a");
        q.after(10, "c");
        assert_eq!(q.pop_until(100), Some("a"));
        assert_eq!(q.now_ms(), 5);
        assert_eq!(q.pop_until(100), Some("b"));
        assert_eq!(q.pop_until(100), Some("c"));
        assert_eq!(q.pop_until(100), None);
    }

    #[test]
    fn nothing_pops_past_the_horizon() {
        let mut q = EventQueue::new();
        q.after(50, 1);
        assert_eq!(q.pop_until(49), None);
        assert_eq!(q.now_ms(), 0);
        assert_eq!(q.pop_until(50), Some(1));
    }
}
