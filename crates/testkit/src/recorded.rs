//! A metric sink that keeps every data point, so a test can assert what the handlers counted.

use reactor_aws::metrics::{Metric, MetricSink};
use std::sync::{Mutex, PoisonError};

/// Keeps every data point.
#[derive(Debug, Default)]
pub struct RecordedMetrics {
    recorded: Mutex<Vec<(String, Metric)>>,
}

impl RecordedMetrics {
    pub fn new() -> Self {
        RecordedMetrics::default()
    }

    /// The data points recorded since the last call, in order.
    pub fn taken(&self) -> Vec<(String, Metric)> {
        std::mem::take(&mut *self.recorded.lock().unwrap_or_else(PoisonError::into_inner))
    }
}

impl MetricSink for RecordedMetrics {
    fn record(&self, job: &str, metric: Metric) {
        self.recorded
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push((job.to_owned(), metric));
    }
}
