//! Metrics as CloudWatch Embedded Metric Format (EMF): one JSON line per data point on stdout, which
//! CloudWatch Logs turns into metrics in the stack's namespace (`ecs-reactor` by default: the stack's
//! `Namespace` parameter, the same as its tasks' `startedBy`). No CloudWatch API call, no client,
//! no latency on the handler's path; a lost line loses one data point, never a run.
//!
//! Every metric has the dimension sets `[job]` (per job) and `[]` (all jobs: what the stack's alarms
//! watch, since an alarm needs one metric, not one per job). `Retries` also has `[job, class]` and
//! `[class]`, class being the retry rule's id, so the dashboard draws retries by cause.

use serde_json::{json, Map, Value};
use std::io::Write;
use std::sync::{Arc, Mutex, PoisonError};
use time::OffsetDateTime;

use reactor_core::started_by::DEFAULT_NAMESPACE;
use reactor_core::Namespace;

/// Every metric name emitted, in [`Metric`]'s order; template.yml's alarms and dashboard may name these
/// only (a test checks).
pub const METRIC_NAMES: [&str; 14] = [
    "RunsStarted",
    "RunsSucceeded",
    "RunsFailed",
    "RunsCancelled",
    "RunsSkipped",
    "AttemptsLaunched",
    "Retries",
    "RetryLatenessSeconds",
    "RunsTimedOut",
    "MemoryEscalations",
    "RunsReconciled",
    "LaunchesDeferred",
    "RequestConflicts",
    "TicksMissed",
];

const BY_JOB: &[&[&str]] = &[&["job"], &[]];
const BY_JOB_AND_CLASS: &[&[&str]] = &[&["job"], &["job", "class"], &["class"], &[]];

/// One data point.
#[derive(Debug, Clone, PartialEq)]
pub enum Metric {
    RunStarted,
    RunSucceeded,
    RunFailed,
    RunCancelled,
    RunSkipped,
    AttemptLaunched,
    /// A retry decided; `class` is the retry rule's id (`spot-interruption`, `application-exit-nonzero`, `image-pull-rate-limited`…).
    Retry {
        class: String,
    },
    /// How late a delayed retry fired after its due time (TTL deletion is late by minutes; the sweep
    /// bounds it).
    RetryLateness {
        seconds: f64,
    },
    RunTimedOut,
    MemoryEscalated,
    /// A run judged by the sweep from what ECS said, because its STOPPED event never arrived: each one means
    /// an event was lost upstream (a disabled rule, a dead-lettered invocation).
    RunReconciled,
    /// A launch AWS refused for reasons of its own (throttled, a server error), deferred without using up an
    /// attempt; a storm or an outage shows here.
    LaunchDeferred,
    /// A start refused because its run id names a run started with a different job request.
    RequestConflict,
    /// A registered job's tick that started no run (its schedule disabled, deleted or failing).
    TickMissed,
}

impl Metric {
    /// The CloudWatch metric name.
    pub fn name(&self) -> &'static str {
        match self {
            Metric::RunStarted => "RunsStarted",
            Metric::RunSucceeded => "RunsSucceeded",
            Metric::RunFailed => "RunsFailed",
            Metric::RunCancelled => "RunsCancelled",
            Metric::RunSkipped => "RunsSkipped",
            Metric::AttemptLaunched => "AttemptsLaunched",
            Metric::Retry { .. } => "Retries",
            Metric::RetryLateness { .. } => "RetryLatenessSeconds",
            Metric::RunTimedOut => "RunsTimedOut",
            Metric::MemoryEscalated => "MemoryEscalations",
            Metric::RunReconciled => "RunsReconciled",
            Metric::LaunchDeferred => "LaunchesDeferred",
            Metric::RequestConflict => "RequestConflicts",
            Metric::TickMissed => "TicksMissed",
        }
    }

    /// The CloudWatch unit.
    pub fn unit(&self) -> &'static str {
        match self {
            Metric::RetryLateness { .. } => "Seconds",
            _ => "Count",
        }
    }

    /// The dimension sets the metric is published under (each set is a metric of its own in CloudWatch).
    pub fn dimension_sets(&self) -> &'static [&'static [&'static str]] {
        match self {
            Metric::Retry { .. } => BY_JOB_AND_CLASS,
            _ => BY_JOB,
        }
    }

    fn value(&self) -> Value {
        match self {
            // A non-finite number would serialize as null and CloudWatch would drop the whole line; a
            // negative lateness (a clock step) is no lateness.
            Metric::RetryLateness { seconds } if seconds.is_finite() => json!(seconds.max(0.0)),
            Metric::RetryLateness { .. } => json!(0.0),
            _ => json!(1),
        }
    }
}

