//! Section 8: how late a delayed retry fires after its due time. The classifier sends a retry due within 15
//! minutes to the retry queue with its delay, and the queue delivers it to the scheduler at its due second;
//! the sweep runs every minute and fires what is due that nothing fired (`dueAt <= now` on the `byDue`
//! index), page after page, a few at once, RunTask paced at `launch_rate` a second, for up to
//! `sweep_budget_seconds`, and waits within that budget for what comes due in the next
//! `sweep_lookahead_seconds`; TTL deletes a delay item 8–28 minutes after it expires (public measurements).
//! Whichever comes first claims the retry.
//!
//! Two ways: the burst's retries fired by the real scheduler handler against moto, the queue's messages
//! received from moto and delivered at their due second while the sweep runs at each whole minute beside
//! them, all on one clock (the instant the burst was judged, plus the time run since); and models of the
//! sweep alone (the backstop) for a steady flow of retries and for short delays.

use crate::flood::Burst;
use crate::play::{scan, Instance};
use crate::stack::sweep_event;
use crate::stats::uniform;
use reactor_core::SplitMix64;
use serde_json::Value;
use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap};
use std::sync::Arc;
use std::time::{Duration, Instant};
use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;

/// TTL's lateness after expiry, seconds: the public measurements' range.
pub const TTL_LAG: (f64, f64) = (8.0 * 60.0, 28.0 * 60.0);

/// Scheduler instances the queue's event source runs at once (template.yml's `MaximumConcurrency`).
pub const QUEUE_INSTANCES: usize = 5;

pub struct Lateness {
    /// Seconds past due of each retry of the burst, fired by the real code.
    pub burst: Vec<f64>,
    /// Of those, fired by the sweep rather than the queue.
    pub burst_by_sweep: usize,
    /// The queue's messages received and delivered.
    pub delivered: usize,
    /// Sweeps run while the burst was drained.
    pub sweeps: usize,
    /// Runs without exactly one launched attempt 2.
    pub burst_wrong: usize,
    /// Seconds past due in the model of a steady flow, the sweep alone.
    pub steady: Vec<f64>,
    /// Seconds past due in the model of retries with delays shorter than the sweep's period, the sweep alone.
    pub short: Vec<f64>,
    /// Retries one sweep fires at most (RunTask rate × budget).
    pub sweep_capacity: u32,
    /// RunTask calls a second the sweep allows itself.
    pub launch_rate: u32,
    /// Seconds one sweep drains, at most.
    pub sweep_budget: u64,
    /// Seconds ahead a sweep waits for retries coming due.
    pub lookahead: u64,
}

/// A received message: (due second, id, body, receipt handle), earliest due first.
type Pending = Reverse<(i64, String, String, String)>;

