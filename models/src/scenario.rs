//! The scenario file: what a user writes (raw tier) and what the models run (validated tier).
//!
//! The raw tier mirrors the TOML with `deny_unknown_fields`, keeping literals as written; the
//! validated tier holds typed values that cannot be invalid. Validation records every broken rule
//! with its key path, so one pass reports all of a file's errors. Variants are tagged tables
//! (`architecture = "…"`); all variants of a scenario run with the same seed, and since every
//! random stream is named, they see the same traffic (common random numbers).
//!
//! ```toml
//! name = "mm1"                 # optional; default: the file name
//! [run]
//! seed = 1
//! horizon = "1h"               # optional when every arrival stream is finite
//! warmup = "5m"
//! [[variant]]
//! name = "single-server"
//! architecture = "network"
//! # … stations and arrival streams, see `network::config`
//! ```

use std::path::Path;

use schemars::JsonSchema;
use serde::Deserialize;
use sim::SimTime;
use sim::config::{ConfigErrors, Issues, Override, join_index, join_key};

pub use crate::architecture::Variant;
pub use crate::architecture::kind::Architecture;
pub use crate::limits::{RawRun, RunSettings};
use crate::sale::config::{RawSale, SaleSetup, SaleVariant};
use crate::traffic::RawTraffic;
pub use crate::variant::RawVariant;

/// A scenario file as written.
#[derive(Clone, Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(title = "flashsim scenario")]
pub struct RawScenario {
    /// Names the output folder; defaults to the file name without extension.
    pub name: Option<String>,
    /// What question this scenario answers.
    pub description: Option<String>,
    /// How long to simulate and with which seed.
    #[serde(default)]
    pub run: RawRun,
    /// Flash-sale variants: the item on sale.
    pub sale: Option<RawSale>,
    /// Flash-sale variants: the buyers.
    pub traffic: Option<RawTraffic>,
    /// `server` variants: closed-loop connections.
    pub load: Option<crate::server::config::RawLoad>,
    /// The systems to compare; each sees the same seeded traffic.
    #[serde(rename = "variant")]
    pub variants: Vec<RawVariant>,
    /// Parameter sweep for `flashsim sweep` (ignored by `run`).
    pub sweep: Option<sim::experiment::sweep::RawSweep>,
    /// Capacity plan for `flashsim plan` (ignored by `run`).
    pub plan: Option<sim::experiment::plan::RawPlan>,
    /// The report: thresholds its verdict table judges each flash-sale variant on.
    pub report: Option<crate::report::thresholds::RawReport>,
    /// Flash-sale variants: components paused, slowed down or crashed over a window.
    #[serde(rename = "fault")]
    pub faults: Option<Vec<crate::sale::fault::RawFault>>,
}

/// A scenario that has passed validation.
#[derive(Clone, Debug)]
pub struct Scenario {
    pub name: String,
    pub description: Option<String>,
    pub run: RunSettings,
    /// The sale and its traffic, when there are flash-sale variants.
    pub sale: Option<SaleSetup>,
    /// Closed-loop load, when there are `server` variants.
    pub load: Option<crate::server::config::LoadSpec>,
    pub variants: Vec<Variant>,
    /// `[report] thresholds`, checked (none without the table).
    pub thresholds: crate::report::thresholds::Thresholds,
}

/// Reads, overrides and validates a scenario file, reporting every error found.
pub fn load(file: &Path, overrides: &[Override]) -> Result<Scenario, ConfigErrors> {
    let (raw, doc) = sim::config::load::<RawScenario>(file, overrides)?;
    finish(file, raw, doc)
}

/// Like [`load`] for scenario text already in memory; `file` names it in errors and output.
pub fn from_text(
    file: &Path,
    text: &str,
    overrides: &[Override],
) -> Result<Scenario, ConfigErrors> {
    let (raw, doc) = sim::config::parse::<RawScenario>(file, text.to_string(), overrides)?;
    finish(file, raw, doc)
}

