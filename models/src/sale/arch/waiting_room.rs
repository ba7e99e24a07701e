//! The waiting room in front of any flash-sale architecture: token checks at the edge, the
//! room's page, and admissions (the component: `crate::components::waiting_room`).
//!
//! ```text
//!   client ─rtt/2─► edge: token? ─yes─► (CDN edge ─►) gateway ─► architecture
//!                      │ no
//!                      ▼
//!                "in the room" page; the user waits ─► admitted at admit_rate ─► clicks again
//! ```

use sim::{Context, SimTime, SlabKey};

use super::super::model::{AttemptKind, Event, Hop, SaleModel};
use super::super::outcome::{Outcome, UserOutcome};
use crate::components::waiting_room::WaitingRoom;

impl SaleModel<'_> {
    /// Where a new attempt goes first.
    pub(in crate::sale) fn entry_hop(&self) -> Hop {
        if self.tiers.room.is_some() { Hop::Room } else { self.after_room_hop() }
    }

    pub(in crate::sale) fn after_room_hop(&self) -> Hop {
        if self.tiers.cdn.is_some() { Hop::Edge } else { Hop::Gateway }
    }

    fn room(&mut self) -> &mut WaitingRoom {
        self.tiers.room.as_mut().expect("a waiting room")
    }

    /// The edge checks the request's admission token.
    pub(in crate::sale) fn at_room(
        &mut self,
        now: SimTime,
        attempt: SlabKey,
        ctx: &mut Context<Event>,
    ) {
        let user = self.attempts.get(attempt).user;
        if let Some(check) = self.room().check_token(now, user) {
            ctx.after(check, Event::Arrive { attempt, hop: self.after_room_hop(), user });
            return;
        }
        let opens_at = self.setup.sale.opens_at;
        let u = &mut self.users[user as usize];
        let settled = u.told_purchased || u.told_limit || u.told_sold_out;
        if !u.in_room && u.outcome.is_none() && !settled {
            u.in_room = true;
            if let Some(first) = self.room().join(now, user, opens_at) {
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
    pub(in crate::sale) fn on_admit(&mut self, now: SimTime, ctx: &mut Context<Event>) {
        while let Some(user) = self.room().next_waiting() {
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
                self.room().abandoned();
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
            let next = self.room().admit(now, user);
            // Coming back from the room is not a retry: it uses no attempt.
            let u = &mut self.users[user as usize];
            u.attempts = u.attempts.saturating_sub(1);
            self.send(now, user, AttemptKind::Retry, ctx);
            if let Some(every) = next {
                ctx.after(every, Event::Admit);
            }
            return;
        }
    }
}
