//! The waiting room's runtime: token checks at the edge, the room's queue, and admissions.
//! (Settings and the mechanism: `crate::components::waiting_room`.)

use std::collections::VecDeque;

use rand::RngExt;
use serde::Serialize;
use sim::{Context, SimTime, SlabKey};

use super::model::{AttemptKind, Event, Hop, SaleModel};
use super::outcome::{Outcome, UserOutcome};
use crate::components::waiting_room::RoomOrder;

/// Users waiting, admission tokens, and what the room counted.
#[derive(Debug)]
pub struct Room {
    /// Waiting in arrival order.
    queue: VecDeque<u32>,
    /// Waiting to be drawn at random (all of them with `random`; the pre-queue with
    /// `shuffle_at_opening`).
    pool: Vec<u32>,
    /// Per user: when their token expires (`ZERO`: none).
    token_until: Vec<SimTime>,
    ticking: bool,
    pub figures: RoomMetrics,
}

/// What the waiting room did.
#[derive(Clone, Debug, Default, Serialize, serde::Deserialize)]
pub struct RoomMetrics {
    /// Users who joined the room (a user sent back after their token expired counts again).
    pub joined: u64,
    pub admitted: u64,
    /// Users whose patience ran out in the room.
    pub abandoned: u64,
    pub peak_waiting: u64,
}

impl Room {
    /// Hints that `user`'s token will be read soon.
    #[inline]
    pub fn prefetch(&self, user: u32) {
        sim::prefetch::prefetch_at(&self.token_until, user as usize);
    }

    pub fn new(users: usize) -> Self {
        Room {
            queue: VecDeque::new(),
            pool: Vec::new(),
            token_until: vec![SimTime::ZERO; users],
            ticking: false,
            figures: RoomMetrics::default(),
        }
    }

    fn waiting(&self) -> usize {
        self.queue.len() + self.pool.len()
    }
}

impl SaleModel<'_> {
    /// Where a new attempt goes first.
    pub(super) fn entry_hop(&self) -> Hop {
        if self.tiers.room.is_some() { Hop::Room } else { self.after_room_hop() }
    }

    pub(super) fn after_room_hop(&self) -> Hop {
        if self.tiers.cdn.is_some() { Hop::Edge } else { Hop::Gateway }
    }

    /// The edge checks the request's admission token.
    pub(super) fn at_room(&mut self, now: SimTime, attempt: SlabKey, ctx: &mut Context<Event>) {
        let spec = self.variant.waiting_room.as_ref().expect("room hop only with a room");
        let user = self.attempts.get(attempt).user;
        let room = self.tiers.room.as_mut().expect("room");
        if room.token_until[user as usize] > now {
            let check = spec.check.sample(&mut self.streams.room_check);
            ctx.after(check, Event::Arrive { attempt, hop: self.after_room_hop(), user });
            return;
        }
        let u = &mut self.users[user as usize];
        let settled = u.told_purchased || u.told_limit || u.told_sold_out;
        if !u.in_room && u.outcome.is_none() && !settled {
            u.in_room = true;
            let pre_queue = now < self.setup.sale.opens_at;
            let to_pool = match spec.order {
                RoomOrder::Fifo => false,
                RoomOrder::Random => true,
                RoomOrder::ShuffleAtOpening => pre_queue,
            };
            if to_pool {
                room.pool.push(user);
            } else {
                room.queue.push_back(user);
            }
            room.figures.joined += 1;
            room.figures.peak_waiting = room.figures.peak_waiting.max(room.waiting() as u64);
            if !room.ticking {
                room.ticking = true;
                let first = now.max(self.setup.sale.opens_at) + spec.admit_every;
                ctx.at(first, Event::Admit);
            }
        }
        // The room is an edge feature: its pages are billed as CDN requests.
        if let Some(cdn) = self.tiers.cdn.as_mut() {
            cdn.requests += 1;
        }
        self.answer(now, attempt, Outcome::InRoom, ctx);
    }

    /// One admission: the next user still waiting gets a token and clicks again at once.
    pub(super) fn on_admit(&mut self, now: SimTime, ctx: &mut Context<Event>) {
        let spec = self.variant.waiting_room.as_ref().expect("admissions only with a room");
        loop {
            let room = self.tiers.room.as_mut().expect("room");
            let next = if !room.pool.is_empty() {
                let i = self.streams.room_order.random_range(0..self.room_pool_len());
                let room = self.tiers.room.as_mut().expect("room");
                Some(room.pool.swap_remove(i))
            } else {
                room.queue.pop_front()
            };
            let Some(user) = next else {
                self.tiers.room.as_mut().expect("room").ticking = false;
                return;
            };
            self.users[user as usize].in_room = false;
            if self.users[user as usize].outcome.is_some() {
                continue;
            }
            // Patience is lost while waiting, whether or not anyone looks: a user whose
            // deadline passed left the room then.
            let left_at = self
                .population
                .give_up_at
                .as_ref()
                .and_then(|d| d.get(user as usize).copied())
                .filter(|d| *d <= now);
            if let Some(left_at) = left_at {
                let room = self.tiers.room.as_mut().expect("room");
                room.figures.abandoned += 1;
                let u = &self.users[user as usize];
                if u.in_flight == 0 && !u.retry_pending && !u.poll_pending {
                    self.finish_user(
                        left_at.max(u.first_click().unwrap_or(left_at)),
                        user,
                        UserOutcome::GaveUp,
                    );
                }
                continue;
            }
            let room = self.tiers.room.as_mut().expect("room");
            room.figures.admitted += 1;
            room.token_until[user as usize] = now + spec.session;
            let more = room.waiting() > 0;
            // Coming back from the room is not a retry: it uses no attempt.
            let u = &mut self.users[user as usize];
            u.attempts = u.attempts.saturating_sub(1);
            self.send(now, user, AttemptKind::Retry, ctx);
            if more {
                ctx.after(spec.admit_every, Event::Admit);
            } else {
                self.tiers.room.as_mut().expect("room").ticking = false;
            }
            return;
        }
    }

    fn room_pool_len(&self) -> usize {
        self.tiers.room.as_ref().map_or(0, |r| r.pool.len())
    }
}