/// A dimension value CloudWatch accepts: 1 to 1024 characters. An empty one (a decision recorded without
/// a rule id) would make CloudWatch reject the line and lose the data point with it.
fn dimension_value(value: &str) -> String {
    match value {
        "" => "unknown".to_owned(),
        v => v.chars().take(1024).collect(),
    }
}

/// The EMF object for one data point of `metric` for `job` at `timestamp_ms` (milliseconds since the
/// epoch) in the CloudWatch namespace `namespace`: `_aws` metadata, the dimension values and the metric value
/// as top-level members.
pub fn emf_line(namespace: &str, job: &str, metric: &Metric, timestamp_ms: i64) -> Value {
    let mut root = Map::new();
    root.insert(
        "_aws".into(),
        json!({
            "Timestamp": timestamp_ms,
            "CloudWatchMetrics": [{
                "Namespace": namespace,
                "Dimensions": metric.dimension_sets(),
                "Metrics": [{"Name": metric.name(), "Unit": metric.unit()}],
            }],
        }),
    );
    root.insert("job".into(), json!(dimension_value(job)));
    if let Metric::Retry { class } = metric {
        root.insert("class".into(), json!(dimension_value(class)));
    }
    root.insert(metric.name().into(), metric.value());
    Value::Object(root)
}

/// Where the retry loop's steps report metrics. Recording never fails and never blocks for long: a
/// metric is not worth failing (and retrying) an invocation for.
pub trait MetricSink: Send + Sync {
    fn record(&self, job: &str, metric: Metric);
}

impl<T: MetricSink + ?Sized> MetricSink for Arc<T> {
    fn record(&self, job: &str, metric: Metric) {
        (**self).record(job, metric)
    }
}

impl<T: MetricSink + ?Sized> MetricSink for &T {
    fn record(&self, job: &str, metric: Metric) {
        (**self).record(job, metric)
    }
}

/// Milliseconds since the epoch, now.
fn system_clock() -> i64 {
    i64::try_from(OffsetDateTime::now_utc().unix_timestamp_nanos() / 1_000_000).unwrap_or(i64::MAX)
}

type Clock = Box<dyn Fn() -> i64 + Send + Sync>;

/// Writes one EMF line per data point to `W`. The timestamp comes from a clock held here, the real one
/// by default: CloudWatch rejects data points more than two weeks old or two hours ahead, so a handler's
/// simulated `now` (tests play the clock forward) must not reach it.
pub struct EmfLines<W> {
    out: Mutex<W>,
    clock: Clock,
    namespace: String,
}

impl EmfLines<std::io::Stdout> {
    /// For a Lambda: Lambda sends stdout to the function's log group, where CloudWatch Logs extracts
    /// the metrics.
    pub fn stdout(namespace: &Namespace) -> Self {
        EmfLines::new(std::io::stdout()).in_namespace(namespace)
    }
}

impl<W: Write + Send> EmfLines<W> {
    pub fn new(out: W) -> Self {
        EmfLines::with_clock(out, system_clock)
    }

    /// With a clock of its own (milliseconds since the epoch), for tests.
    pub fn with_clock(out: W, clock: impl Fn() -> i64 + Send + Sync + 'static) -> Self {
        EmfLines {
            out: Mutex::new(out),
            clock: Box::new(clock),
            namespace: DEFAULT_NAMESPACE.to_owned(),
        }
    }

    /// The same, writing its data points to the CloudWatch namespace `namespace` (the stack's).
    pub fn in_namespace(mut self, namespace: &Namespace) -> Self {
        self.namespace = namespace.as_str().to_owned();
        self
    }

    pub fn into_inner(self) -> W {
        self.out
            .into_inner()
            .unwrap_or_else(PoisonError::into_inner)
    }
}

