//! Per-attempt and per-user state: what a request in flight carries (kept in a slab, freed when
//! both the client and the server are done with it) and what each user's 24 bytes remember.

use sim::{SimDuration, SimTime};

use super::outcome::{Outcome, UserOutcome};
use crate::components::redis::StockAnswer;

/// What an attempt is for, from the client's side.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AttemptKind {
    First,
    Duplicate,
    Retry,
    Bot,
    /// `queue_stream`: asking the result store for the answer to a queued request.
    Poll,
    /// `three_tier_redis`, async order path: an order record and its consumer's transaction
    /// (no client waits on it).
    Order,
}

/// What the server does next with an attempt.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Stage {
    /// The atomic stock script.
    Script,
    /// Non-atomic: the read.
    RedisRead,
    /// Non-atomic: the decrement.
    RedisDecr,
    /// Giving a reserved unit back after a transient failure of the final write.
    Compensate,
    /// Bringing Redis's stock down to the database's, which had none for a reserved unit.
    Resync,
    /// `queue_stream`: waiting for the topic's acknowledgement.
    Produce,
    /// `queue_stream`: a poll's read of the result store.
    ResultGet,
    /// Reading the stock row (no lock).
    Select,
    /// Holding the row lock: update and commit (for `for_update`, the read too).
    Locked,
    Done,
}

/// One attempt in flight.
#[derive(Clone, Debug)]
pub struct Attempt {
    pub user: u32,
    pub serial: u32,
    pub kind: AttemptKind,
    pub sent: SimTime,
    /// When the client's timeout started: `sent`, or the release of a request held until the
    /// opening (`pre_open = "hold"`).
    pub timer_from: SimTime,
    /// One-way client ↔ first tier delay for this attempt.
    pub rtt_half: SimDuration,
    /// When it reached the gateway (while it holds or waits for a thread, a core or a loop).
    pub gateway_since: Since,
    /// When it joined the station of its current step: the gateway's cores (asked for its CPU
    /// slice), later the Redis shard. (Under a blocking event loop the loop is held until the
    /// answer, and released with `gateway_since`, which is then the same instant.)
    pub station_since: SimTime,
    /// When it got (or asked for) a pooled connection, while it holds or waits for one.
    pub pool_since: Since,
    pub stage: Stage,
    pub redis_answer: Option<StockAnswer>,
    pub reserved_in_redis: bool,
    /// The stock row as its select read it, narrowed to keep the attempt in 96 bytes: stock
    /// is validated to at most 10⁹ and falls at most one per commit below zero, and the version
    /// grows one per commit — neither leaves 32 bits in a run that fits in memory.
    pub read_stock: i32,
    pub read_version: u32,
    pub read_user_orders: u16,
    pub occ_tries: u16,
    /// When it asked for the row lock (kept only across a batch window).
    pub lock_asked: SimTime,
    /// The stock row its transaction updates, and how many rows it has found empty.
    pub db_row: u16,
    pub empty_rows: u16,
    /// `queue_stream`: the produce request of this attempt, or the answer code a poll read.
    /// An order record: its deliveries (low 16 bits) and the consumers' epoch of the last one.
    pub stream_ref: u32,
    /// The server's answer, once there is one.
    pub answer: Option<Outcome>,
    /// The answer was counted as late while the client still waited for its timeout.
    pub answered_late: bool,
    pub client_waiting: bool,
    pub replied: bool,
    pub server_done: bool,
}

/// An optional instant in 8 bytes (`u64::MAX`: none), for the per-attempt "holding since"
/// times.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Since(u64);

impl Since {
    pub const NONE: Since = Since(u64::MAX);

    pub fn at(time: SimTime) -> Self {
        Since(time.as_nanos())
    }

    /// The instant, leaving none behind.
    pub fn take(&mut self) -> Option<SimTime> {
        let value = std::mem::replace(self, Since::NONE).0;
        (value != u64::MAX).then(|| SimTime::from_nanos(value))
    }
}

