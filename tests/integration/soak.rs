//! The soak: many runs with random endings and random duplicate, late, out-of-order and lost deliveries, through
//! the real handlers against moto, the clock played forward minute by minute (the retry queue delivering most
//! retries once due, TTL late by up to ten
//! minutes, the sweep every minute); then the invariants, checked against the table, ECS and the subscriber
//! queue. `REACTOR_SOAK_RUNS` sets the size (`make test`: 100, `make soak`: 1,000), `REACTOR_SOAK_SEED` the
//! seed (printed, so a failure can be replayed).

use crate::faults::{after, runs_without_a_next_step};
use crate::handlers::T0;
use crate::moto::soak_moto;
use crate::reliability::{deliver, Delivery};
use crate::stack::{sqs_event, sweep_event, Stack};
use serde_json::{json, Value};
use std::collections::{BTreeMap, HashMap};

/// A small deterministic random source (SplitMix64), so a seed replays a soak.
struct Dice(u64);

impl Dice {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
    fn chance(&mut self, percent: u64) -> bool {
        self.next() % 100 < percent
    }
}

/// How a task ends, by share: success, application failure, transient, permanent, Spot.
const ENDINGS: [(&str, u64); 6] = [
    ("stopped-success.json", 50),
    ("stopped-app-exit-1.json", 20),
    ("stopped-pull-rate-limit.json", 8),
    ("stopped-eni-timeout.json", 7),
    ("stopped-image-not-found.json", 5),
    ("stopped-spot-interruption.json", 10),
];

const MAX_ATTEMPTS: u64 = 4;

/// Share of STOPPED events lost on the way (never delivered): the sweep must find those tasks itself.
const LOST_PERCENT: u64 = 5;

#[derive(Default)]
struct Tally {
    deliveries: usize,
    duplicates: usize,
    failed: usize,
    out_of_order: usize,
    lost: usize,
    ttl_fired: usize,
    queue_delivered: usize,
    sweeps: usize,
    endings: BTreeMap<&'static str, usize>,
}

/// Runs per stack (a fresh table, cluster and topic): moto copies a whole table for every item of every
/// transaction, so one table of 1,000 runs would make the soak quadratic and exhaust memory.
const BATCH: usize = 100;

#[tokio::test]
async fn soak() {
    let runs: usize = std::env::var("REACTOR_SOAK_RUNS")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(100);
    let seed: u64 = std::env::var("REACTOR_SOAK_SEED")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(20261121);
    let started = std::time::Instant::now();
    let mut dice = Dice(seed);
    let mut figures = Figures::default();
    let mut done = 0;
    while done < runs {
        let batch = BATCH.min(runs - done);
        soak_batch(batch, &mut dice, &mut figures).await;
        done += batch;
    }
    let f = &figures;
    println!(
        "soak: {runs} runs (seed {seed}, {BATCH} per table) {:?}; {} attempts ({} Spot relaunches), {} tasks; {} \
         deliveries ({} duplicates, {} older twins, {} events lost, {} failed and retried, {} TTL deletes, {} retry queue deliveries, {} sweeps) over {} \
         simulated minutes; endings {:?}; {} notifications, one per run; invariants held; {:.1} s",
        f.by_status, f.attempts, f.disruptions, f.tasks, f.tally.deliveries, f.tally.duplicates,
        f.tally.out_of_order, f.tally.lost, f.tally.failed, f.tally.ttl_fired, f.tally.queue_delivered, f.tally.sweeps, f.minutes, f.tally.endings,
        f.notifications, started.elapsed().as_secs_f64()
    );
}

#[derive(Default)]
struct Figures {
    tally: Tally,
    by_status: BTreeMap<String, usize>,
    attempts: u64,
    disruptions: u64,
    tasks: usize,
    minutes: usize,
    notifications: usize,
}

