//! Flash-sale traffic: would-be buyers, when they click, how often, and how they retry.
//!
//! Each of `users` distinct buyers has an intent time drawn from the arrival profile (relative to
//! the sale's opening), delayed by a human reaction time and shifted by the client's clock skew (a
//! clock running ahead fires early). A share of users have a front end that fails to de-duplicate
//! clicks and send extra clicks at random gaps (the case study: 41% of requests were repeats).
//! All of this is *exogenous*: it is generated once per seed, before any variant runs, from named
//! streams (`traffic/intent`, `traffic/reaction`, `traffic/clock-skew`, `traffic/duplicates`,
//! `traffic/patience`), so every architecture compared sees exactly the same clicks (common random
//! numbers). What users do next — retries after failures — depends on the system, so it happens
//! inside each variant's run ([`client`]).

pub mod client;
pub mod clustering;
pub mod profile;

use std::path::Path;

use rand::RngExt;
use rand_distr::{Distribution, Geometric};
use schemars::JsonSchema;
use serde::Deserialize;
use sim::config::{DurationLit, OffsetLit};
use sim::config::{Issues, join_key};
use sim::{Dist, DistSpec, SimDuration, SimTime, rng};

use client::{ClientSpec, RawClient};
use clustering::{Clustering, RawClustering};
use profile::{Profile, RawProfile};

/// The `[traffic]` table.
#[derive(Clone, Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawTraffic {
    /// Distinct human would-be buyers.
    pub users: i64,
    /// When users intend to click, relative to the opening.
    pub profile: RawProfile,
    /// Human delay added to every first click (default none).
    pub reaction: Option<DistSpec>,
    /// Largest client clock error: each client is off by U(−skew, +skew); a fast clock clicks
    /// early (default 0s).
    pub clock_skew: Option<DurationLit>,
    /// Users whose front end fails to de-duplicate clicks.
    pub duplicates: Option<RawDuplicates>,
    /// Optional: buyers who follow other buyers (a Hawkes cluster process on the profile).
    pub clustering: Option<RawClustering>,
    /// Timeouts, retries and patience.
    #[serde(default)]
    pub client: RawClient,
    /// Scripted buyers: few users, many fast requests.
    pub bots: Option<RawBots>,
    /// Optional: a share of the buyers are enterprise accounts holding stackable coupons.
    pub accounts: Option<crate::components::limit::RawAccounts>,
}

/// The `[traffic.duplicates]` table.
#[derive(Clone, Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawDuplicates {
    /// Share of users whose front end sends extra clicks, in [0, 1].
    pub share: f64,
    /// Mean extra clicks per such user (≥ 1; 1 + geometric).
    pub extra_clicks: f64,
    /// Gap between one click and the next.
    pub gap: DistSpec,
}

/// The `[traffic.bots]` table.
#[derive(Clone, Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawBots {
    /// Number of bots.
    pub users: i64,
    /// Gap between one bot's requests.
    pub interval: DurationLit,
    /// When bots start, relative to the opening (default "-1s").
    pub start: Option<OffsetLit>,
    /// When bots stop, relative to the opening (default: when told sold out or served).
    pub stop: Option<OffsetLit>,
}

/// Validated duplicate-click behaviour.
#[derive(Clone, Debug)]
pub struct Duplicates {
    pub share: f64,
    pub extra_clicks: f64,
    pub gap: Dist,
}

/// Validated bots.
#[derive(Clone, Debug)]
pub struct Bots {
    pub users: u32,
    pub interval: SimDuration,
    pub start_ns: i64,
    pub stop_ns: Option<i64>,
}

/// Validated traffic.
#[derive(Clone, Debug)]
pub struct Traffic {
    pub users: u32,
    pub profile: Profile,
    pub reaction: Option<Dist>,
    pub clock_skew: SimDuration,
    pub duplicates: Option<Duplicates>,
    pub clustering: Option<Clustering>,
    pub client: ClientSpec,
    pub bots: Option<Bots>,
    pub accounts: Option<crate::components::limit::Accounts>,
}

/// Most users a scenario may hold (per-user state is a few dozen bytes each).
pub const MAX_USERS: i64 = 50_000_000;

/// Most exogenous clicks (first and duplicate) a scenario may generate (16 bytes each).
pub const MAX_CLICKS: u64 = 200_000_000;

