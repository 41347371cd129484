//! Section 7: a burst of STOPPED events — every task of `n` runs stops at once (a registry rate-limits them
//! all), each event is delivered, a tenth of them twice, in shuffled order, to 16 concurrent classifier
//! instances (the real handler, each with its own clients) against moto. Then the rows are checked: every
//! attempt judged exactly once, every retry scheduled exactly once.

use crate::play::{concurrently, scan, start_runs, stopped, Instance};
use crate::stack::Stack;
use reactor_core::SplitMix64;
use serde_json::Value;
use std::collections::HashMap;
use std::time::Instant;
use time::OffsetDateTime;

pub const INSTANCES: usize = 16;

pub struct Burst {
    pub stack: Stack,
    pub runs: Vec<String>,
    pub events: usize,
    pub duplicates: usize,
    pub seconds: f64,
    /// Answers by outcome (APPLIED, DUPLICATE, …).
    pub outcomes: HashMap<String, usize>,
    /// Runs whose rows are not exactly "attempt 1 judged once, run waiting for attempt 2, one delay item".
    pub wrong: Vec<String>,
    /// Runs judged (APPLIED) other than once.
    pub applied_not_once: usize,
    /// When the events were judged (all at one instant): the delay items are due up to a minute after it (full
    /// jitter).
    pub judged_at: OffsetDateTime,
}

pub async fn run(n: usize) -> Burst {
    let stack = Stack::new().await;
    let mut job = stack.job("registry-burst");
    // The default jitter: runs failing together do not retry together.
    job["retry"]["jitter"] = "FULL".into();
    let launched = start_runs(&stack, &job, n).await;
    // Every event is judged at one instant, 10 s past the next whole minute, so that the delay items fall due
    // at the same phase of the one-minute sweep whenever the benchmark runs (the figure repeats).
    let real = OffsetDateTime::now_utc().unix_timestamp();
    let now = OffsetDateTime::from_unix_timestamp(real - real.rem_euclid(60) + 70).unwrap();
    let mut events: Vec<Value> = launched
        .iter()
        .map(|(run, task)| stopped("stopped-pull-rate-limit.json", task, run, 1, now))
        .collect();
    let duplicates: Vec<Value> = events.iter().step_by(10).cloned().collect();
    events.extend(duplicates.iter().cloned());
    let mut draw = SplitMix64(7);
    for i in (1..events.len()).rev() {
        let j = (crate::stats::uniform(&mut draw, 0.0, (i + 1) as f64) as usize).min(i);
        events.swap(i, j);
    }
    let total = events.len();

    let instance = Instance::of(&stack);
    let started = Instant::now();
    let answers = concurrently(
        INSTANCES,
        move || instance.reactor(),
        events,
        move |reactor, event| async move {
            let answer = classifier::handle(&reactor, event, now).await.unwrap();
            (answer.outcome, answer.run_id.unwrap_or_default())
        },
    )
    .await;
    let seconds = started.elapsed().as_secs_f64();

    let mut outcomes = HashMap::new();
    let mut applied: HashMap<String, usize> = HashMap::new();
    for (outcome, run) in &answers {
        *outcomes.entry(outcome.to_string()).or_default() += 1;
        if *outcome == "APPLIED" {
            *applied.entry(run.clone()).or_default() += 1;
        }
    }
    let runs: Vec<String> = launched.iter().map(|(r, _)| r.clone()).collect();
    let applied_not_once = runs.iter().filter(|r| applied.get(*r) != Some(&1)).count();

    let mut rows: HashMap<String, Vec<Value>> = HashMap::new();
    for item in scan(&stack).await {
        let pk = item["pk"]
            .as_str()
            .unwrap_or("")
            .trim_start_matches("RUN#")
            .to_owned();
        rows.entry(pk).or_default().push(item);
    }
    let wrong = runs
        .iter()
        .filter(|run| {
            let items = rows.get(*run).cloned().unwrap_or_default();
            let sk = |k: &str| {
                items
                    .iter()
                    .filter(|i| i["sk"] == k)
                    .cloned()
                    .collect::<Vec<_>>()
            };
            let (run_items, first, delay, second) = (
                sk("RUN"),
                sk("ATTEMPT#0001"),
                sk("DELAY#0002"),
                sk("ATTEMPT#0002"),
            );
            !(run_items.len() == 1
                && run_items[0]["status"] == "RETRY_SCHEDULED"
                && first.len() == 1
                && first[0]["state"] == "DECIDED"
                && first[0]["action"] == "RETRY_LATER"
                && delay.len() == 1
                && second.is_empty())
        })
        .cloned()
        .collect();
    Burst {
        stack,
        runs,
        events: total,
        duplicates: duplicates.len(),
        seconds,
        outcomes,
        wrong,
        applied_not_once,
        judged_at: now,
    }
}
