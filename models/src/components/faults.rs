//! A component's pause and slowdown windows (`[[fault]]`, see `crate::sale::fault`): every
//! component applies its own to the work it starts.

use sim::{SimDuration, SimTime};

/// One component's pause and slowdown windows (`[[fault]]`), applied to the work it starts.
#[derive(Clone, Debug, Default)]
pub struct FaultWindows {
    /// `(start, end, factor)`: a slowdown has a factor, a pause none; in the order added.
    windows: Vec<(SimTime, SimTime, Option<f64>)>,
}

impl FaultWindows {
    /// Adds a pause (`factor` none) or a slowdown over `[start, end)`.
    pub fn add(&mut self, start: SimTime, end: SimTime, factor: Option<f64>) {
        self.windows.push((start, end, factor));
    }

    pub fn is_empty(&self) -> bool {
        self.windows.is_empty()
    }

    /// How long work of length `work` asked for at `now` takes: a pause moves its start to the
    /// window's end, a slowdown stretches it.
    #[inline]
    pub fn apply(&self, now: SimTime, work: SimDuration) -> SimDuration {
        if self.windows.is_empty() {
            return work;
        }
        // A pause moves the start, which may fall into another window: repeat until the start
        // stays put (each pause can move it once, so this ends).
        let mut start = now;
        loop {
            let moved = self
                .windows
                .iter()
                .find(|&&(from, until, factor)| factor.is_none() && start >= from && start < until);
            match moved {
                Some(&(_, until, _)) => start = until,
                None => break,
            }
        }
        let mut work = work;
        for &(from, until, factor) in &self.windows {
            if let Some(f) = factor
                && start >= from
                && start < until
            {
                work = SimDuration::from_nanos((work.as_nanos() as f64 * f) as u64);
            }
        }
        (start - now) + work
    }
}
