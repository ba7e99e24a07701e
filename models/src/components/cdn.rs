//! CDN edge: the first hop, where repeat requests can be dropped before they reach the origin.
//!
//! De-duplication keeps, per user fingerprint, the time of the last request it let through; a
//! request from the same fingerprint within `window` is answered "duplicate" at the edge (an NGINX
//! Lua check in the case study). The fingerprint table is counted exactly: an entry lives for
//! `window` after its last refresh, so its peak size is the most fingerprints seen inside one
//! window. Edge processing is a delay with no queue (edges are provisioned far above the origin).
//! A de-duplicated request is answered "processing" by default: the page keeps waiting for the
//! answer to the request already in flight instead of counting a failure (docs/parameters.md).
//! Defaults: processing LN(2 ms, 10 ms) [A, parameters.md §11]; window 1 s (NGINX example, §5);
//! price $0.01 per 10,000 HTTPS requests (CloudFront, §5/§8); 64 B per table entry (NGINX zone
//! state, §5).

use std::collections::VecDeque;

use schemars::JsonSchema;
use serde::Deserialize;
use sim::config::DurationLit;
use sim::config::Issues;
use sim::rng::{self, RngStream};
use sim::{Dist, DistSpec, SimDuration, SimTime};

use super::faults::FaultWindows;
use super::{dist_or, duration_or, lognormal, price_or};

/// The `[variant.cdn]` table.
#[derive(Clone, Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawCdn {
    /// Drop repeat requests by fingerprint (default true).
    pub dedupe: Option<bool>,
    /// How long a fingerprint blocks repeats (default 1s).
    pub window: Option<DurationLit>,
    /// Edge processing time (default lognormal median 2ms, p99 10ms).
    pub service: Option<DistSpec>,
    /// Bytes per fingerprint entry (default 64).
    pub entry_bytes: Option<f64>,
    /// Price per 10,000 requests (default 0.01).
    pub price_per_10k_requests: Option<f64>,
    /// What a de-duplicated request is answered: `processing` (default: the front end waits for
    /// the answer of the user's request in flight; with none in flight, until the client's
    /// timeout) or `retryable` (a failure the client backs off from and retries).
    pub dedupe_answer: Option<DedupeAnswer>,
}

/// What a request dropped by the edge's de-duplication is told.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum DedupeAnswer {
    /// A retryable failure.
    Retryable,
    /// "Processing": the page waits for the answer of the request in flight.
    Processing,
}

/// Validated CDN settings.
#[derive(Clone, Debug)]
pub struct CdnSpec {
    pub dedupe: bool,
    pub window: SimDuration,
    pub service: Dist,
    pub entry_bytes: f64,
    pub price_per_10k_requests: f64,
    pub dedupe_answer: DedupeAnswer,
}

impl RawCdn {
    pub fn check(&self, at: &str, issues: &mut Issues) -> Option<CdnSpec> {
        let before = issues.len();
        let window = duration_or(&self.window, at, "window", SimDuration::from_secs(1), issues);
        let service = dist_or(
            &self.service,
            at,
            "service",
            lognormal(SimDuration::from_millis(2), SimDuration::from_millis(10)),
            issues,
        );
        let entry_bytes = price_or(self.entry_bytes, at, "entry_bytes", 64.0, issues);
        let price =
            price_or(self.price_per_10k_requests, at, "price_per_10k_requests", 0.01, issues);
        if issues.len() > before {
            return None;
        }
        Some(CdnSpec {
            dedupe: self.dedupe.unwrap_or(true),
            window: window?,
            service: service?,
            entry_bytes,
            price_per_10k_requests: price,
            dedupe_answer: self.dedupe_answer.unwrap_or(DedupeAnswer::Processing),
        })
    }
}

/// Marks a user without a fingerprint entry (no request can arrive at the end of time).
const NO_ENTRY: SimTime = SimTime::MAX;

