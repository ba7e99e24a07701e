//! The planner's progress line on stderr, drawn only when stderr is a terminal: candidates
//! simulated so far, the best feasible objective of each variant, and the time elapsed.
//! Nothing here feeds back into the search: it only watches the batches go by.

use std::sync::Mutex;
use std::time::Duration;

/// What the line shows of one variant.
#[derive(Clone, Default)]
struct Best {
    /// The cheapest feasible objective seen, and its configuration.
    feasible: Option<(f64, Vec<i64>)>,
    /// The phase the variant is in (searching, headroom, done).
    phase: &'static str,
}

impl Best {
    /// Keeps the cheapest feasible candidate of `batch` if it beats the best so far (the first
    /// of equals). Without an objective (infinite: the metric is missing) the latest feasible
    /// one is kept, as the descent moves down.
    fn record(&mut self, batch: &[(Vec<i64>, Option<f64>)]) {
        for (config, objective) in batch {
            let Some(objective) = objective else { continue };
            let better = |b: &f64| objective < b || (b.is_infinite() && objective.is_infinite());
            if self.feasible.as_ref().is_none_or(|(b, _)| better(b)) {
                self.feasible = Some((*objective, config.clone()));
            }
        }
    }
}

/// The progress line (a no-op when stderr is not a terminal).
pub struct Progress {
    bar: Option<indicatif::ProgressBar>,
    /// Variants in planning order, and what is known of each.
    variants: Mutex<Vec<(String, Best)>>,
}

impl Progress {
    /// A line for `variants`, drawn if `on_terminal`.
    pub fn new(on_terminal: bool, variants: &[String]) -> Progress {
        let bar = on_terminal.then(|| {
            let bar = indicatif::ProgressBar::new_spinner();
            bar.set_style(
                indicatif::ProgressStyle::with_template(
                    "{spinner} {elapsed} elapsed, candidates simulated: {pos}  {msg}",
                )
                .expect("valid template"),
            );
            // Ticks on its own so the elapsed time moves while a long batch runs.
            bar.enable_steady_tick(Duration::from_millis(200));
            bar
        });
        let variants =
            variants.iter().map(|v| (v.clone(), Best { phase: "searching", ..Best::default() }));
        Progress { bar, variants: Mutex::new(variants.collect()) }
    }

    /// Records a batch of `variant`'s candidates: their configurations, and the objective of
    /// each when it is feasible.
    pub fn simulated(&self, variant: &str, batch: &[(Vec<i64>, Option<f64>)]) {
        let Some(bar) = &self.bar else { return };
        let mut variants = self.variants.lock().expect("progress lock");
        if let Some((_, best)) = variants.iter_mut().find(|(name, _)| name == variant) {
            best.record(batch);
        }
        bar.inc(batch.len() as u64);
        bar.set_message(line(&variants));
    }

    /// Marks `variant` as being in `phase` (e.g. "headroom", "done").
    pub fn phase(&self, variant: &str, phase: &'static str) {
        let Some(bar) = &self.bar else { return };
        let mut variants = self.variants.lock().expect("progress lock");
        if let Some((_, best)) = variants.iter_mut().find(|(name, _)| name == variant) {
            best.phase = phase;
        }
        bar.set_message(line(&variants));
    }

    /// Counts `count` headroom probes.
    pub fn probed(&self, count: usize) {
        if let Some(bar) = &self.bar {
            bar.inc(count as u64);
        }
    }

    /// Clears the line (the plan table follows).
    pub fn finish(&self) {
        if let Some(bar) = &self.bar {
            bar.finish_and_clear();
        }
    }
}

/// The message: each variant's best feasible objective and configuration so far, and phase.
fn line(variants: &[(String, Best)]) -> String {
    let parts: Vec<String> = variants
        .iter()
        .map(|(name, best)| match &best.feasible {
            Some((objective, config)) if objective.is_finite() => {
                format!("{name}: best feasible {objective:.4} at {config:?} ({})", best.phase)
            }
            Some((_, config)) => format!("{name}: feasible at {config:?} ({})", best.phase),
            None => format!("{name}: none feasible yet ({})", best.phase),
        })
        .collect();
    parts.join("; ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_line_names_each_variants_cheapest_feasible_candidate() {
        let mut best = Best { phase: "searching", ..Best::default() };
        best.record(&[(vec![3, 3], None)]);
        assert_eq!(line(&[("a".into(), best.clone())]), "a: none feasible yet (searching)");
        best.record(&[(vec![4, 4], Some(3.0)), (vec![1, 2], Some(2.5)), (vec![2, 1], Some(2.5))]);
        best.record(&[(vec![5, 5], Some(2.7))]);
        best.phase = "headroom";
        assert_eq!(line(&[("a".into(), best)]), "a: best feasible 2.5000 at [1, 2] (headroom)");
        let mut unpriced = Best { phase: "searching", ..Best::default() };
        unpriced.record(&[(vec![9], Some(f64::INFINITY)), (vec![5], Some(f64::INFINITY))]);
        assert_eq!(line(&[("b".into(), unpriced)]), "b: feasible at [5] (searching)");
    }
}
