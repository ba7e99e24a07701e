//! The job's keyed state: the item's stock (one key, or split over the subtasks) and the
//! per-user counts, with an undo log back to the last completed checkpoint.

use schemars::JsonSchema;
use serde::Deserialize;

use crate::components::results::{ANSWER_LIMIT, ANSWER_PURCHASED, ANSWER_SOLD_OUT};

/// Where the item's stock is kept.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum StockPlacement {
    /// One key: every record is decided by one subtask.
    OneKey,
    /// Split evenly over the subtasks; records keyed by user.
    Split,
}

/// What the job decided for one record.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Decision {
    Purchased,
    SoldOut,
    LimitReached,
}

impl Decision {
    /// The answer code the sink writes to the result store.
    pub fn code(self) -> u8 {
        match self {
            Decision::Purchased => ANSWER_PURCHASED,
            Decision::SoldOut => ANSWER_SOLD_OUT,
            Decision::LimitReached => ANSWER_LIMIT,
        }
    }
}

/// The job's keyed state with an undo log back to the last completed checkpoint.
#[derive(Debug)]
pub struct StreamState {
    /// Stock per subtask (one entry with `one_key`).
    pub stock: Vec<i64>,
    pub per_user: Vec<u16>,
    /// Keys holding a per-user count.
    pub user_keys: u64,
    pub peak_user_keys: u64,
    /// Changes since the last checkpoint was taken: `(user, count before)` and
    /// `(subtask, stock before)`, undone in reverse on a restore.
    undo_users: Vec<(u32, u16)>,
    undo_stock: Vec<(u32, i64)>,
    /// Undo entries taken since the checkpoint in progress was triggered (they become part of
    /// the restore path only if that checkpoint never completes).
    pending_users: usize,
    pending_stock: usize,
}

impl StreamState {
    pub fn new(placement: StockPlacement, parallelism: u32, stock: u64, users: usize) -> Self {
        let shares = match placement {
            StockPlacement::OneKey => vec![stock as i64],
            StockPlacement::Split => {
                let n = parallelism as u64;
                (0..n).map(|i| (stock / n + u64::from(i < stock % n)) as i64).collect()
            }
        };
        StreamState {
            stock: shares,
            per_user: vec![0; users],
            user_keys: 0,
            peak_user_keys: 0,
            undo_users: Vec::new(),
            undo_stock: Vec::new(),
            pending_users: 0,
            pending_stock: 0,
        }
    }

    /// Decides one record of `user` on the stock share `share`.
    pub fn decide(&mut self, share: usize, user: u32, limit: u16) -> Decision {
        if self.stock[share] <= 0 {
            return Decision::SoldOut;
        }
        let count = self.per_user[user as usize];
        if count >= limit {
            return Decision::LimitReached;
        }
        self.undo_stock.push((share as u32, self.stock[share]));
        self.undo_users.push((user, count));
        self.stock[share] -= 1;
        if count == 0 {
            self.user_keys += 1;
            self.peak_user_keys = self.peak_user_keys.max(self.user_keys);
        }
        self.per_user[user as usize] = count + 1;
        Decision::Purchased
    }

    pub fn stock_left(&self) -> i64 {
        self.stock.iter().sum()
    }

    /// A checkpoint is triggered: it will hold the state as of now.
    pub fn trigger_checkpoint(&mut self) {
        self.pending_users = self.undo_users.len();
        self.pending_stock = self.undo_stock.len();
    }

    /// The triggered checkpoint completed: changes before its trigger can no longer be undone.
    pub fn complete_checkpoint(&mut self) {
        self.undo_users.drain(..self.pending_users);
        self.undo_stock.drain(..self.pending_stock);
        self.pending_users = 0;
        self.pending_stock = 0;
    }

    /// Rolls the state back to the last completed checkpoint.
    pub fn restore(&mut self) {
        for (user, before) in self.undo_users.drain(..).rev() {
            if before == 0 && self.per_user[user as usize] > 0 {
                self.user_keys -= 1;
            }
            self.per_user[user as usize] = before;
        }
        for (share, before) in self.undo_stock.drain(..).rev() {
            self.stock[share as usize] = before;
        }
        self.pending_users = 0;
        self.pending_stock = 0;
    }
}