impl<W: Write + Send> MetricSink for EmfLines<W> {
    fn record(&self, job: &str, metric: Metric) {
        let mut line = emf_line(&self.namespace, job, &metric, (self.clock)()).to_string();
        line.push('\n');
        // A panic elsewhere while holding the lock leaves the writer usable; keep writing.
        let mut out = self.out.lock().unwrap_or_else(PoisonError::into_inner);
        // CloudWatch Logs reads an EMF document only if it is the whole log event, so the line goes out in
        // one write_all: `Stdout` holds its own lock for the whole call, and the tracing subscriber's lines
        // (written the same way) cannot land inside it. A failed write loses one data point, nothing else.
        let _ = out.write_all(line.as_bytes()).and_then(|()| out.flush());
    }
}

/// Drops every data point: for the CLI, whose stdout is the operator's terminal, not a log group.
#[derive(Debug, Default, Clone, Copy)]
pub struct NoMetrics;

impl MetricSink for NoMetrics {
    fn record(&self, _job: &str, _metric: Metric) {}
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeSet;

    const UNITS: [&str; 2] = ["Count", "Seconds"];

    /// One of each variant; the match makes a new variant a compile error here until it is listed.
    fn every_metric() -> Vec<Metric> {
        let all = vec![
            Metric::RunStarted,
            Metric::RunSucceeded,
            Metric::RunFailed,
            Metric::RunCancelled,
            Metric::RunSkipped,
            Metric::AttemptLaunched,
            Metric::Retry {
                class: "spot-interruption".into(),
            },
            Metric::RetryLateness { seconds: 42.5 },
            Metric::RunTimedOut,
            Metric::MemoryEscalated,
            Metric::RunReconciled,
            Metric::LaunchDeferred,
            Metric::RequestConflict,
            Metric::TickMissed,
        ];
        for m in &all {
            match m {
                Metric::RunStarted
                | Metric::RunSucceeded
                | Metric::RunFailed
                | Metric::RunCancelled
                | Metric::RunSkipped
                | Metric::AttemptLaunched
                | Metric::Retry { .. }
                | Metric::RetryLateness { .. }
                | Metric::RunTimedOut
                | Metric::MemoryEscalated
                | Metric::RunReconciled
                | Metric::LaunchDeferred
                | Metric::RequestConflict
                | Metric::TickMissed => {}
            }
        }
        all
    }

    /// The EMF specification's rules for one document, each failure naming the rule.
    fn assert_valid_emf(doc: &Value) {
        let root = doc.as_object().expect("the root is an object");
        let aws = root["_aws"].as_object().expect("_aws is an object");
        assert!(aws["Timestamp"].is_i64(), "Timestamp is an integer (ms)");
        let directives = aws["CloudWatchMetrics"]
            .as_array()
            .expect("CloudWatchMetrics is an array");
        assert!(!directives.is_empty());
        for d in directives {
            let ns = d["Namespace"].as_str().expect("Namespace is a string");
            assert!((1..=1024).contains(&ns.len()));
            let sets = d["Dimensions"].as_array().expect("Dimensions is an array");
            assert!(!sets.is_empty(), "at least one DimensionSet");
            for set in sets {
                let keys = set.as_array().expect("a DimensionSet is an array");
                assert!(keys.len() <= 30);
                for key in keys {
                    let key = key.as_str().expect("a dimension key is a string");
                    let target = root
                        .get(key)
                        .unwrap_or_else(|| panic!("dimension {key} is not a top-level member"));
                    let value = target.as_str().expect("a dimension target is a string");
                    assert!((1..=1024).contains(&value.chars().count()), "{key}");
                }
            }
            let metrics = d["Metrics"].as_array().expect("Metrics is an array");
            assert!((1..=100).contains(&metrics.len()));
            for m in metrics {
                let name = m["Name"].as_str().expect("Name is a string");
                assert!(
                    root.get(name).is_some_and(Value::is_number),
                    "metric {name} has a numeric top-level member"
                );
                assert!(UNITS.contains(&m["Unit"].as_str().unwrap_or("")), "{m}");
            }
        }
    }

    /// metric, name, unit, value, dimension sets
    type Case = (
        Metric,
        &'static str,
        &'static str,
        Value,
        Vec<Vec<&'static str>>,
    );

