//! The report: figures (SVG and PNG) and a self-contained `report.html`, drawn from a run's or a
//! sweep's output folder — so `flashsim report DIR` can redraw them from the files alone.
//!
//! Figures of a run (`run_figures.rs`): per flash-sale variant, attempts per 100 ms stacked by
//! outcome with the opening marked, queue lengths and utilisation per component; for all
//! variants, stock remaining, the user latency CDF, success rates and cost by component; for
//! server variants, answered requests per 100 ms. They are drawn from the typed summary
//! (`summary.json` read into [`crate::summary::Summary`]) and the typed timelines
//! ([`crate::timelines`]). Figures of a sweep (`sweep_figures.rs`): chosen metrics against the
//! first axis, one line per variant (and per value of the other axes), with 95% confidence bands.
//! The page (`page.rs`) puts them together, after a verdict table (`verdict.rs`) of the figures a
//! review asks first, judged on the scenario's `[report] thresholds` when it has them
//! (`thresholds.rs`, written with the results as `thresholds.json`).

mod figure;
mod page;
mod run_figures;
mod sweep_figures;
pub mod thresholds;
mod timeline_figures;
mod verdict;

pub use figure::Named;
pub use page::write_report;
pub use run_figures::run_figures;
pub use sweep_figures::sweep_figures;
pub use timeline_figures::{LEAD_S, sale_window};
