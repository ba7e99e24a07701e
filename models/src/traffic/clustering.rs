//! Clustered arrivals: an optional self-exciting (Hawkes) component on top of the profile.
//!
//! Buyers do not decide independently: one who clicks shares the link, a group chat lights up,
//! and others follow within seconds (the research notes' α = 0.5, decay 1 s, parameters.md §11).
//! The population is built as a Hawkes cluster process: a share 1 − `branching` of the buyers are
//! *immigrants* whose intent times come from the profile; every buyer then brings Poisson(`branching`)
//! *followers*, each at its leader's intent time plus a `delay`, until the population is full
//! (followers of followers included). For a stationary process with immigrant rate μ the count in
//! a window T much longer than the delay has mean μT / (1 − α) and variance μT / (1 − α)³: a
//! Fano factor (variance ÷ mean) of 1 / (1 − α)², 4 at α = 0.5, against 1 for independent buyers.
//! Draws come from their own stream (`traffic/clustering`); without `[traffic.clustering]` the
//! population is exactly what it was.

use rand_distr::{Distribution, Poisson};
use schemars::JsonSchema;
use serde::Deserialize;
use sim::config::{Issues, join_key};
use sim::rng::RngStream;
use sim::{Dist, DistSpec};

use super::profile::Profile;

/// The `[traffic.clustering]` table.
#[derive(Clone, Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawClustering {
    /// Mean followers per buyer, α in [0, 0.95] (the research notes' assumption: 0.5).
    pub branching: f64,
    /// A follower's intent time after its leader's (e.g. exponential, mean 1s: the decay).
    pub delay: DistSpec,
}

/// Validated clustering settings.
#[derive(Clone, Debug)]
pub struct Clustering {
    pub branching: f64,
    pub delay: Dist,
}

impl RawClustering {
    pub fn check(&self, at: &str, issues: &mut Issues) -> Option<Clustering> {
        if !(0.0..=0.95).contains(&self.branching) {
            issues.push(
                join_key(at, "branching"),
                format!(
                    "must be in [0, 0.95] (got {}): at 1 the clusters never end",
                    self.branching
                ),
            );
        }
        let delay = self.delay.check(&join_key(at, "delay"), issues)?;
        (0.0..=0.95)
            .contains(&self.branching)
            .then_some(Clustering { branching: self.branching, delay })
    }
}

/// The intent offsets (ns from the opening) of `users` buyers: immigrants from the profile
/// (`intent`), then followers in the order their leaders were placed, until there are `users`.
pub fn clustered_offsets(
    users: u32,
    profile: &Profile,
    clustering: &Clustering,
    intent: &mut RngStream,
    rng: &mut RngStream,
) -> Vec<i64> {
    let users = users as usize;
    let immigrants = (((1.0 - clustering.branching) * users as f64).round() as usize).max(1);
    let mut offsets: Vec<i64> = Vec::with_capacity(users);
    offsets.extend((0..immigrants.min(users)).map(|_| profile.sample_offset_ns(intent)));
    let followers = (clustering.branching > 0.0)
        .then(|| Poisson::new(clustering.branching).expect("branching in (0, 0.95]"));
    let mut leader = 0;
    while offsets.len() < users {
        if leader == offsets.len() {
            // Every cluster has ended short of the population: one more immigrant.
            offsets.push(profile.sample_offset_ns(intent));
        }
        let at = offsets[leader];
        leader += 1;
        let count = followers.as_ref().map_or(0, |p| p.sample(rng) as u64);
        for _ in 0..count {
            if offsets.len() == users {
                break;
            }
            offsets.push(at.saturating_add(clustering.delay.sample(rng).as_nanos() as i64));
        }
    }
    offsets
}