fn finish(
    file: &Path,
    raw: RawScenario,
    doc: sim::config::Document,
) -> Result<Scenario, ConfigErrors> {
    let default_name = file.file_stem().and_then(|s| s.to_str()).unwrap_or("scenario");
    let base = file.parent().unwrap_or(Path::new("."));
    let mut issues = Issues::new();
    let scenario = validate(&raw, default_name, base, &mut issues);
    doc.check(&issues)?;
    scenario.ok_or_else(|| {
        // Every rule that rejects a value records an issue; this guards against one that forgets.
        issues.push("", "could not be validated, and no rule said why (please report this)");
        doc.errors(&issues)
    })
}

/// Checks a raw scenario; `None` (with issues recorded) if any rule is broken.
pub fn validate(
    raw: &RawScenario,
    default_name: &str,
    base: &Path,
    issues: &mut Issues,
) -> Option<Scenario> {
    let name = raw.name.clone().unwrap_or_else(|| default_name.to_string());
    if sim::config::check_name(issues, "name", &name)
        && (name.contains(['/', '\\']) || name.starts_with('.'))
    {
        issues.push("name", format!("must be a plain folder name (got {name:?})"));
    }
    let run = raw.run.check(issues);
    if let Some(run) = &run {
        crate::architecture::check_run(&raw.variants, run, issues);
    }
    if let Some(plan) = &raw.plan {
        plan.check(issues, crate::summary::DEFAULT_OBJECTIVE);
    }
    let thresholds = raw.report.as_ref().map(|r| r.check(issues)).unwrap_or_default();
    if let Some(sweep) = &raw.sweep {
        // Checked here so that `validate` reports a bad sweep; `sweep` re-reads the table.
        sweep.check(issues);
    }
    if raw.variants.is_empty() {
        issues.push("variant", "needs at least one [[variant]] (got none)");
    }
    let mut variants = Vec::new();
    for (i, variant) in raw.variants.iter().enumerate() {
        let checked =
            crate::architecture::check_variant(variant, &join_index("variant", i), issues);
        variants.extend(checked);
    }
    // Names seen so far, and the first name seen for each file-safe form: looked up, not
    // scanned, so a file with 200,000 variants validates in linear-logarithmic time.
    let mut names = std::collections::BTreeSet::new();
    let mut safe_names: std::collections::BTreeMap<String, &str> = Default::default();
    for (i, v) in variants.iter().enumerate() {
        let key = join_key(&join_index("variant", i), "name");
        let safe = sim::config::file_safe(v.name());
        let (seen, first_safe) = (names.contains(v.name()), safe_names.get(&safe).copied());
        names.insert(v.name());
        safe_names.entry(safe.clone()).or_insert(v.name());
        if !sim::config::check_name(issues, &key, v.name()) {
            continue;
        }
        if seen {
            issues.push(key, format!("must be unique among variants (got {:?} twice)", v.name()));
        } else if let Some(w) = first_safe {
            issues.push(
                key,
                format!(
                    "must differ from variant {w:?} in file names too: both become `{safe}` \
                     (letters, digits, `-` and `_` are kept; anything else becomes `_`)"
                ),
            );
        }
    }
    let wants_sale = raw.variants.iter().any(|v| v.architecture.is_sale());
    let wants_load = raw.variants.iter().any(|v| v.architecture == Architecture::Server);
    if !wants_sale && !thresholds.thresholds.is_empty() {
        issues.push(
            "report.thresholds",
            "judge flash-sale variants' metrics, and this scenario has none",
        );
    }
    let load = check_load(raw, wants_load, run.as_ref(), issues);
    let sale = check_sale(raw, wants_sale, base, &variants, issues);
    let run = run?;
    check_horizon(&run, &variants, issues);
    if !issues.is_empty() || variants.len() != raw.variants.len() {
        return None;
    }
    let description = raw.description.clone();
    Some(Scenario { name, description, run, sale, load, variants, thresholds })
}

