//! Whose purchases a per-user limit counts: the buyer (`[sale] limit_key = "user"` or
//! `"account"`) or each coupon (`"coupon"`), and which buyers are enterprise accounts holding
//! stackable coupons (`[traffic.accounts]`).
//!
//! The case study's later oversell: a group-discount coupon could be stacked, and a company
//! holding three was counted by the stock check as three buyers — the limit was keyed on the
//! coupon, not the account. Every guard that checks a limit (the Redis script, the database's
//! locked update, the stream job's state) asks [`LimitRule::for_user`], so keying the limit on
//! coupons lets an account with k coupons hold k × `per_user_limit` units.
//!
//! In this model one person buys for an account, so `user` and `account` coincide.

use schemars::JsonSchema;
use serde::Deserialize;
use sim::config::{Issues, join_key};

/// What a per-user limit is counted on.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum LimitKey {
    /// The buyer (default).
    #[default]
    User,
    /// The buyer's account (the same as `user` here: one person buys for an account).
    Account,
    /// Each coupon: an account holding k stackable coupons counts as k buyers.
    Coupon,
}

/// The `[traffic.accounts]` table.
#[derive(Clone, Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawAccounts {
    /// Share of the human buyers that are enterprise accounts, in [0, 1].
    pub share: f64,
    /// Stackable coupons each account holds; it wants one unit per coupon (2 to 100).
    pub coupons: i64,
}

/// Which buyers are accounts (drawn per buyer from the seed: the same in every variant).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Accounts {
    pub share: f64,
    pub coupons: u16,
}

impl RawAccounts {
    pub fn check(&self, at: &str, issues: &mut Issues) -> Option<Accounts> {
        let before = issues.len();
        if !(0.0..=1.0).contains(&self.share) {
            issues.push(join_key(at, "share"), format!("must be in [0, 1] (got {})", self.share));
        }
        if !(2..=100).contains(&self.coupons) {
            issues.push(
                join_key(at, "coupons"),
                format!("must be between 2 and 100 (got {})", self.coupons),
            );
        }
        (issues.len() == before)
            .then_some(Accounts { share: self.share, coupons: self.coupons as u16 })
    }
}

/// The limit every guard applies, per buyer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LimitRule {
    pub per_key: u16,
    pub key: LimitKey,
    /// Coupons an account holds (0: no accounts), and the hash below which a buyer is one.
    coupons: u16,
    threshold: u64,
    /// Buyers from this index on are bots (never accounts).
    humans: u32,
    seed_hash: u64,
}

impl LimitRule {
    /// One limit per buyer, no accounts.
    pub fn per_buyer(per_key: u16) -> Self {
        LimitRule {
            per_key,
            key: LimitKey::User,
            coupons: 0,
            threshold: 0,
            humans: 0,
            seed_hash: 0,
        }
    }

    pub fn new(
        per_key: u16,
        key: LimitKey,
        accounts: Option<Accounts>,
        humans: u32,
        seed: u64,
    ) -> Self {
        let seed_hash = sim::rng::label_hash("traffic/accounts") ^ seed;
        let (coupons, share) = accounts.map_or((0, 0.0), |a| (a.coupons, a.share));
        // share × 2⁶⁴, saturating at 1.
        let threshold = if share >= 1.0 { u64::MAX } else { (share * 2f64.powi(64)) as u64 };
        LimitRule { per_key, key, coupons, threshold, humans, seed_hash }
    }

    /// Coupons `user` holds: one unless an account.
    pub fn coupons(&self, user: u32) -> u16 {
        if self.coupons == 0 || user >= self.humans {
            return 1;
        }
        let mut state = self.seed_hash ^ (user as u64).wrapping_mul(0x9e37_79b9_7f4a_7c15);
        if sim::rng::splitmix64(&mut state) < self.threshold { self.coupons } else { 1 }
    }

    /// Units `user` may hold before a guard answers "limit reached".
    #[inline]
    pub fn for_user(&self, user: u32) -> u16 {
        match self.key {
            LimitKey::Coupon if self.coupons > 0 => self.per_key.saturating_mul(self.coupons(user)),
            _ => self.per_key,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_coupon_keyed_limit_counts_an_account_once_per_coupon() {
        let accounts = Some(Accounts { share: 0.5, coupons: 3 });
        let by_coupon = LimitRule::new(1, LimitKey::Coupon, accounts, 1000, 7);
        let by_account = LimitRule::new(1, LimitKey::Account, accounts, 1000, 7);
        let holders: Vec<u32> = (0..1000).filter(|&u| by_coupon.coupons(u) == 3).collect();
        assert!((400..600).contains(&holders.len()), "{} accounts", holders.len());
        for &u in &holders {
            assert_eq!((by_coupon.for_user(u), by_account.for_user(u)), (3, 1));
        }
        assert_eq!(by_coupon.coupons(1000), 1, "bots are never accounts");
        assert_eq!(LimitRule::per_buyer(2).for_user(3), 2);
    }
}
