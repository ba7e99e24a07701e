//! `pre_open = "hold"`: the first tier keeps the purchase requests that reach it before the
//! opening and passes them on from the opening at a fixed rate, in arrival order.
//!
//! The page shows its countdown while its request is held, so the client's timeout starts at
//! the release, not at the click. Requests arriving after the opening go straight on, as
//! they would without the hold; status polls are never held.

use sim::{Context, SimTime, SlabKey};

use crate::components::hold::HoldMetrics;
use crate::sale::attempt::AttemptKind;
use crate::sale::config::PreOpen;
use crate::sale::model::{Event, SaleModel};

impl SaleModel<'_> {
    /// What the hold did, for a sale that holds requests.
    pub(in crate::sale) fn hold_report(&self) -> Option<HoldMetrics> {
        let sale = &self.setup.sale;
        (sale.pre_open == PreOpen::Hold).then(|| self.held.metrics(sale.opens_at))
    }

    /// Holds `attempt` at the first tier if the sale says so and it arrives before the
    /// opening. Returns whether it was held.
    pub(in crate::sale) fn hold_at_entry(
        &mut self,
        now: SimTime,
        attempt: SlabKey,
        ctx: &mut Context<Event>,
    ) -> bool {
        if self.setup.sale.pre_open != PreOpen::Hold {
            return false;
        }
        let opens_at = self.setup.sale.opens_at;
        if now >= opens_at || self.attempts.get(attempt).kind == AttemptKind::Poll {
            return false;
        }
        // The client's deadline set at sending no longer applies: a new serial retires it, and
        // the release sets the next one.
        let serial = self.next_serial;
        self.next_serial = self.next_serial.wrapping_add(1);
        self.attempts.get_mut(attempt).serial = serial;
        self.held.held += 1;
        self.held.queue.push_back(attempt);
        self.held.peak = self.held.peak.max(self.held.queue.len() as u64);
        if !self.held.release_armed {
            self.held.release_armed = true;
            ctx.at(opens_at, Event::HoldRelease);
        }
        true
    }

    /// The next held request goes on to the gateway.
    pub(in crate::sale) fn on_hold_release(&mut self, now: SimTime, ctx: &mut Context<Event>) {
        let Some(attempt) = self.held.queue.pop_front() else {
            self.held.release_armed = false;
            return;
        };
        let timeout = self.client().timeout;
        let a = self.attempts.get_mut(attempt);
        if a.client_waiting {
            a.timer_from = now;
            let deadline = now + timeout;
            self.timeouts.push_back((deadline, attempt, a.serial));
            if !self.timeout_armed {
                self.timeout_armed = true;
                ctx.at(deadline, Event::TimeoutsDue);
            }
        }
        if self.held.queue.is_empty() {
            self.held.release_armed = false;
            self.held.drained_at = Some(now);
        } else {
            let every = self.setup.sale.hold_release_every.expect("a release rate with hold");
            ctx.after(every, Event::HoldRelease);
        }
        self.enter_gateway(now, attempt, ctx);
    }
}