/// Per-user state: 24 bytes, because a sale has millions of users and every event of theirs
/// reads it (the table's cache misses are a good part of a run's time).
#[derive(Clone, Debug)]
pub struct User {
    /// First click in nanoseconds; `u64::MAX` before it.
    pub(super) first_click_ns: u64,
    /// First clicks and retries sent (duplicates not counted), saturating.
    pub attempts: u16,
    pub in_flight: u16,
    pub told_purchased: bool,
    pub told_limit: bool,
    pub told_sold_out: bool,
    /// A retryable failure has been seen since the last attempt was sent.
    pub pending_failure: bool,
    /// Told "not open" since the last attempt was sent: the countdown decides the next click.
    pub saw_not_open: bool,
    pub retry_pending: bool,
    /// The pending retry is the click again after "not open" (a re-click, not a retry).
    pub reclick_pending: bool,
    pub outcome: Option<UserOutcome>,
    pub is_bot: bool,
    /// `queue_stream`: a request of this user is queued; the answer comes by polling.
    pub queued: bool,
    /// `queue_stream`: a poll is scheduled.
    pub poll_pending: bool,
    /// Waiting in the waiting room to be admitted.
    pub in_room: bool,
}

impl Default for User {
    fn default() -> Self {
        User {
            first_click_ns: u64::MAX,
            attempts: 0,
            in_flight: 0,
            told_purchased: false,
            told_limit: false,
            told_sold_out: false,
            pending_failure: false,
            saw_not_open: false,
            retry_pending: false,
            reclick_pending: false,
            outcome: None,
            is_bot: false,
            queued: false,
            poll_pending: false,
            in_room: false,
        }
    }
}

impl User {
    pub fn first_click(&self) -> Option<SimTime> {
        (self.first_click_ns != u64::MAX).then(|| SimTime::from_nanos(self.first_click_ns))
    }

    /// One of the user's attempts ended with `outcome` (`is_poll`: it was a status poll;
    /// `retry_after`: the front end retries after it): remember what they were told. A user already decided is only upgraded to "purchased"
    /// (a duplicate click sent earlier can still bring it: what they were told last about
    /// holding an item wins).
    pub fn hear(&mut self, outcome: Outcome, is_poll: bool, retry_after: bool) -> Heard {
        self.in_flight -= 1;
        match outcome {
            Outcome::Purchased => self.told_purchased = true,
            Outcome::LimitReached => self.told_limit = true,
            Outcome::SoldOut => self.told_sold_out = true,
            Outcome::NotOpen => self.saw_not_open = true,
            Outcome::Queued => self.queued = true,
            Outcome::InRoom => {}
            // A failed poll is followed by the next poll, not by a new purchase request.
            _ if retry_after && !is_poll => self.pending_failure = true,
            _ => {}
        }
        if let Some(decided) = self.outcome {
            if outcome == Outcome::Purchased && decided != UserOutcome::Purchased {
                self.outcome = Some(UserOutcome::Purchased);
            }
            return Heard::Decided;
        }
        if is_poll {
            self.poll_pending = false;
        }
        Heard::Undecided { polls_next: !self.settled() && (outcome == Outcome::Queued || is_poll) }
    }

    /// Told something final: purchased, at the limit, or sold out.
    fn settled(&self) -> bool {
        self.told_purchased || self.told_limit || self.told_sold_out
    }

    /// What the user does next, once their attempt's answer is in: humans decide once nothing
    /// of theirs is in flight, bots as soon as they are told; a user told their answer does not
    /// wait for the waiting room.
    pub fn next_step(&mut self) -> NextStep {
        let settled = self.settled();
        let waits_in_room = self.in_room && !settled;
        let busy = self.in_flight > 0 || self.retry_pending || self.poll_pending || waits_in_room;
        if !self.is_bot && busy {
            return NextStep::Wait;
        }
        if settled {
            return NextStep::Finish(if self.told_purchased {
                UserOutcome::Purchased
            } else if self.told_limit {
                UserOutcome::LimitReached
            } else {
                UserOutcome::SoldOut
            });
        }
        if self.is_bot {
            // Bots fire on their own schedule.
            NextStep::Wait
        } else if self.saw_not_open {
            self.saw_not_open = false;
            NextStep::Countdown
        } else if self.queued {
            // Queued, but polling is over (poll timeout or patience) without an answer.
            NextStep::Finish(UserOutcome::GaveUp)
        } else if self.pending_failure {
            NextStep::Retry
        } else {
            NextStep::Finish(UserOutcome::GaveUp)
        }
    }
}

