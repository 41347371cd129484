//! Order statistics of samples.

/// The `p`-th percentile (0–100) by nearest rank; 0 for no samples.
pub fn percentile(samples: &[f64], p: f64) -> f64 {
    if samples.is_empty() {
        return 0.0;
    }
    let mut sorted = samples.to_vec();
    sorted.sort_by(f64::total_cmp);
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

pub fn median(samples: &[f64]) -> f64 {
    percentile(samples, 50.0)
}

pub fn max(samples: &[f64]) -> f64 {
    samples.iter().copied().fold(0.0, f64::max)
}

/// Uniform in [lo, hi) from the core's deterministic generator, so every run of the benchmark draws the same.
pub fn uniform(draw: &mut reactor_core::SplitMix64, lo: f64, hi: f64) -> f64 {
    use reactor_core::policy::JitterSource;
    lo + (hi - lo) * draw.fraction()
}