/// The `[load]` of `server` variants, and a warm-up that leaves some of it to measure.
fn check_load(
    raw: &RawScenario,
    wants_load: bool,
    run: Option<&RunSettings>,
    issues: &mut Issues,
) -> Option<crate::server::config::LoadSpec> {
    match &raw.load {
        Some(load) => {
            let load = load.check(issues);
            if let (Some(load), Some(run)) = (&load, run)
                && wants_load
                && run.warmup_duration() >= load.duration
            {
                issues.push(
                    "run.warmup",
                    format!(
                        "must be shorter than load.duration ({}) for server variants (got {})",
                        load.duration,
                        run.warmup_duration()
                    ),
                );
            }
            load
        }
        None => {
            if wants_load {
                issues.push("load", "is required by server variants ([load] with `connections`)");
            }
            None
        }
    }
}

/// The `[sale]`, `[traffic]` and `[[fault]]` tables flash-sale variants share.
fn check_sale(
    raw: &RawScenario,
    wants_sale: bool,
    base: &Path,
    variants: &[Variant],
    issues: &mut Issues,
) -> Option<SaleSetup> {
    match (&raw.sale, &raw.traffic) {
        (Some(sale), Some(traffic)) => {
            let sale = sale.check(issues);
            let traffic = traffic.check("traffic", base, issues);
            let faults = sale.as_ref().map(|s| check_faults(raw, s.opens_at, variants, issues));
            sale.zip(traffic).zip(faults).map(|((sale, traffic), faults)| SaleSetup {
                sale,
                traffic,
                faults,
            })
        }
        (sale, traffic) => {
            if wants_sale && sale.is_none() {
                issues.push("sale", "is required by flash-sale variants ([sale] with `stock`)");
            }
            if raw.faults.is_some() && sale.is_none() {
                issues.push("fault", "applies to flash-sale variants, which need [sale]");
            }
            if wants_sale && traffic.is_none() {
                issues
                    .push("traffic", "is required by flash-sale variants ([traffic] with `users`)");
            }
            None
        }
    }
}

/// A run without a horizon must end by itself: every network arrival stream must be finite.
fn check_horizon(run: &RunSettings, variants: &[Variant], issues: &mut Issues) {
    if run.horizon.is_none() {
        for (i, variant) in variants.iter().enumerate() {
            let Variant::Network(net) = variant else { continue };
            if let Some(stream) = net.arrivals.iter().find(|a| !a.is_finite()) {
                issues.push(
                    "run.horizon",
                    format!(
                        "is required: arrival stream `{}` of variant[{i}] never ends (give it \
                     `customers = N` or set a horizon)",
                        stream.name
                    ),
                );
            }
        }
    }
}

/// Checks the `[[fault]]` entries against the variants they name.
fn check_faults(
    raw: &RawScenario,
    opens_at: SimTime,
    variants: &[Variant],
    issues: &mut Issues,
) -> Vec<crate::sale::fault::Fault> {
    let mut out = Vec::new();
    for (i, fault) in raw.faults.iter().flatten().enumerate() {
        let at = join_index("fault", i);
        let Some(checked) = fault.check(&at, opens_at, issues) else { continue };
        for name in checked.variants.iter().flatten() {
            if !variants.iter().any(|v| v.name() == name) {
                issues.push(join_key(&at, "variants"), format!("names no variant (got {name:?})"));
            }
        }
        let has = |v: &SaleVariant| v.has(checked.component);
        let hits = variants.iter().any(|v| match v {
            Variant::Sale(s) => checked.applies_to(&s.name) && has(s),
            _ => false,
        });
        if !hits {
            issues.push(
                join_key(&at, "component"),
                format!(
                    "`{}` is not a component of any flash-sale variant this fault applies to",
                    checked.component.name()
                ),
            );
        }
        out.push(checked);
    }
    out
}
