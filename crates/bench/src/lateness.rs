//! Section 8: how late a delayed retry fires after its due time. TTL deletes a delay item 8–28 minutes after
//! it expires (public measurements; drawn uniformly in that range here), the sweep runs every minute and fires
//! what is due (`dueAt <= now` on the `byDue` index), page after page, a few at once, RunTask paced at
//! `launch_rate` a second, for up to `sweep_budget_seconds`, and waits within that budget for what comes due
//! in the next `sweep_lookahead_seconds`, firing each at its due time; its clock is its invocation time plus
//! the time it has run, so a retry fired late in a long drain is recorded as that late.
//!
//! Two ways: the burst's delay items fired by the real scheduler handler against moto on a simulated clock
//! (sweeps at each whole minute, TTL deletes played at their drawn times, whichever comes first wins, as in
//! production), and a model of exactly that for a steady flow of retries over many minutes.

use crate::flood::Burst;
use crate::play::scan;
use crate::stack::sweep_event;
use crate::stats::uniform;
use reactor_core::SplitMix64;
use serde_json::Value;
use std::collections::HashMap;
use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;

/// TTL's lateness after expiry, seconds: the public measurements' range.
pub const TTL_LAG: (f64, f64) = (8.0 * 60.0, 28.0 * 60.0);

pub struct Lateness {
    /// Seconds past due of each retry of the burst, fired by the real code.
    pub burst: Vec<f64>,
    /// Of those, fired by a TTL delete rather than the sweep.
    pub burst_by_ttl: usize,
    /// Sweeps it took to fire them all.
    pub sweeps: usize,
    /// Runs without exactly one launched attempt 2.
    pub burst_wrong: usize,
    /// Seconds past due in the model of a steady flow.
    pub steady: Vec<f64>,
    /// Seconds past due in the model of retries with delays shorter than the sweep's period.
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

pub async fn run(burst: &Burst, quick: bool) -> Lateness {
    let stack = &burst.stack;
    let reactor = stack.reactor();
    let settings = reactor.settings;
    let mut draw = SplitMix64(11);
    // TTL deletes: (when, run), in time order.
    let mut ttl: Vec<(i64, String)> = scan(stack)
        .await
        .into_iter()
        .filter(|i| i["sk"] == "DELAY#0002")
        .map(|i| {
            let due = i["dueAt"].as_i64().unwrap();
            (
                due + uniform(&mut draw, TTL_LAG.0, TTL_LAG.1) as i64,
                i["runId"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    ttl.sort();
    let mut ttl = ttl.into_iter().peekable();
    let start = burst.judged_at.unix_timestamp();
    let mut sweep_at = start - start.rem_euclid(60) + 60;
    let (mut launched, mut by_ttl, mut sweeps) = (0, 0, 0);
    let at = |epoch: i64| OffsetDateTime::from_unix_timestamp(epoch).unwrap();
    while launched < burst.runs.len() && sweeps < 120 {
        if ttl.peek().is_some_and(|(when, _)| *when < sweep_at) {
            let (when, run) = ttl.next().unwrap();
            if let Some(batch) = stack.expire_if_present(&run, "DELAY#0002").await {
                let answer = scheduler::handle(&reactor, batch, at(when)).await.unwrap();
                assert_eq!(
                    answer["batchItemFailures"],
                    serde_json::json!([]),
                    "{answer}"
                );
                launched += 1;
                by_ttl += 1;
            }
            continue;
        }
        let answer = scheduler::handle(&reactor, sweep_event(), at(sweep_at))
            .await
            .unwrap();
        launched += answer["sweep"]["launched"].as_u64().unwrap_or(0) as usize;
        sweeps += 1;
        sweep_at += 60;
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
        burst_by_ttl: by_ttl,
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
