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
    /// Giving a reserved unit back after a failed final write.
    Compensate,
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
    /// One-way client ↔ first tier delay for this attempt.
    pub rtt_half: SimDuration,
    /// When it reached the gateway (while it holds a worker).
    pub gateway_since: Since,
    /// When it reached the Redis shard.
    pub redis_since: SimTime,
    /// When it got (or asked for) a pooled connection, while it holds or waits for one.
    pub pool_since: Since,
    /// When it asked for the row lock, while it holds or waits for it.
    pub lock_since: Since,
    pub stage: Stage,
    pub redis_answer: Option<StockAnswer>,
    pub reserved_in_redis: bool,
    pub read_stock: i64,
    pub read_version: u64,
    pub read_user_orders: u16,
    pub occ_tries: u16,
    /// `queue_stream`: the produce request of this attempt, or the answer code a poll read.
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
}

const _: () = assert!(std::mem::size_of::<User>() <= 24);
const _: () = assert!(std::mem::size_of::<Attempt>() <= 96);