/// The edge's state during a run.
#[derive(Debug)]
pub struct Cdn {
    pub spec: CdnSpec,
    /// Per user: when its latest fingerprint entry was made (`NO_ENTRY`: never); the entry lives
    /// for the window from then. A plain time with a sentinel is half the size of an `Option`,
    /// which matters for a million users.
    last_pass: Vec<SimTime>,
    /// Expiry times of entries, oldest first, for the exact live count.
    expiries: VecDeque<(SimTime, u32)>,
    live_entries: u64,
    pub peak_entries: u64,
    pub requests: u64,
    pub deduped: u64,
    /// Edge processing times (`cdn/service`).
    rng: RngStream,
    pub windows: FaultWindows,
}

impl Cdn {
    /// Hints that `user`'s fingerprint entry will be read soon.
    #[inline]
    pub fn prefetch(&self, user: u32) {
        sim::prefetch::prefetch_at(&self.last_pass, user as usize);
    }

    pub fn new(spec: CdnSpec, users: usize, seed: u64) -> Self {
        Cdn {
            spec,
            last_pass: vec![NO_ENTRY; users],
            expiries: VecDeque::new(),
            live_entries: 0,
            peak_entries: 0,
            requests: 0,
            deduped: 0,
            rng: rng::stream(seed, "cdn/service"),
            windows: FaultWindows::default(),
        }
    }

    /// A request from `user` reaches the edge at `now`: `true` if it passes to the origin.
    pub fn admit(&mut self, now: SimTime, user: u32) -> bool {
        self.requests += 1;
        if !self.spec.dedupe {
            return true;
        }
        // An entry is never refreshed while it lives (a repeat inside the window is dropped), so
        // each expiry record ends exactly the entry it was made for, and every record due is
        // consumed here before that user's slot can be written again. The table itself is not
        // touched: an expired slot reads as free below (so this loop does not wait on the
        // memory of users other than this one).
        while let Some(&(expiry, _who)) = self.expiries.front() {
            if expiry > now {
                break;
            }
            self.expiries.pop_front();
            debug_assert_eq!(self.last_pass[_who as usize] + self.spec.window, expiry);
            self.live_entries -= 1;
        }
        let slot = &mut self.last_pass[user as usize];
        let live = *slot != NO_ENTRY && now < *slot + self.spec.window;
        if live {
            self.deduped += 1;
            return false;
        }
        self.live_entries += 1;
        self.peak_entries = self.peak_entries.max(self.live_entries);
        *slot = now;
        self.expiries.push_back((now + self.spec.window, user));
        true
    }

    /// A request that is not de-duplicated (a status poll) passes the edge at `now`.
    pub fn pass(&mut self, _now: SimTime) -> bool {
        self.requests += 1;
        true
    }

    /// The edge's processing delay for a request passing at `now`, through its fault windows.
    pub fn delay(&mut self, now: SimTime) -> SimDuration {
        let delay = self.spec.service.sample(&mut self.rng);
        self.windows.apply(now, delay)
    }

    /// Peak fingerprint-table memory in bytes.
    pub fn peak_table_bytes(&self) -> f64 {
        self.peak_entries as f64 * self.spec.entry_bytes
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn repeats_inside_the_window_are_dropped_and_entries_expire() {
        let spec = RawCdn::default().check("cdn", &mut Issues::new()).unwrap();
        let mut cdn = Cdn::new(spec, 3, 1);
        let ms = |m| SimTime::ZERO + SimDuration::from_millis(m);
        assert!(cdn.admit(ms(0), 0));
        assert!(!cdn.admit(ms(500), 0), "repeat within 1 s");
        assert!(cdn.admit(ms(600), 1));
        assert_eq!(cdn.peak_entries, 2);
        assert!(cdn.admit(ms(1000), 0), "window over");
        assert!(cdn.admit(ms(1700), 2));
        // At 1.7 s: user 1's entry (600 ms) expired, user 0 (1000 ms) and 2 live.
        assert_eq!(cdn.live_entries, 2);
        assert_eq!((cdn.requests, cdn.deduped), (5, 1));
    }
}
