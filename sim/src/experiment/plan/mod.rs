//! Capacity planning: the cheapest integer capacities that meet every SLO, and the headroom.
//!
//! A plan ([`spec`]) varies integer capacities by key path within bounds, judges each candidate
//! on replications (an SLO holds only if its 95% confidence bound is on the right side, so a plan
//! does not pass by luck; [`slo`]), and minimises an objective (the model's own by default). The
//! [`search`](mod@search) uses the structure of the problem: queueing metrics improve monotonically with
//! capacity, so each dimension is bisected for its smallest passing value with the others fixed
//! (coordinate descent from the all-maximum corner, repeated until nothing moves), then a
//! neighbourhood pass tries trading one unit of a dimension for more of another. Candidates are
//! cached; the [`report`] says how many configurations were simulated against the size of the
//! full grid. Headroom is the largest multiplier of the forecast (the scale paths, e.g. users)
//! at which every SLO still holds, found by bisection.

pub mod report;
pub mod search;
pub mod slo;
pub mod spec;

pub use report::{Candidate, PlanReport, VariantPlan, frontier_stem, frontier_svgs};
pub use search::{Cache, headroom, search};
pub use slo::{Evaluation, Judgement, Op, Slo};
pub use spec::{Dim, PlanSpec, RawHeadroom, RawPlan, RawVary};