    #[test]
    fn each_metric_is_a_valid_emf_document() {
        let ts = 1_795_269_001_234;
        #[rustfmt::skip]
        let cases: Vec<Case> = vec![
            (Metric::RunStarted, "RunsStarted", "Count", json!(1), vec![vec!["job"], vec![]]),
            (Metric::RunSucceeded, "RunsSucceeded", "Count", json!(1), vec![vec!["job"], vec![]]),
            (Metric::RunFailed, "RunsFailed", "Count", json!(1), vec![vec!["job"], vec![]]),
            (Metric::RunCancelled, "RunsCancelled", "Count", json!(1), vec![vec!["job"], vec![]]),
            (Metric::RunSkipped, "RunsSkipped", "Count", json!(1), vec![vec!["job"], vec![]]),
            (Metric::AttemptLaunched, "AttemptsLaunched", "Count", json!(1), vec![vec!["job"], vec![]]),
            (Metric::Retry { class: "application-exit-nonzero".into() }, "Retries", "Count", json!(1),
             vec![vec!["job"], vec!["job", "class"], vec!["class"], vec![]]),
            (Metric::RetryLateness { seconds: 42.5 }, "RetryLatenessSeconds", "Seconds", json!(42.5), vec![vec!["job"], vec![]]),
            (Metric::RetryLateness { seconds: -3.0 }, "RetryLatenessSeconds", "Seconds", json!(0.0), vec![vec!["job"], vec![]]),
            (Metric::RetryLateness { seconds: f64::NAN }, "RetryLatenessSeconds", "Seconds", json!(0.0), vec![vec!["job"], vec![]]),
            (Metric::RunTimedOut, "RunsTimedOut", "Count", json!(1), vec![vec!["job"], vec![]]),
            (Metric::MemoryEscalated, "MemoryEscalations", "Count", json!(1), vec![vec!["job"], vec![]]),
            (Metric::RunReconciled, "RunsReconciled", "Count", json!(1), vec![vec!["job"], vec![]]),
            (Metric::LaunchDeferred, "LaunchesDeferred", "Count", json!(1), vec![vec!["job"], vec![]]),
            (Metric::RequestConflict, "RequestConflicts", "Count", json!(1), vec![vec!["job"], vec![]]),
            (Metric::TickMissed, "TicksMissed", "Count", json!(1), vec![vec!["job"], vec![]]),
        ];
        for (metric, name, unit, value, sets) in cases {
            let doc = emf_line(DEFAULT_NAMESPACE, "nightly-report", &metric, ts);
            assert_valid_emf(&doc);
            let directive = &doc["_aws"]["CloudWatchMetrics"][0];
            assert_eq!(doc["_aws"]["Timestamp"], json!(ts));
            assert_eq!(directive["Namespace"], "ecs-reactor");
            assert_eq!(
                directive["Metrics"],
                json!([{"Name": name, "Unit": unit}]),
                "{metric:?}"
            );
            assert_eq!(directive["Dimensions"], json!(sets), "{metric:?}");
            assert_eq!(doc[name], value, "{metric:?}");
            assert_eq!(doc["job"], "nightly-report");
            assert_eq!((metric.name(), metric.unit()), (name, unit));
        }
        let retry = emf_line(
            DEFAULT_NAMESPACE,
            "j",
            &Metric::Retry {
                class: "spot-interruption".into(),
            },
            ts,
        );
        assert_eq!(retry["class"], "spot-interruption");
    }

    #[test]
    fn metric_names_lists_every_metric_once() {
        let names: Vec<&str> = every_metric().iter().map(Metric::name).collect();
        assert_eq!(names, METRIC_NAMES);
        assert_eq!(names.iter().collect::<BTreeSet<_>>().len(), names.len());
    }

    #[test]
    fn empty_or_long_dimension_values_still_make_a_valid_document() {
        let long = "x".repeat(2000);
        for (job, class) in [("", ""), (long.as_str(), long.as_str())] {
            let doc = emf_line(
                DEFAULT_NAMESPACE,
                job,
                &Metric::Retry {
                    class: class.into(),
                },
                0,
            );
            assert_valid_emf(&doc);
        }
        assert_eq!(
            emf_line(DEFAULT_NAMESPACE, "", &Metric::RunFailed, 0)["job"],
            "unknown"
        );
    }