/// What hearing an answer changed for a user.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Heard {
    /// The user had already decided (nothing else follows).
    Decided,
    /// Still undecided; `polls_next`: their request is queued and the answer comes by polling.
    Undecided { polls_next: bool },
}

/// What a user does next after an answer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NextStep {
    /// Something of theirs is still in flight or pending (or a bot, on its own schedule).
    Wait,
    /// Done, with this final outcome.
    Finish(UserOutcome),
    /// Told "not open": click again when the countdown ends.
    Countdown,
    /// A retryable failure: retry if the policy, patience and budget allow.
    Retry,
}

const _: () = assert!(std::mem::size_of::<User>() <= 24);
const _: () = assert!(std::mem::size_of::<Attempt>() <= 96);

#[cfg(test)]
mod tests {
    use super::*;

    fn sent(attempts: u16) -> User {
        User { in_flight: attempts, ..User::default() }
    }

    #[test]
    fn a_human_decides_only_once_nothing_of_theirs_is_in_flight() {
        let mut u = sent(2);
        assert_eq!(
            u.hear(Outcome::SoldOut, false, Outcome::SoldOut.retryable()),
            Heard::Undecided { polls_next: false }
        );
        assert_eq!(u.next_step(), NextStep::Wait, "a duplicate click is still out");
        assert_eq!(
            u.hear(Outcome::TimedOut, false, Outcome::TimedOut.retryable()),
            Heard::Undecided { polls_next: false }
        );
        assert_eq!(u.next_step(), NextStep::Finish(UserOutcome::SoldOut), "told sold out once");
    }

    #[test]
    fn purchased_wins_over_what_a_user_heard_before_even_once_decided() {
        let mut u = sent(1);
        u.hear(Outcome::LimitReached, false, Outcome::LimitReached.retryable());
        assert_eq!(u.next_step(), NextStep::Finish(UserOutcome::LimitReached));
        u.outcome = Some(UserOutcome::LimitReached);
        u.in_flight = 1;
        assert_eq!(
            u.hear(Outcome::Purchased, false, Outcome::Purchased.retryable()),
            Heard::Decided
        );
        assert_eq!(u.outcome, Some(UserOutcome::Purchased));
    }

    #[test]
    fn not_open_counts_down_and_a_failure_retries() {
        let mut u = sent(1);
        u.hear(Outcome::NotOpen, false, Outcome::NotOpen.retryable());
        assert_eq!(u.next_step(), NextStep::Countdown);
        assert!(!u.saw_not_open, "the countdown is taken once");
        u.in_flight = 1;
        u.hear(Outcome::Shed, false, Outcome::Shed.retryable());
        assert_eq!(u.next_step(), NextStep::Retry);
        u.pending_failure = false;
        u.in_flight = 1;
        u.hear(Outcome::InRoom, false, Outcome::InRoom.retryable());
        assert_eq!(u.next_step(), NextStep::Finish(UserOutcome::GaveUp), "nothing to retry");
    }

    #[test]
    fn a_queued_user_polls_and_gives_up_when_polling_ends_unanswered() {
        let mut u = sent(1);
        assert_eq!(
            u.hear(Outcome::Queued, false, Outcome::Queued.retryable()),
            Heard::Undecided { polls_next: true }
        );
        u.poll_pending = true;
        assert_eq!(u.next_step(), NextStep::Wait, "a poll is scheduled");
        u.in_flight = 1;
        assert_eq!(
            u.hear(Outcome::Failed, true, Outcome::Failed.retryable()),
            Heard::Undecided { polls_next: true }
        );
        assert!(!u.pending_failure, "a failed poll is not a failed purchase");
        assert_eq!(u.next_step(), NextStep::Finish(UserOutcome::GaveUp), "no next poll was set");
    }

    #[test]
    fn bots_decide_as_soon_as_they_are_told_and_otherwise_keep_their_schedule() {
        let mut bot = User { is_bot: true, in_flight: 2, ..User::default() };
        bot.hear(Outcome::RateLimited, false, Outcome::RateLimited.retryable());
        assert_eq!(bot.next_step(), NextStep::Wait, "on its own schedule");
        bot.hear(Outcome::SoldOut, false, Outcome::SoldOut.retryable());
        assert_eq!(bot.next_step(), NextStep::Finish(UserOutcome::SoldOut));
    }
}
