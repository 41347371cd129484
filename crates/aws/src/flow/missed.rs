//! Ticks that never came. A schedule disabled by hand in the console, deleted, or failing to deliver starts
//! no run and says nothing; each sweep reads the registry (one Query) and, for each job whose schedule should
//! have fired in the last [`WINDOW_SECONDS`] before its grace (`MISSED_AFTER_SECONDS` plus its flexible
//! window) ended, asks whether that tick's run exists (one GetItem). A tick with no run — not even SKIPPED — is
//! recorded once (`MISSED#<job>` / `<tick>`), logged as an error and counted (`TicksMissed`, with an alarm).
//!
//! The window is counted from the minute the sweep was invoked in (not from when it got here), so consecutive
//! sweeps tile the clock; it is two minutes long, so a tick is looked at by two sweeps and one sweep that did
//! not run loses nothing. Exactly once: the record is a conditional put, so the second look (or a duplicated
//! invocation) counts nothing. `jobs list` asks the same question whenever it is run.
//!
//! A tick Scheduler delivers more than the grace late (its retries last up to an hour) is counted too: its
//! delivery had failed for ten minutes by then (the starter erroring or throttled, which alarm as well); it
//! still runs when it arrives.

use super::*;
use crate::records::MissedTickItem;
use reactor_core::jobfile;
use reactor_core::timetable::MISSED_AFTER_SECONDS;

/// How far back from the end of their grace a sweep looks for ticks: two minutes, so that each tick is looked at
/// by two consecutive sweeps.
pub const WINDOW_SECONDS: i64 = 120;

/// What one sweep found.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct MissedTicks {
    /// Ticks whose run was looked for.
    pub checked: usize,
    /// Of those, ticks with no run, recorded now.
    pub missed: usize,
    /// Jobs whose check failed (the registry item unreadable, a read or write refused).
    pub failed: usize,
}

impl<S: Store, L: Launcher, N: Notifier> Reactor<S, L, N> {
    /// Checks the ticks whose grace ended in the [`WINDOW_SECONDS`] before the minute of `invoked` (the time the
    /// sweep was invoked at); `now` is when it records what it finds.
    pub async fn notice_missed_ticks(
        &self,
        invoked: OffsetDateTime,
        now: OffsetDateTime,
    ) -> Result<MissedTicks, FlowError> {
        let mut found = MissedTicks::default();
        let minute = invoked.unix_timestamp() - invoked.unix_timestamp().rem_euclid(60);
        for job in self.store.registered_jobs().await? {
            for (tick, run_id) in ticks_to_check(&job, minute) {
                found.checked += 1;
                match self.check_tick(&job.job, tick, &run_id, now).await {
                    Ok(true) => found.missed += 1,
                    Ok(false) => {}
                    Err(e) => {
                        found.failed += 1;
                        tracing::error!(job = job.job.as_str(), run = run_id.as_str(), error = %e, "checking a tick for its run failed; jobs list still shows it if it is MISSED");
                    }
                }
            }
        }
        Ok(found)
    }

    /// Whether the tick is newly recorded MISSED.
    async fn check_tick(
        &self,
        job: &str,
        tick: OffsetDateTime,
        run_id: &str,
        now: OffsetDateTime,
    ) -> Result<bool, FlowError> {
        if self.store.run(run_id).await?.is_some() {
            return Ok(false);
        }
        let missed = MissedTickItem::new(job, tick, run_id, now);
        if self.store.record_missed_tick(&missed).await? == Changed::Refused {
            return Ok(false);
        }
        self.metrics.record(job, Metric::TickMissed);
        tracing::error!(
            job,
            run = run_id,
            tick = %stamp(tick),
            action = "MISSED",
            "the schedule should have started this run and did not: is the schedule enabled, does it exist (ecs-reactor jobs apply writes it again), is its dead-letter queue empty (ecs-reactor dlq)?"
        );
        Ok(true)
    }
}

/// The ticks of `job` whose grace ended in the [`WINDOW_SECONDS`] up to `minute` (epoch seconds), with the run
/// ids they name; none for a job that is suspended, disabled, unscheduled or unreadable (a tick of an
/// unreadable spec is refused loudly by the starter), nor before its last apply or resume.
fn ticks_to_check(job: &JobItem, minute: i64) -> Vec<(OffsetDateTime, String)> {
    let schedule = serde_json::from_str::<serde_json::Value>(&job.spec)
        .ok()
        .and_then(|spec| jobfile::read(spec, None).ok())
        .and_then(|file| file.schedule);
    let Some(schedule) = schedule else {
        return Vec::new();
    };
    let Ok(timetable) = schedule.timetable() else {
        return Vec::new();
    };
    if job.suspended_by.is_some() || !schedule.state.is_enabled() {
        return Vec::new();
    }
    let grace =
        MISSED_AFTER_SECONDS + i64::from(schedule.flexible_window_minutes.unwrap_or(0)) * 60;
    let since = job.firing_since().unix_timestamp();
    let (from, to) = (minute - grace - WINDOW_SECONDS, minute - grace);
    let mut ticks = Vec::new();
    let mut next = timetable.last_at_or_before(to);
    while let Some(tick) = next.filter(|t| *t > from && *t > since) {
        let at = OffsetDateTime::from_unix_timestamp(tick).ok();
        if let Some((at, run_id)) =
            at.and_then(|at| Some((at, reactor_core::run::run_id(&job.job, at, None).ok()?)))
        {
            ticks.push((at, run_id));
        }
        next = timetable.last_at_or_before(tick - 1);
    }
    ticks
}