    #[test]
    fn emf_lines_writes_one_complete_line_per_data_point() {
        let sink = EmfLines::with_clock(Vec::new(), || 1_795_269_001_000);
        for m in every_metric() {
            sink.record("nightly-report", m);
        }
        let text = String::from_utf8(sink.into_inner()).unwrap();
        assert!(text.ends_with('\n'));
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), METRIC_NAMES.len());
        for (line, m) in lines.iter().zip(every_metric()) {
            let doc: Value = serde_json::from_str(line).unwrap();
            assert_valid_emf(&doc);
            assert_eq!(
                doc,
                emf_line(DEFAULT_NAMESPACE, "nightly-report", &m, 1_795_269_001_000)
            );
        }
    }

    #[test]
    fn lines_from_many_threads_do_not_interleave() {
        let sink = Arc::new(EmfLines::with_clock(Vec::new(), || 0));
        std::thread::scope(|s| {
            for t in 0..8 {
                let sink = Arc::clone(&sink);
                s.spawn(move || {
                    for i in 0..200 {
                        sink.record(
                            &format!("job-{t}"),
                            Metric::Retry {
                                class: format!("class-{i}"),
                            },
                        );
                    }
                });
            }
        });
        let text = String::from_utf8(Arc::into_inner(sink).unwrap().into_inner()).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 8 * 200);
        for line in lines {
            assert_valid_emf(&serde_json::from_str(line).unwrap());
        }
    }

    #[test]
    fn the_system_clock_is_milliseconds_since_the_epoch() {
        let sink = EmfLines::new(Vec::new());
        sink.record("j", Metric::RunStarted);
        let doc: Value = serde_json::from_slice(&sink.into_inner()).unwrap();
        let ts = doc["_aws"]["Timestamp"].as_i64().unwrap();
        // After 2026-01-01 and before 2100: milliseconds, not seconds or nanoseconds.
        assert!((1_767_225_600_000..4_102_444_800_000).contains(&ts), "{ts}");
    }

    fn record_into(sink: impl MetricSink, job: &str, metric: Metric) {
        sink.record(job, metric);
    }

    /// Keeps what it is given (the test support crate has the shared one; this crate cannot depend on it).
    #[derive(Default)]
    struct Kept(Mutex<Vec<(String, Metric)>>);

    impl Kept {
        fn taken(&self) -> Vec<(String, Metric)> {
            std::mem::take(&mut *self.0.lock().unwrap())
        }
    }

    impl MetricSink for Kept {
        fn record(&self, job: &str, metric: Metric) {
            self.0.lock().unwrap().push((job.to_owned(), metric));
        }
    }

    #[test]
    fn a_shared_sink_records_through_arc_and_references() {
        let recorded = Arc::new(Kept::default());
        record_into(Arc::clone(&recorded), "a", Metric::RunStarted);
        record_into(&*recorded, "b", Metric::RetryLateness { seconds: 61.0 });
        record_into(NoMetrics, "c", Metric::RunFailed);
        assert_eq!(
            recorded.taken(),
            vec![
                ("a".to_owned(), Metric::RunStarted),
                ("b".to_owned(), Metric::RetryLateness { seconds: 61.0 }),
            ]
        );
        assert_eq!(recorded.taken(), vec![], "taken drains");
    }

    #[test]
    fn lines_go_to_the_stacks_namespace() {
        let ns = Namespace::new("reactor-blue").unwrap();
        let sink = EmfLines::with_clock(Vec::new(), || 0).in_namespace(&ns);
        sink.record("nightly-report", Metric::RunFailed);
        let line: Value = serde_json::from_slice(&sink.into_inner()).unwrap();
        assert_eq!(
            line["_aws"]["CloudWatchMetrics"][0]["Namespace"],
            "reactor-blue"
        );
        let default = EmfLines::with_clock(Vec::new(), || 0);
        default.record("nightly-report", Metric::RunFailed);
        let line: Value = serde_json::from_slice(&default.into_inner()).unwrap();
        assert_eq!(
            line["_aws"]["CloudWatchMetrics"][0]["Namespace"],
            "ecs-reactor"
        );
    }
}
