//! `naive_db`: the application reads the stock, checks it, and updates it — all in MySQL.
//!
//! ```text
//!   client ─rtt/2─► app server (gateway) ─► DB: pool ─► SELECT stock ─► row lock: UPDATE ; COMMIT
//!                     │ rate limit / queue full        │ read 0 / user at limit: answered
//!                     ▼                                ▼
//!                   answer ◄──────────────────────── "purchased" / "sold out" / failed
//! ```
//!
//! The transaction is the database path of `database.rs` with the application as the writer:
//! with `guard = "none"` two requests that read the same stock both sell (the lost update).

use super::super::outcome::Outcome;
use crate::components::db::RowRead;

/// What the application answers after reading the row without a lock, before it asks for the
/// lock: nothing (go on), "sold out" or "limit reached".
pub(super) fn refusal_after_read(read: RowRead, limit: u16) -> Option<Outcome> {
    if read.stock <= 0 {
        Some(Outcome::SoldOut)
    } else if read.user_orders >= limit {
        Some(Outcome::LimitReached)
    } else {
        None
    }
}