/// `runs` runs on a fresh stack, played to the end; then the invariants.
async fn soak_batch(runs: usize, dice: &mut Dice, figures: &mut Figures) {
    let stack = Stack::on(soak_moto()).await;
    let reactor = stack.reactor();
    let tally = &mut figures.tally;
    let mut now = T0;

    let mut pending: Vec<Delivery> = (0..runs)
        .map(|i| Delivery::Starter(stack.tick(&format!("soak-{i:04}"), "2026-11-21T02:30:00Z")))
        .collect();
    let mut stopped: HashMap<String, ()> = HashMap::new();
    // Failed deliveries: Lambda retries them later (a minute or more), by which time leases may have run out.
    let mut retried_later: Vec<Delivery> = Vec::new();
    let mut minutes = 0;
    loop {
        // Deliver everything pending in random order; a delivery comes again with 15 % chance (up to twice).
        let mut copies: Vec<(Delivery, u8)> = pending.drain(..).map(|d| (d, 0)).collect();
        while !copies.is_empty() {
            let (delivery, again) = copies.swap_remove(dice.below(copies.len()));
            tally.deliveries += 1;
            if deliver(&reactor, &delivery, now).await.is_err() {
                tally.failed += 1;
                retried_later.push(delivery);
            } else if again < 2 && dice.chance(15) {
                tally.duplicates += 1;
                copies.push((delivery, again + 1));
            }
        }
        // Play ECS: every running task of ours ends, some way; its event may come twice or with an older twin.
        for (arn, started_by) in running_tasks(&stack).await {
            if stopped.insert(arn.clone(), ()).is_some() {
                continue;
            }
            let mut roll = dice.below(100) as u64;
            let sample = ENDINGS
                .iter()
                .find(|(_, share)| {
                    let hit = roll < *share;
                    roll = roll.saturating_sub(*share);
                    hit
                })
                .map_or(ENDINGS[0].0, |(s, _)| *s);
            *tally.endings.entry(sample).or_default() += 1;
            let event = stack.stop(&arn, &started_by, sample, 3).await;
            if dice.chance(LOST_PERCENT) {
                // Lost upstream: only the sweep's reconciliation can find this task stopped.
                tally.lost += 1;
                continue;
            }
            if dice.chance(10) {
                let mut older = event.clone();
                older["detail"]["version"] = json!(2);
                tally.out_of_order += 1;
                pending.push(Delivery::Classifier(older));
            }
            pending.push(Delivery::Classifier(event));
        }
        if !pending.is_empty() {
            continue;
        }
        // Nothing in flight: a minute passes. TTL deletes some overdue delays (late by 0–3 minutes); the sweep
        // (every minute in AWS) runs in half the minutes here, so that both fire retries and race.
        let items = stack.scan().await;
        let unfinished = items
            .iter()
            .filter(|i| i["sk"] == "RUN" && !i["notifiedAt"].is_string())
            .count();
        if unfinished == 0 && retried_later.is_empty() {
            break;
        }
        minutes += 1;
        assert!(
            minutes < 240,
            "not settled after {minutes} simulated minutes: {unfinished} runs unfinished"
        );
        now = after(now, 60);
        pending.append(&mut retried_later);
        for delay in items
            .iter()
            .filter(|i| i["sk"].as_str().is_some_and(|s| s.starts_with("DELAY#")))
        {
            let due = delay["dueAt"].as_i64().unwrap();
            let run_id = delay["runId"].as_str().unwrap();
            // The retry queue delivers most retries once due (again, with the others, as SQS may); a message can
            // also be lost, and then TTL or the sweep fires the retry.
            if due <= now.unix_timestamp() && dice.chance(60) {
                let body =
                    json!({"runId": run_id, "attempt": delay["attempt"], "dueAt": due}).to_string();
                let id = format!("q-{run_id}-{}", delay["attempt"]);
                tally.queue_delivered += 1;
                pending.push(Delivery::Scheduler(sqs_event(&[(&id, &body)])));
            }
            if due + dice.below(180) as i64 <= now.unix_timestamp() {
                let batch = stack.expire(run_id, delay["sk"].as_str().unwrap()).await;
                tally.ttl_fired += 1;
                pending.push(Delivery::Scheduler(batch));
            }
        }
        if dice.chance(50) {
            tally.sweeps += 1;
            pending.push(Delivery::Scheduler(sweep_event()));
        }
    }

    // The invariants.
    let items = stack.scan().await;
    let run_items: Vec<&Value> = items.iter().filter(|i| i["sk"] == "RUN").collect();
    assert_eq!(run_items.len(), runs, "every tick made one run");
    assert_eq!(runs_without_a_next_step(&stack).await, Vec::<String>::new());
    let tasks = tasks_by_started_by(&stack).await;
    let attempts: HashMap<String, &Value> = items
        .iter()
        .filter(|i| i["sk"].as_str().is_some_and(|s| s.starts_with("ATTEMPT#")))
        .map(|i| (i["startedBy"].as_str().unwrap().to_owned(), i))
        .collect();
    let by_status = &mut figures.by_status;
    let (mut attempt_count, mut disruptions) = (0, 0);
    for run in &run_items {
        let run_id = run["runId"].as_str().unwrap();
        *by_status
            .entry(run["status"].as_str().unwrap().to_owned())
            .or_default() += 1;
        let n = run["attempt"].as_u64().unwrap();
        let d = run["disruptions"].as_u64().unwrap_or(0);
        attempt_count += n;
        disruptions += d;
        assert!(
            n <= MAX_ATTEMPTS + d,
            "{run_id}: {n} attempts, {d} disruptions"
        );
        assert!(
            run["notifiedAt"].is_string(),
            "{run_id} finished without its notification"
        );
        for a in 1..=n {
            let by = format!("ecs-reactor/{run_id}/{a}");
            let attempt = attempts
                .get(&by)
                .unwrap_or_else(|| panic!("{by}: no attempt item"));
            let in_ecs = tasks.get(&by).cloned().unwrap_or_default();
            match attempt["taskArn"].as_str() {
                Some(arn) => assert_eq!(
                    in_ecs,
                    vec![arn.to_owned()],
                    "{by}: one task, the recorded one"
                ),
                None => assert!(
                    in_ecs.is_empty(),
                    "{by}: ECS has a task the table does not: {in_ecs:?}"
                ),
            }
        }
    }
    // Every task in ECS belongs to an attempt that records it.
    for (by, arns) in &tasks {
        let recorded = attempts.get(by).and_then(|a| a["taskArn"].as_str());
        assert_eq!(Some(arns[0].as_str()), recorded, "{by}: {arns:?}");
    }
    let mut notes: HashMap<String, usize> = HashMap::new();
    for note in stack.notifications().await {
        *notes
            .entry(note["runId"].as_str().unwrap().to_owned())
            .or_default() += 1;
    }
    assert_eq!(notes.len(), runs, "every run notified");
    assert!(
        notes.values().all(|n| *n == 1),
        "exactly one notification per run: {notes:?}"
    );

    figures.attempts += attempt_count;
    figures.disruptions += disruptions;
    figures.tasks += tasks.values().map(Vec::len).sum::<usize>();
    figures.minutes += minutes;
    figures.notifications += notes.values().sum::<usize>();
}