impl RawTraffic {
    pub fn check(&self, at: &str, base: &Path, issues: &mut Issues) -> Option<Traffic> {
        let before = issues.len();
        if !(1..=MAX_USERS).contains(&self.users) {
            issues.push(
                join_key(at, "users"),
                format!("must be between 1 and {MAX_USERS} (got {})", self.users),
            );
        }
        let profile = self.profile.check(&join_key(at, "profile"), base, issues);
        let reaction = self.reaction.as_ref().map(|r| r.check(&join_key(at, "reaction"), issues));
        let clock_skew =
            self.clock_skew.as_ref().map(|s| s.check(&join_key(at, "clock_skew"), issues));
        let duplicates = self.duplicates.as_ref().map(|d| {
            let d_at = join_key(at, "duplicates");
            if !(0.0..=1.0).contains(&d.share) {
                issues
                    .push(join_key(&d_at, "share"), format!("must be in [0, 1] (got {})", d.share));
            }
            if !(1.0..=1000.0).contains(&d.extra_clicks) {
                issues.push(
                    join_key(&d_at, "extra_clicks"),
                    format!("must be between 1 and 1000 (got {})", d.extra_clicks),
                );
            }
            let gap = d.gap.check(&join_key(&d_at, "gap"), issues);
            gap.map(|gap| Duplicates { share: d.share, extra_clicks: d.extra_clicks, gap })
        });
        let clustering =
            self.clustering.as_ref().map(|c| c.check(&join_key(at, "clustering"), issues));
        let accounts = self.accounts.as_ref().map(|a| a.check(&join_key(at, "accounts"), issues));
        let client = self.client.check(&join_key(at, "client"), issues);
        let bots = self.bots.as_ref().map(|b| {
            let b_at = join_key(at, "bots");
            if !(1..=1_000_000).contains(&b.users) {
                issues.push(
                    join_key(&b_at, "users"),
                    format!("must be between 1 and 1000000 (got {})", b.users),
                );
            }
            let interval = b.interval.check(&join_key(&b_at, "interval"), issues);
            if interval.is_some_and(|i| i < SimDuration::from_micros(1)) {
                issues.push(join_key(&b_at, "interval"), "must be ≥ 1us");
            }
            let start = b
                .start
                .as_ref()
                .map_or(Some(-1_000_000_000), |s| s.check(&join_key(&b_at, "start"), issues));
            let start = profile::check_offset(start, &join_key(&b_at, "start"), issues);
            let stop = b.stop.as_ref().map(|s| {
                profile::check_offset(
                    s.check(&join_key(&b_at, "stop"), issues),
                    &join_key(&b_at, "stop"),
                    issues,
                )
            });
            Some(Bots {
                users: b.users.max(1) as u32,
                interval: interval?,
                start_ns: start?,
                stop_ns: stop.map(|s| s.unwrap_or(0)),
            })
        });
        if let Some(Some(d)) = &duplicates {
            let expected = self.users as f64 * (1.0 + d.share * d.extra_clicks);
            if expected > MAX_CLICKS as f64 {
                issues.push(
                    join_key(at, "duplicates"),
                    format!(
                        "with {} users this means about {expected:.0} clicks; at most {MAX_CLICKS}",
                        self.users
                    ),
                );
            }
        }
        if issues.len() > before {
            return None;
        }
        Some(Traffic {
            users: self.users as u32,
            profile: profile?,
            reaction: reaction.flatten(),
            clock_skew: clock_skew.flatten().unwrap_or(SimDuration::ZERO),
            duplicates: duplicates.flatten(),
            clustering: clustering.flatten(),
            accounts: accounts.flatten(),
            client: client?,
            bots: bots.flatten(),
        })
    }
}

/// Whether a click is a user's first or an extra one from a front end that did not de-duplicate.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum ClickKind {
    First,
    Duplicate,
}

/// One exogenous click.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Click {
    pub time: SimTime,
    pub user: u32,
    pub kind: ClickKind,
}

/// The clicks of every user, generated once per seed and shared by all variants.
#[derive(Clone, Debug)]
pub struct Population {
    /// First and duplicate clicks, ordered by time (ties by user, then click order). Users are
    /// numbered in the order of their first click.
    pub clicks: Vec<Click>,
    /// Per user: when they give up (first click + patience), if they have a patience.
    pub give_up_at: Option<Vec<SimTime>>,
    /// Users whose intent fell before time zero and were moved to it.
    pub clamped: u32,
}

