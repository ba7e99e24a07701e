//! Capacity planning: the cheapest integer capacities that meet every SLO, and the headroom.
//!
//! A plan ([`spec`]) varies integer capacities by key path within bounds, judges each candidate
//! on replications (an SLO holds only if its 95% confidence bound is on the right side, so a plan
//! does not pass by luck; [`slo`]), and minimises an objective (the model's own by default). The
//! [`search`](mod@search) uses the structure of the problem: queueing metrics improve
//! monotonically with capacity, so coordinate descent from the all-maximum corner looks for each
//! dimension's smallest passing value with the others fixed (repeated until nothing moves), then
//! a neighbourhood pass tries trading units of one dimension for the smallest sufficient raise of
//! another. The planner then checks that assumption on its answer ([`monotone`]): it reports
//! every SLO that a larger configuration (one step above in a dimension, or the all-maximum
//! corner) fails although the answer passes it. Headroom is the largest multiplier of the
//! forecast (the scale paths, e.g. users) at which every SLO still holds, to 2%; when the
//! search's limit itself passes, the headroom is at least that. Candidates are cached; the
//! [`report`] says how many configurations were simulated against the size of the full grid, and
//! in how many rounds.
//!
//! The search runs in rounds ([`lanes`]) so that many workers have work: a dimension alone is
//! k-sectioned (its minimum and a midpoint first, then two probes a round), the raises of all
//! trades run side by side, the monotonicity check simulates its configurations in one round, and
//! the headroom probes two multipliers a round. A round's probes are
//! handed to the caller as one batch, which runs every (configuration × replication) at once.
//! What a round holds depends only on the evaluations so far, never on the worker count: the
//! configurations simulated, the answer and `plan.json` are the same at any `--jobs`.

pub mod lanes;
pub mod monotone;
pub mod report;
pub mod search;
pub mod slo;
pub mod spec;

pub use lanes::Cache;
pub use monotone::{Monotonicity, check_monotone};
pub use report::{Candidate, PlanReport, VariantPlan, frontier_stem, frontier_svgs};
pub use search::{Headroom, headroom, search};
pub use slo::{Evaluation, Judgement, Op, Slo};
pub use spec::{Dim, PlanSpec, RawHeadroom, RawPlan, RawVary};
