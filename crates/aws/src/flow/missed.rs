//! Ticks that never came. A schedule disabled by hand in the console, deleted, or failing to deliver starts
//! no run and says nothing; each sweep reads the registry (one Query) and, for each job whose schedule should
//! have fired in the minute just past its grace (`MISSED_AFTER_SECONDS` plus its flexible window), asks
//! whether that tick's run exists (one GetItem). A tick with no run — not even SKIPPED — is recorded once
//! (`MISSED#<job>` / `<tick>`), logged as an error and counted (`TicksMissed`, with an alarm).
//!
//! Exactly once: the record is a conditional put, so a second sweep over the same minute (a duplicated
//! invocation) counts nothing. A sweep that did not run leaves that minute's ticks unchecked; `jobs list`
//! still shows them MISSED, since it asks the same question whenever it is run.

use super::*;
use crate::records::MissedTickItem;
use reactor_core::jobfile;
use reactor_core::timetable::MISSED_AFTER_SECONDS;

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
    /// Checks the ticks that came due (past their grace) in the minute before `now`.
    pub async fn notice_missed_ticks(&self, now: OffsetDateTime) -> Result<MissedTicks, FlowError> {
        let mut found = MissedTicks::default();
        for job in self.store.registered_jobs().await? {
            let Some((tick, run_id)) = due_in_the_last_minute(&job, now) else {
                continue;
            };
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

/// The tick of `job` whose grace ended in the minute before `now`, with the run id it names; none for a job
/// that is suspended, disabled, unscheduled or unreadable (a tick of an unreadable spec is refused loudly by
/// the starter).
fn due_in_the_last_minute(job: &JobItem, now: OffsetDateTime) -> Option<(OffsetDateTime, String)> {
    let spec: serde_json::Value = serde_json::from_str(&job.spec).ok()?;
    let schedule = jobfile::read(spec, None).ok()?.schedule?;
    let expected = schedule.expected(
        job.suspended_by.is_some(),
        job.firing_since().unix_timestamp(),
        now.unix_timestamp(),
    );
    let tick = expected.due_tick?;
    let grace =
        MISSED_AFTER_SECONDS + i64::from(schedule.flexible_window_minutes.unwrap_or(0)) * 60;
    if now.unix_timestamp() - grace - tick >= 60 {
        return None;
    }
    let tick = OffsetDateTime::from_unix_timestamp(tick).ok()?;
    let run_id = reactor_core::run::run_id(&job.job, tick, None).ok()?;
    Some((tick, run_id))
}