impl Traffic {
    /// Generates the population for `seed`, with the opening at `opens_at`. With
    /// `hold_until_open` the page keeps a click before the opening until the user's own clock
    /// says open (a fast clock lets it go early, a slow one late).
    pub fn generate(&self, seed: u64, opens_at: SimTime, hold_until_open: bool) -> Population {
        let mut intent_rng = rng::stream(seed, "traffic/intent");
        let mut reaction_rng = rng::stream(seed, "traffic/reaction");
        let mut skew_rng = rng::stream(seed, "traffic/clock-skew");
        let mut dup_rng = rng::stream(seed, "traffic/duplicates");
        let mut patience_rng = rng::stream(seed, "traffic/patience");
        let opens_ns = opens_at.as_nanos() as i64;
        let skew_ns = self.clock_skew.as_nanos() as i64;
        let mut clicks = Vec::with_capacity(self.users as usize * 5 / 4);
        let mut give_up_at =
            self.client.patience.as_ref().map(|_| Vec::with_capacity(self.users as usize));
        let mut clamped = 0;
        let geometric = self.duplicates.as_ref().map(|d| {
            Geometric::new(1.0 / d.extra_clicks).expect("extra_clicks ≥ 1 gives p in (0, 1]")
        });
        // (time, user, click index within the user) — a total order, so sorting is deterministic.
        let mut keyed: Vec<(u64, u32, u32)> = Vec::with_capacity(clicks.capacity());
        let clustered = self.clustering.as_ref().map(|c| {
            let mut rng = rng::stream(seed, "traffic/clustering");
            clustering::clustered_offsets(self.users, &self.profile, c, &mut intent_rng, &mut rng)
        });
        for user in 0..self.users {
            let offset = match &clustered {
                Some(offsets) => offsets[user as usize],
                None => self.profile.sample_offset_ns(&mut intent_rng),
            };
            let mut t = opens_ns.saturating_add(offset);
            if let Some(reaction) = &self.reaction {
                t = t.saturating_add(reaction.sample(&mut reaction_rng).as_nanos() as i64);
            }
            let skew = if skew_ns > 0 { skew_rng.random_range(-skew_ns..=skew_ns) } else { 0 };
            t -= skew;
            if hold_until_open {
                t = t.max(opens_ns - skew);
            }
            if t < 0 {
                clamped += 1;
                t = 0;
            }
            let first = t as u64;
            keyed.push((first, user, 0));
            if let (Some(d), Some(geometric)) = (&self.duplicates, &geometric)
                && dup_rng.random::<f64>() < d.share
            {
                // Geometric counts failures before a success: 1 + that has mean extra_clicks.
                let extra = 1 + geometric.sample(&mut dup_rng).min(10_000) as u32;
                let mut at = first;
                for k in 1..=extra {
                    at = at.saturating_add(d.gap.sample(&mut dup_rng).as_nanos());
                    keyed.push((at, user, k));
                }
            }
            if let (Some(patience), Some(list)) = (&self.client.patience, give_up_at.as_mut()) {
                list.push(SimTime::from_nanos(first) + patience.sample(&mut patience_rng));
            }
        }
        keyed.sort_unstable();
        // Number users in the order of their first click: users active at the same moment then
        // sit next to each other in every per-user table, which keeps a million-user run in
        // cache. User identities are arbitrary labels, so nothing else changes.
        let mut rank = vec![0u32; self.users as usize];
        let mut next = 0u32;
        for &(_, user, k) in &keyed {
            if k == 0 {
                rank[user as usize] = next;
                next += 1;
            }
        }
        clicks.extend(keyed.into_iter().map(|(time, user, k)| Click {
            time: SimTime::from_nanos(time),
            user: rank[user as usize],
            kind: if k == 0 { ClickKind::First } else { ClickKind::Duplicate },
        }));
        let give_up_at = give_up_at.map(|by_user| {
            let mut by_rank = vec![SimTime::ZERO; by_user.len()];
            for (user, deadline) in by_user.into_iter().enumerate() {
                by_rank[rank[user] as usize] = deadline;
            }
            by_rank
        });
        Population { clicks, give_up_at, clamped }
    }
}
