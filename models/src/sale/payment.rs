//! The payment stage (`[sale.payment]`), the same for every architecture: each order created
//! opens a payment window; its buyer pays, or the order is cancelled when the window ends and
//! its unit goes back on sale (the database's stock, Redis's or the stream job's).
//!
//! A buyer who knows of their order (told "purchased" or "limit reached") pays with
//! `told_pay_share`, one who was never told (it shows up later in "my orders") with
//! `untold_pay_share`. Whether a buyer would pay is one uniform per buyer, hashed from the seed,
//! so every architecture sees the same buyers pay (common random numbers), and a buyer who would
//! pay untold pays when told. The payment is checked `delay` after the order is created; a
//! buyer still waiting for an answer then is checked again a `delay` later.
//!
//! Defaults [A] (docs/parameters.md "Payment"): a 15-minute window, 98% of told buyers and 5%
//! of untold ones pay, LN(median 30 s, p99 5 min) after the order.

use sim::{Context, SimTime};

use super::event::Event;
use super::model::SaleModel;
pub use crate::components::payment::{PaymentMetrics, PaymentSpec, Payments, RawPayment};

impl SaleModel<'_> {
    /// An order of `user` was created at `now`: its payment check and its window's end.
    pub(in crate::sale) fn order_created(
        &mut self,
        now: SimTime,
        user: u32,
        ctx: &mut Context<Event>,
    ) {
        let Some(p) = self.payments.as_mut() else { return };
        p.figures.orders += 1;
        if p.first_restock.is_some() {
            p.figures.sold_after_restock += 1;
        }
        p.open.entry(user).or_default().0 += 1;
        let delay = p.delay();
        ctx.at(now + delay, Event::Payment { user, window_end: false });
        ctx.at(now + p.spec.window, Event::Payment { user, window_end: true });
    }

    pub(in crate::sale) fn on_payment(
        &mut self,
        now: SimTime,
        user: u32,
        window_end: bool,
        ctx: &mut Context<Event>,
    ) {
        if window_end {
            return self.payment_window_ends(now, user, ctx);
        }
        let u = &self.users[user as usize];
        let knows = u.told_purchased || u.told_limit;
        let still_waiting = !knows && u.outcome.is_none();
        let p = self.payments.as_mut().expect("payment events only with [sale.payment]");
        if still_waiting {
            // Not told yet, still waiting for an answer: look again later.
            let delay = p.delay();
            ctx.at(now + delay, Event::Payment { user, window_end: false });
            return;
        }
        let share = if knows { p.spec.told_pay_share } else { p.spec.untold_pay_share };
        let pays = p.propensity(user) < share;
        // An order whose window has closed is cancelled: nothing is left to pay.
        let Some((_, paid)) = p.open.get_mut(&user).filter(|(open, paid)| open > paid) else {
            return;
        };
        if pays {
            *paid += 1;
            p.figures.paid += 1;
            if !knows {
                p.figures.paid_untold += 1;
            }
        }
    }

    /// The window of one of `user`'s orders ends: paid, or cancelled and its unit restocked.
    fn payment_window_ends(&mut self, now: SimTime, user: u32, _ctx: &mut Context<Event>) {
        let p = self.payments.as_mut().expect("payment events only with [sale.payment]");
        let (open, paid) = p.open.get_mut(&user).expect("a window was opened");
        *open -= 1;
        if *paid > 0 {
            *paid -= 1;
            return;
        }
        p.figures.cancelled += 1;
        p.first_restock.get_or_insert(now);
        // The timeline shows the sale: restocks after every buyer is done are left off it.
        let during_sale = self.in_flight_count() > 0;
        self.tiers.db.restock_one();
        if during_sale {
            self.timeline.db_stock(now, self.tiers.db.row.stock);
        }
        if let Some(redis) = self.tiers.redis.as_mut() {
            redis.stock.stock += 1;
            let stock = redis.stock.stock;
            if during_sale {
                self.timeline.redis_stock(now, stock);
            }
        }
        if let Some(st) = self.tiers.stream.as_mut() {
            st.job.state.stock[0] += 1;
        }
    }
}
