//! Flash-sale architectures: `three_tier_redis`, `naive_db` and `queue_stream`, on one shared
//! client model.
//!
//! A scenario with a `[sale]` and a `[traffic]` table may hold flash-sale variants. Every variant
//! is run on the same population of clicks (generated once per seed, see `crate::traffic`), and
//! reports the same metrics ([`metrics`]), so the comparison is the architecture, not the noise.

pub mod metrics;
pub mod model;
pub mod observed;
pub mod outcome;
pub mod payment;
pub mod tiers;
pub mod timeline;

pub mod arch;
pub mod attempt;
pub mod client;
pub mod config;
pub mod event;
pub mod fault;

use sim::Context;

use crate::limits::RunLimits;
use crate::summary::VariantSummary;
use crate::timelines::{SaleRow, VariantTimeline};
use crate::traffic::Population;
use model::SaleModel;

pub use config::{RawSale, SaleSetup, SaleSpec, SaleVariant, check_variant};

/// Simulates one variant on the shared population.
pub fn simulate(
    setup: &SaleSetup,
    variant: &SaleVariant,
    population: &Population,
    limits: &RunLimits,
    seed: u64,
) -> Result<(VariantSummary, VariantTimeline<SaleRow>), String> {
    let mut ctx = Context::new();
    let mut model = SaleModel::new(setup, variant, population, seed, &mut ctx);
    let stats = limits.run(&mut model, &mut ctx)?;
    // Payment windows run on after the sale; the components are measured over the sale.
    let end = if model.payments.is_some() { model.last_sale_event } else { stats.end };
    let report = model.finish(end);
    report.check_conservation().map_err(|e| format!("variant `{}`: {e}", variant.name))?;
    let timeline = report.timeline(&variant.name);
    let summary = metrics::variant_summary(setup, variant, &report, &timeline, &stats);
    Ok((summary, timeline))
}