/// The cluster's running tasks with their `startedBy`.
async fn running_tasks(stack: &Stack) -> Vec<(String, String)> {
    described(stack, aws_sdk_ecs::types::DesiredStatus::Running).await
}

/// Every task of the cluster (running or stopped) by `startedBy`.
async fn tasks_by_started_by(stack: &Stack) -> HashMap<String, Vec<String>> {
    let mut by: HashMap<String, Vec<String>> = HashMap::new();
    for status in [
        aws_sdk_ecs::types::DesiredStatus::Running,
        aws_sdk_ecs::types::DesiredStatus::Stopped,
    ] {
        for (arn, started_by) in described(stack, status).await {
            by.entry(started_by).or_default().push(arn);
        }
    }
    by
}

async fn described(
    stack: &Stack,
    status: aws_sdk_ecs::types::DesiredStatus,
) -> Vec<(String, String)> {
    let mut arns = Vec::new();
    let mut pages = stack
        .ecs
        .list_tasks()
        .cluster(&stack.cluster)
        .desired_status(status)
        .into_paginator()
        .send();
    while let Some(page) = pages.next().await {
        arns.extend(page.unwrap().task_arns().iter().cloned());
    }
    let mut out = Vec::new();
    for chunk in arns.chunks(100) {
        let described = stack
            .ecs
            .describe_tasks()
            .cluster(&stack.cluster)
            .set_tasks(Some(chunk.to_vec()))
            .send()
            .await
            .unwrap();
        for task in described.tasks() {
            out.push((
                task.task_arn().unwrap().to_owned(),
                task.started_by().unwrap_or_default().to_owned(),
            ));
        }
    }
    out
}