pub async fn run(burst: &Burst, quick: bool) -> Lateness {
    let stack = &burst.stack;
    let settings = stack.reactor().settings;
    let instance = Instance::of(stack);
    // The clock: the burst's instant when the play starts. Every message was sent before, with its delay
    // counted from that instant, so moto shows it no later than its due second on this clock; it is held
    // until then, as the queue would hold it.
    let began = Instant::now();
    let judged = burst.judged_at;
    let now = move || judged + time::Duration::try_from(began.elapsed()).unwrap();
    let give_up = judged + time::Duration::minutes(10);
    let total = burst.runs.len();
    let mut pending: BinaryHeap<Pending> = BinaryHeap::new();
    let (mut received, mut delivered, mut sweeps) = (0, 0, 0);
    let mut deliveries = tokio::task::JoinSet::new();
    let mut sweeping = tokio::task::JoinSet::new();
    let queue_reactors: Vec<_> = (0..QUEUE_INSTANCES)
        .map(|_| Arc::new(instance.reactor()))
        .collect();
    let start = judged.unix_timestamp();
    let mut sweep_at = start - start.rem_euclid(60) + 60;
    // Lambda's pollers: a receive round (until the queue shows nothing more) once a second, not in a spin, so
    // the polls do not take moto's time from the deliveries.
    let mut polled = Instant::now() - Duration::from_secs(1);
    while (delivered < total || !deliveries.is_empty()) && now() < give_up {
        while received < total && polled.elapsed() >= Duration::from_secs(1) {
            let got = stack
                .sqs
                .receive_message()
                .queue_url(&stack.retry_queue_url)
                .max_number_of_messages(10)
                // Held here until due (SQS itself would not show it before): not shown again meanwhile.
                .visibility_timeout(900)
                .send()
                .await
                .unwrap();
            for m in got.messages() {
                let body = m.body().unwrap_or_default().to_owned();
                let due = serde_json::from_str::<Value>(&body).unwrap()["dueAt"]
                    .as_i64()
                    .unwrap();
                let (id, receipt) = (
                    m.message_id().unwrap_or_default(),
                    m.receipt_handle().unwrap_or_default(),
                );
                pending.push(Reverse((due, id.to_owned(), body, receipt.to_owned())));
                received += 1;
            }
            if got.messages().len() < 10 {
                polled = Instant::now();
            }
        }
        // The sweep of each whole minute, beside the queue's deliveries (EventBridge invokes it whatever runs).
        if now().unix_timestamp() >= sweep_at {
            let reactor = instance.reactor();
            let at = OffsetDateTime::from_unix_timestamp(sweep_at).unwrap();
            sweeping.spawn(async move {
                let answer = scheduler::handle(&reactor, sweep_event(), at)
                    .await
                    .unwrap();
                answer["sweep"]["launched"].as_u64().unwrap_or(0) as usize
            });
            sweeps += 1;
            sweep_at += 60;
        }
        // Due messages in batches of up to 10, on up to QUEUE_INSTANCES instances at once.
        while deliveries.len() < QUEUE_INSTANCES
            && pending
                .peek()
                .is_some_and(|Reverse((due, ..))| *due <= now().unix_timestamp())
        {
            let mut batch = Vec::new();
            while batch.len() < 10
                && pending
                    .peek()
                    .is_some_and(|Reverse((due, ..))| *due <= now().unix_timestamp())
            {
                batch.push(pending.pop().unwrap().0);
            }
            delivered += batch.len();
            let reactor = queue_reactors[deliveries.len() % QUEUE_INSTANCES].clone();
            let sqs = stack.sqs.clone();
            let url = stack.retry_queue_url.clone();
            let at = now();
            deliveries.spawn(async move {
                let messages: Vec<(&str, &str)> = batch
                    .iter()
                    .map(|(_, id, body, _)| (id.as_str(), body.as_str()))
                    .collect();
                let event = crate::stack::sqs_event(&messages);
                let answer = scheduler::handle(&reactor, event, at).await.unwrap();
                assert_eq!(
                    answer["batchItemFailures"],
                    serde_json::json!([]),
                    "{answer}"
                );
                // The event source deletes a batch's handled messages in one call.
                let entries = batch.iter().enumerate().map(|(i, (_, _, _, receipt))| {
                    aws_sdk_sqs::types::DeleteMessageBatchRequestEntry::builder()
                        .id(i.to_string())
                        .receipt_handle(receipt)
                        .build()
                        .unwrap()
                });
                sqs.delete_message_batch()
                    .queue_url(&url)
                    .set_entries(Some(entries.collect()))
                    .send()
                    .await
                    .unwrap();
            });
        }
        while deliveries.try_join_next().is_some() {}
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    while let Some(done) = deliveries.join_next().await {
        done.unwrap();
    }
    let mut by_sweep = 0;
    while let Some(launched) = sweeping.join_next().await {
        by_sweep += launched.unwrap();
    }

    let mut rows: HashMap<String, Vec<Value>> = HashMap::new();
    for item in scan(stack).await {
        rows.entry(item["runId"].as_str().unwrap_or("").to_owned())
            .or_default()
            .push(item);
    }
    let epoch = |v: &Value| {
        OffsetDateTime::parse(v.as_str().unwrap_or(""), &Rfc3339)
            .map(|t| t.unix_timestamp())
            .ok()
    };
    let mut late = Vec::new();
    let mut wrong = 0;
    for run in &burst.runs {
        let items = rows.get(run).cloned().unwrap_or_default();
        let item = |sk: &str| {
            items
                .iter()
                .find(|i| i["sk"] == sk)
                .cloned()
                .unwrap_or(Value::Null)
        };
        let (first, second) = (item("ATTEMPT#0001"), item("ATTEMPT#0002"));
        match (epoch(&first["nextRetryAt"]), epoch(&second["claimedAt"])) {
            (Some(due), Some(fired))
                if second["state"] == "LAUNCHED" && second["taskArn"].is_string() =>
            {
                late.push((fired - due) as f64)
            }
            _ => wrong += 1,
        }
    }
    Lateness {
        burst: late,
        burst_by_sweep: by_sweep,
        delivered,
        sweeps,
        burst_wrong: wrong,
        steady: steady(
            if quick { 10_000 } else { 1_000_000 },
            settings
                .sweep_budget_seconds
                .min(settings.sweep_lookahead_seconds) as f64,
        ),
        short: short_delays(
            if quick { 10_000 } else { 1_000_000 },
            settings
                .sweep_budget_seconds
                .min(settings.sweep_lookahead_seconds) as f64,
        ),
        sweep_capacity: settings.launch_rate * settings.sweep_budget_seconds as u32,
        launch_rate: settings.launch_rate,
        sweep_budget: settings.sweep_budget_seconds,
        lookahead: settings.sweep_lookahead_seconds,
    }
}

/// A steady flow of retries (fewer due per minute than the sweep fires): due times uniform over whole
/// seconds, sweeps at each whole minute fire every delay due at or before it and wait for those due in the
/// `waits` seconds after it (fired at their due second), a TTL delete fires one earlier only if it comes
/// before the next sweep.
fn steady(samples: usize, waits: f64) -> Vec<f64> {
    let mut draw = SplitMix64(13);
    (0..samples)
        .map(|_| {
            let due = uniform(&mut draw, 0.0, 86_400.0).floor();
            let last_sweep = (due / 60.0).floor() * 60.0;
            let fired = if due - last_sweep <= waits {
                due
            } else {
                last_sweep + 60.0
            };
            let ttl = due + uniform(&mut draw, TTL_LAG.0, TTL_LAG.1);
            fired.min(ttl) - due
        })
        .collect()
}

/// Retries whose delay is shorter than a minute (FULL jitter under a 60 s ceiling), judged at a uniformly
/// random moment: a sweep only sees a delay item written before it reads, so one judged just after a sweep
/// read waits for the next (what a one-minute sweep costs; TTL is minutes later still). The first sweep after
/// the judgement fires what is overdue at once and what comes due within `waits` at its due second; the rest
/// goes to the sweep after.
fn short_delays(samples: usize, waits: f64) -> Vec<f64> {
    let mut draw = SplitMix64(17);
    (0..samples)
        .map(|_| {
            let judged = uniform(&mut draw, 0.0, 86_400.0);
            let due = (judged + uniform(&mut draw, 0.0, 60.0)).round();
            let sweep = (judged / 60.0).ceil() * 60.0;
            let fired = if due <= sweep {
                sweep
            } else if due - sweep <= waits {
                due
            } else {
                sweep + 60.0
            };
            fired - due
        })
        .collect()
}
