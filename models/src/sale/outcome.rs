//! Terminal outcomes: every attempt ends in exactly one, every user in exactly one.
//!
//! An attempt's outcome is what its client saw: the server's answer if it arrived before the
//! client's timeout, else `timed_out` (the server may still finish the work; its late answer is
//! counted apart, in `late_answers`). A user's outcome is what they were last told, or that they
//! gave up. The counts add up to the attempts and users — checked at the end of every run.

use serde::{Deserialize, Serialize};

/// How one attempt ended, from the client's side.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    /// Told the purchase succeeded.
    Purchased,
    /// Told the item is sold out.
    SoldOut,
    /// Told they already hold their limit.
    LimitReached,
    /// Dropped at the edge: the user's fingerprint passed less than the dedupe window ago.
    Deduped,
    /// Rejected by the gateway's rate limit.
    RateLimited,
    /// The gateway's queue was full.
    Shed,
    /// Arrived before the sale opened.
    NotOpen,
    /// A downstream step failed (pool or lock wait timeout, deadlock victim, version conflicts):
    /// shown the waiting page.
    Failed,
    /// No answer within the client's timeout.
    TimedOut,
    /// Still in flight when the run ended (only with a horizon that cuts the sale short).
    InFlightAtEnd,
    /// `queue_stream`: the request was appended to the queue; the answer comes by polling.
    Queued,
    /// `queue_stream`: a poll found no result yet.
    Pending,
    /// No valid admission token: shown the waiting room (the user waits there to be admitted).
    InRoom,
}

impl Outcome {
    pub const COUNT: usize = 13;
    pub const ALL: [Outcome; Outcome::COUNT] = [
        Outcome::Purchased,
        Outcome::SoldOut,
        Outcome::LimitReached,
        Outcome::Deduped,
        Outcome::RateLimited,
        Outcome::Shed,
        Outcome::NotOpen,
        Outcome::Failed,
        Outcome::TimedOut,
        Outcome::InFlightAtEnd,
        Outcome::Queued,
        Outcome::Pending,
        Outcome::InRoom,
    ];

    pub fn index(self) -> usize {
        self as usize
    }

    pub fn name(self) -> &'static str {
        match self {
            Outcome::Purchased => "purchased",
            Outcome::SoldOut => "sold_out",
            Outcome::LimitReached => "limit_reached",
            Outcome::Deduped => "deduped",
            Outcome::RateLimited => "rate_limited",
            Outcome::Shed => "shed",
            Outcome::NotOpen => "not_open",
            Outcome::Failed => "failed",
            Outcome::TimedOut => "timed_out",
            Outcome::InFlightAtEnd => "in_flight_at_end",
            Outcome::Queued => "queued",
            Outcome::Pending => "pending",
            Outcome::InRoom => "in_room",
        }
    }

    /// Whether a client may try again after this outcome.
    pub fn retryable(self) -> bool {
        matches!(
            self,
            Outcome::Deduped
                | Outcome::RateLimited
                | Outcome::Shed
                | Outcome::NotOpen
                | Outcome::Failed
                | Outcome::TimedOut
        )
    }
}

/// How one user's sale ended, from their side.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum UserOutcome {
    /// Told at least once that a purchase succeeded (also when told so after deciding).
    Purchased,
    /// Told they already hold their limit (and never told "purchased").
    LimitReached,
    /// Told the item is sold out.
    SoldOut,
    /// Stopped trying: out of attempts, patience or retry budget.
    GaveUp,
    /// Still trying when the run ended.
    StillTrying,
}

impl UserOutcome {
    pub const ALL: [UserOutcome; 5] = [
        UserOutcome::Purchased,
        UserOutcome::LimitReached,
        UserOutcome::SoldOut,
        UserOutcome::GaveUp,
        UserOutcome::StillTrying,
    ];

    pub fn name(self) -> &'static str {
        match self {
            UserOutcome::Purchased => "purchased",
            UserOutcome::LimitReached => "limit_reached",
            UserOutcome::SoldOut => "sold_out",
            UserOutcome::GaveUp => "gave_up",
            UserOutcome::StillTrying => "still_trying",
        }
    }
}

/// Counts per outcome, serialised as a map from outcome name to count, in a fixed order.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct OutcomeCounts(pub [u64; Outcome::COUNT]);

impl OutcomeCounts {
    pub fn add(&mut self, outcome: Outcome) {
        self.0[outcome.index()] += 1;
    }
    pub fn get(&self, outcome: Outcome) -> u64 {
        self.0[outcome.index()]
    }
    pub fn total(&self) -> u64 {
        self.0.iter().sum()
    }
}

impl Serialize for OutcomeCounts {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        let mut map = serializer.serialize_map(Some(Outcome::ALL.len()))?;
        for outcome in Outcome::ALL {
            map.serialize_entry(outcome.name(), &self.get(outcome))?;
        }
        map.end()
    }
}

impl<'de> Deserialize<'de> for OutcomeCounts {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        counts_by_name(deserializer, &Outcome::ALL.map(Outcome::name)).map(OutcomeCounts)
    }
}

/// Reads a map from each of `names` to a count (the form the counts serialise to), in the
/// order of `names`; a missing or unknown name is an error.
fn counts_by_name<'de, D: serde::Deserializer<'de>, const N: usize>(
    deserializer: D,
    names: &[&'static str; N],
) -> Result<[u64; N], D::Error> {
    use serde::de::Error;
    let map = std::collections::BTreeMap::<String, u64>::deserialize(deserializer)?;
    if let Some(unknown) = map.keys().find(|k| !names.contains(&k.as_str())) {
        return Err(D::Error::custom(format!("unknown outcome `{unknown}`")));
    }
    let mut counts = [0; N];
    for (count, name) in counts.iter_mut().zip(names) {
        *count = *map.get(*name).ok_or_else(|| D::Error::missing_field(name))?;
    }
    Ok(counts)
}

/// Counts per user outcome, serialised like [`OutcomeCounts`].
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct UserOutcomeCounts(pub [u64; 5]);

impl UserOutcomeCounts {
    pub fn add(&mut self, outcome: UserOutcome) {
        self.0[outcome as usize] += 1;
    }
    pub fn get(&self, outcome: UserOutcome) -> u64 {
        self.0[outcome as usize]
    }
    pub fn total(&self) -> u64 {
        self.0.iter().sum()
    }
}

impl Serialize for UserOutcomeCounts {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        let mut map = serializer.serialize_map(Some(UserOutcome::ALL.len()))?;
        for outcome in UserOutcome::ALL {
            map.serialize_entry(outcome.name(), &self.get(outcome))?;
        }
        map.end()
    }
}

impl<'de> Deserialize<'de> for UserOutcomeCounts {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        counts_by_name(deserializer, &UserOutcome::ALL.map(UserOutcome::name))
            .map(UserOutcomeCounts)
    }
}
