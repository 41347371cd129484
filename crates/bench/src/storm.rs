//! Section 9: a cron storm. `n` jobs tick at the same minute; ECS throttles RunTask at its documented rate
//! (a token bucket of 20 calls, refilled at 20 a second: "AWS Fargate throttling quotas"), played by a
//! connector under every SDK client that answers `ThrottlingException` when the bucket is empty, as ECS does.
//! The ticks go to 50 concurrent starter instances (the real handler, each with its own clients built as a
//! Lambda builds them, the SDK's own retries included); what they could not launch is left to the sweep,
//! which runs at each whole minute of a simulated clock. The clock is the tick's minute plus the time that
//! has run, except that waiting for the next minute's sweep is skipped (nothing happens meanwhile).
//!
//! Then the rows and ECS are checked: every run started exactly once (one task each, no attempt 2), none
//! FAILED or lost, no attempt used up by a throttled launch; the drain time is the last launch's time minus
//! the tick, next to the floor (n / 20 a second).

use crate::play::{concurrently, rfc3339, scan};
use crate::stack::{sweep_event, LocalReactor, Stack};
use reactor_testkit::faults::{json_error, lambda_reactor, Fault, Faults};
use serde_json::Value;
use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;

/// Concurrent starter instances (Lambda would run more; moto, one Python process, would not go faster).
pub const INSTANCES: usize = 50;
/// ECS's RunTask rate for Fargate: calls a second, burst and sustained.
pub const RUN_TASK_RATE: f64 = 20.0;

pub struct Storm {
    pub ticks: usize,
    /// Starter answers by outcome (STARTED, DEFERRED, …).
    pub outcomes: HashMap<String, usize>,
    /// RunTask calls that reached ECS, and those answered ThrottlingException.
    pub run_task_passed: usize,
    pub run_task_throttled: usize,
    /// Wall-clock seconds the starters took (moto's pace, not Lambda's).
    pub starters_seconds: f64,
    /// Sweeps until every run was launched, and the runs each launched.
    pub sweeps: Vec<u64>,
    /// Seconds from the tick to the last run's launch, on the simulated clock.
    pub drain_seconds: f64,
    /// Runs not started exactly once (no task, two tasks, an attempt 2, a finished run).
    pub wrong: Vec<String>,
    /// Runs FAILED, and attempts used up by throttling (an attempt 2 anywhere).
    pub failed: usize,
    /// The most times one run's launch was deferred.
    pub most_deferrals: u64,
}

/// A token bucket over wall-clock time: `RUN_TASK_RATE` tokens, refilled at that rate.
struct Bucket {
    tokens: f64,
    at: Instant,
}

impl Bucket {
    fn take(&mut self) -> bool {
        let now = Instant::now();
        self.tokens = (self.tokens + now.duration_since(self.at).as_secs_f64() * RUN_TASK_RATE)
            .min(RUN_TASK_RATE);
        self.at = now;
        if self.tokens >= 1.0 {
            self.tokens -= 1.0;
            true
        } else {
            false
        }
    }
}

/// The tick's minute plus the time run, with idle waits skipped.
struct SimClock {
    tick: OffsetDateTime,
    began: Instant,
    skipped: Mutex<Duration>,
}

impl SimClock {
    fn now(&self) -> OffsetDateTime {
        self.tick + self.began.elapsed() + *self.skipped.lock().unwrap()
    }

    fn skip_to(&self, t: OffsetDateTime) {
        let ahead = t - self.now();
        if ahead.is_positive() {
            *self.skipped.lock().unwrap() += Duration::try_from(ahead).unwrap();
        }
    }
}

