//! The discrete-event kernel: time, the pending-event queue, random streams and the run loop.
//!
//! Generic on purpose: nothing here knows about Matrix. A model is any type implementing
//! [`Model`]; its events are a plain `enum` chosen by the model (no downcasting).

pub mod hash;
pub mod queue;
pub mod rng;
pub mod time;

pub use queue::{EventKey, EventQueue};
pub use rng::{stream, stream_key, RngStream};
pub use time::{Time, MICROS_PER_MS, MICROS_PER_SEC};

/// What a model sees while it handles one event: the current time and the queue to schedule on.
pub struct Ctx<'a, E> {
    now: Time,
    queue: &'a mut EventQueue<E>,
}

impl<'a, E> Ctx<'a, E> {
    /// A context at `now` over `queue`: for driving a model's handlers outside a
    /// [`Simulation`] (the protocol model's component tests deliver one event at a time).
    pub fn new(now: Time, queue: &'a mut EventQueue<E>) -> Self {
        Ctx { now, queue }
    }

    #[inline]
    pub fn now(&self) -> Time {
        self.now
    }

    /// Schedule `ev` at `now + delay`.
    #[inline]
    pub fn schedule_in(&mut self, delay: Time, ev: E) -> EventKey {
        self.queue.push(self.now.saturating_add(delay), ev)
    }

    /// Schedule `ev` at absolute time `at` (clamped to now: the past cannot be scheduled).
    #[inline]
    pub fn schedule_at(&mut self, at: Time, ev: E) -> EventKey {
        self.queue.push(at.max(self.now), ev)
    }

    /// Cancel a pending event. Returns false when it already ran or was cancelled.
    #[inline]
    pub fn cancel(&mut self, key: EventKey) -> bool {
        self.queue.cancel(key)
    }
}

/// A simulation model: owns its state and reacts to its own events.
pub trait Model {
    type Event;
    fn handle(&mut self, ctx: &mut Ctx<'_, Self::Event>, ev: Self::Event);
}

/// The run loop: pops events in (time, insertion) order and hands them to the model.
pub struct Simulation<M: Model> {
    pub model: M,
    queue: EventQueue<M::Event>,
    now: Time,
    handled: u64,
}

impl<M: Model> Simulation<M> {
    pub fn new(model: M) -> Self {
        Simulation {
            model,
            queue: EventQueue::new(),
            now: 0,
            handled: 0,
        }
    }

    pub fn with_capacity(model: M, cap: usize) -> Self {
        Simulation {
            model,
            queue: EventQueue::with_capacity(cap),
            now: 0,
            handled: 0,
        }
    }

    pub fn now(&self) -> Time {
        self.now
    }

    /// Events handled so far.
    pub fn handled(&self) -> u64 {
        self.handled
    }

    /// Time of the next pending event, if any.
    pub fn next_time(&mut self) -> Option<Time> {
        self.queue.peek_time()
    }

    pub fn pending(&self) -> usize {
        self.queue.len()
    }

    pub fn schedule_at(&mut self, at: Time, ev: M::Event) -> EventKey {
        self.queue.push(at.max(self.now), ev)
    }

    /// Handle every event with time <= `end`, then leave the clock at `end`.
    pub fn run_until(&mut self, end: Time) {
        while let Some((t, ev)) = self.queue.pop_at_or_before(end) {
            self.handle(t, ev);
        }
        self.now = self.now.max(end);
    }

    /// Handle events up to `end`, calling `progress` every `every` handled events
    /// (used for progress bars; the callback sees simulated time and the count).
    pub fn run_until_with(&mut self, end: Time, every: u64, mut progress: impl FnMut(Time, u64)) {
        let every = every.max(1);
        while let Some((t, ev)) = self.queue.pop_at_or_before(end) {
            self.handle(t, ev);
            if self.handled.is_multiple_of(every) {
                progress(self.now, self.handled);
            }
        }
        self.now = self.now.max(end);
    }

    /// Handle exactly one event after showing it to `look` (diagnostics, off the hot path).
    pub fn step_inspect(&mut self, look: impl FnOnce(&M::Event)) -> bool {
        match self.queue.pop() {
            Some((t, ev)) => {
                look(&ev);
                self.handle(t, ev);
                true
            }
            None => false,
        }
    }

    /// Handle exactly one event; false when the queue is empty.
    #[inline]
    pub fn step(&mut self) -> bool {
        match self.queue.pop() {
            Some((t, ev)) => {
                self.handle(t, ev);
                true
            }
            None => false,
        }
    }

    #[inline]
    fn handle(&mut self, t: Time, ev: M::Event) {
        debug_assert!(t >= self.now, "time went backwards");
        self.now = t;
        self.handled += 1;
        let mut ctx = Ctx {
            now: t,
            queue: &mut self.queue,
        };
        self.model.handle(&mut ctx, ev);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Recorder {
        seen: Vec<(Time, u32)>,
    }
    impl Model for Recorder {
        type Event = u32;
        fn handle(&mut self, ctx: &mut Ctx<'_, u32>, ev: u32) {
            self.seen.push((ctx.now(), ev));
            if ev == 1 {
                ctx.schedule_in(0, 10);
                ctx.schedule_in(5, 11);
            }
        }
    }

    #[test]
    fn same_instant_events_run_in_insertion_order() {
        let mut sim = Simulation::new(Recorder { seen: vec![] });
        sim.schedule_at(10, 1);
        sim.schedule_at(10, 2);
        sim.schedule_at(5, 3);
        let k = sim.schedule_at(12, 4);
        sim.queue.cancel(k);
        sim.run_until(100);
        assert_eq!(
            sim.model.seen,
            vec![(5, 3), (10, 1), (10, 2), (10, 10), (15, 11)]
        );
        assert_eq!(sim.handled(), 5);
        assert_eq!(sim.now(), 100);
    }

    #[test]
    fn run_until_stops_at_end_and_keeps_later_events() {
        let mut sim = Simulation::new(Recorder { seen: vec![] });
        sim.schedule_at(10, 7);
        sim.schedule_at(20, 8);
        sim.run_until(15);
        assert_eq!(sim.model.seen, vec![(10, 7)]);
        assert_eq!(sim.pending(), 1);
        sim.run_until(20);
        assert_eq!(sim.model.seen, vec![(10, 7), (20, 8)]);
    }
}