pub async fn run(n: usize) -> Storm {
    let stack = Arc::new(Stack::new().await);
    let (passed, throttled) = (Arc::new(AtomicUsize::new(0)), Arc::new(AtomicUsize::new(0)));
    let bucket = Mutex::new(Bucket {
        tokens: RUN_TASK_RATE,
        at: Instant::now(),
    });
    let faults = {
        let (passed, throttled) = (passed.clone(), throttled.clone());
        Faults::new(move |call| {
            if call.operation != "ecs:RunTask" {
                Fault::Pass
            } else if bucket.lock().unwrap().take() {
                passed.fetch_add(1, Ordering::Relaxed);
                Fault::Pass
            } else {
                throttled.fetch_add(1, Ordering::Relaxed);
                json_error(400, "ThrottlingException")
            }
        })
    };
    let now = OffsetDateTime::now_utc();
    let tick_at = now
        .replace_second(0)
        .unwrap()
        .replace_nanosecond(0)
        .unwrap()
        + time::Duration::minutes(1);
    let clock = Arc::new(SimClock {
        tick: tick_at,
        began: Instant::now(),
        skipped: Mutex::new(Duration::ZERO),
    });
    let ticks: Vec<Value> = (0..n)
        .map(|i| stack.tick(&format!("storm-{i:04}"), &rfc3339(tick_at)))
        .collect();

    let began = Instant::now();
    let (instance_stack, instance_faults) = (stack.clone(), faults.clone());
    let starter_clock = clock.clone();
    let answers = concurrently(
        INSTANCES,
        move || lambda_reactor(&instance_stack, Some(instance_faults.clone()), None),
        ticks,
        move |reactor: Arc<LocalReactor>, tick| {
            let clock = starter_clock.clone();
            async move {
                let answer = starter::handle(&reactor, tick, "storm", clock.now())
                    .await
                    .unwrap();
                let answer = serde_json::to_value(answer).unwrap();
                (
                    answer["outcome"].as_str().unwrap_or("?").to_owned(),
                    answer["runId"].as_str().unwrap_or("").to_owned(),
                )
            }
        },
    )
    .await;
    let starters_seconds = began.elapsed().as_secs_f64();
    let mut outcomes: HashMap<String, usize> = HashMap::new();
    for (outcome, _) in &answers {
        *outcomes.entry(outcome.clone()).or_default() += 1;
    }
    let runs: Vec<String> = answers.into_iter().map(|(_, run)| run).collect();

    // The one-minute sweep until every run is launched (or it plainly cannot be).
    let sweeper = lambda_reactor(&stack, Some(faults), None);
    let mut sweeps = Vec::new();
    let mut launched = outcomes.get("STARTED").copied().unwrap_or(0);
    while launched < n && sweeps.len() < 30 {
        let at = clock.now();
        let next_minute = at.replace_second(0).unwrap().replace_nanosecond(0).unwrap()
            + time::Duration::minutes(1);
        clock.skip_to(next_minute);
        let answer = scheduler::handle(&sweeper, sweep_event(), clock.now())
            .await
            .unwrap();
        let swept = &answer["sweep"];
        let count =
            swept["launched"].as_u64().unwrap_or(0) + swept["resumed"].as_u64().unwrap_or(0);
        sweeps.push(count);
        launched += count as usize;
    }

    let mut rows: HashMap<String, Vec<Value>> = HashMap::new();
    for item in scan(&stack).await {
        rows.entry(item["runId"].as_str().unwrap_or("").to_owned())
            .or_default()
            .push(item);
    }
    let tasks: HashSet<String> = stack.all_tasks().await.into_iter().collect();
    let epoch = |v: &Value| OffsetDateTime::parse(v.as_str().unwrap_or(""), &Rfc3339).ok();
    let (mut wrong, mut failed, mut last, mut most_deferrals) = (Vec::new(), 0, tick_at, 0);
    let mut seen_tasks = HashSet::new();
    for run in &runs {
        let items = rows.get(run).cloned().unwrap_or_default();
        let item = |sk: &str| {
            items
                .iter()
                .find(|i| i["sk"] == sk)
                .cloned()
                .unwrap_or(Value::Null)
        };
        let (record, first, second) = (item("RUN"), item("ATTEMPT#0001"), item("ATTEMPT#0002"));
        if record["status"] == "FAILED" || !second.is_null() {
            failed += 1;
        }
        most_deferrals = most_deferrals.max(first["deferrals"].as_u64().unwrap_or(0));
        let task = first["taskArn"].as_str().unwrap_or("");
        let ok = record["status"] == "RUNNING"
            && first["state"] == "LAUNCHED"
            && second.is_null()
            && tasks.contains(task)
            && seen_tasks.insert(task.to_owned());
        match epoch(&first["launchedAt"]) {
            Some(at) if ok => last = last.max(at),
            _ => wrong.push(run.clone()),
        }
    }
    if tasks.len() != n {
        wrong.push(format!("ECS has {} tasks for {n} runs", tasks.len()));
    }
    Storm {
        ticks: n,
        outcomes,
        run_task_passed: passed.load(Ordering::Relaxed),
        run_task_throttled: throttled.load(Ordering::Relaxed),
        starters_seconds,
        sweeps,
        drain_seconds: (last - tick_at).as_seconds_f64(),
        wrong,
        failed,
        most_deferrals,
    }
}
