//! `runs --stuck`: unfinished runs whose next step should have happened by now, and why each looks stuck.
//!
//! Every unfinished run has a next step (README, Reliability): LAUNCHING → its claimed attempt is launched
//! (by the claimer, or by the sweep once the launch lease ran out); RUNNING → its task stops and the STOPPED
//! event is judged (or the sweep stops it at its deadline); RETRY_SCHEDULED → its delay item fires (TTL, or
//! the sweep once it is overdue). A run whose step is late is what on-call looks for.

use super::times::{relative, span, when};
use reactor_aws::history::RunStory;
use reactor_aws::records::{AttemptItem, AttemptState, RunItem};
use reactor_aws::store::{DynamoStore, StoreError, Sweeps};
use reactor_core::run::RunStatus;
use time::{Duration, OffsetDateTime};

/// How late a timed step (a retry's due time, a deadline) may be before it counts as stuck: the sweep runs
/// every minute and fires what is overdue, so minutes late means it is not doing its job for this run.
pub const GRACE_SECONDS: i64 = 300;

/// A run that looks stuck, and why.
pub struct Stuck {
    pub run: RunItem,
    pub reason: String,
}

/// What `runs --stuck` found: the stuck runs, oldest first in each status, and a note for each status whose
/// candidates were cut at `limit` (older runs may be stuck too).
pub struct Found {
    pub stuck: Vec<Stuck>,
    pub notes: Vec<String>,
}

/// One Query on `byStatus` per unfinished status (the runs that entered it long enough ago to be late,
/// oldest first, at most `limit`), then each candidate's partition (one Query) to judge it.
pub async fn stuck_runs(
    store: &DynamoStore,
    now: OffsetDateTime,
    older_than: i64,
    limit: i32,
) -> Result<Found, StoreError> {
    let mut found = Found {
        stuck: Vec::new(),
        notes: Vec::new(),
    };
    for status in [
        RunStatus::Launching,
        RunStatus::Running,
        RunStatus::RetryScheduled,
    ] {
        let candidates = store
            .quiet_runs(
                status,
                "",
                now - Duration::seconds(late_after(status, older_than)),
                limit,
            )
            .await?;
        if candidates.len() >= usize::try_from(limit).unwrap_or(usize::MAX) {
            found.notes.push(format!(
                "only the {limit} oldest {status} runs were checked; raise --limit to check more"
            ));
        }
        for candidate in candidates {
            let Some(story) = store.story(&candidate.run_id).await? else {
                continue;
            };
            // The index may lag the run: judge the run as it is now.
            if story.run.status != status {
                continue;
            }
            if let Some(reason) = reason(&story, now, older_than) {
                found.stuck.push(Stuck {
                    run: story.run,
                    reason,
                });
            }
        }
    }
    Ok(found)
}

/// How long a run must have been in `status` before it can be stuck: the bound of the `byStatus` Query.
fn late_after(status: RunStatus, older_than: i64) -> i64 {
    match status {
        // A lease can run out any time after the claim (deferrals push it out).
        RunStatus::Launching => 0,
        // Past the threshold, or past a deadline by the grace (a deadline is after the launch).
        RunStatus::Running => older_than.min(GRACE_SECONDS),
        // A retry is due after the run entered RETRY_SCHEDULED.
        _ => GRACE_SECONDS,
    }
}

/// Why the run looks stuck at `now`; `None` if its next step is not late.
pub fn reason(story: &RunStory, now: OffsetDateTime, older_than: i64) -> Option<String> {
    let run = &story.run;
    let current = story.attempts.iter().find(|a| a.attempt == run.attempt);
    match run.status {
        RunStatus::Launching => launching(run, current, now),
        RunStatus::Running => running(run, current, now, older_than),
        RunStatus::RetryScheduled => retrying(story, now),
        _ => None,
    }
}

fn launching(run: &RunItem, current: Option<&AttemptItem>, now: OffsetDateTime) -> Option<String> {
    let Some(attempt) = current else {
        return Some(format!(
            "LAUNCHING attempt {} but it has no attempt item: nothing will launch it",
            run.attempt
        ));
    };
    if attempt.state != AttemptState::Claimed {
        return None;
    }
    let lease = attempt
        .launch_lease_until
        .and_then(|at| OffsetDateTime::from_unix_timestamp(at).ok());
    match lease {
        Some(until) if until > now => None,
        Some(until) => Some(format!(
            "attempt {} CLAIMED {}, its launch lease ran out {}: the sweep should have resumed the launch \
             (check the scheduler's log)",
            attempt.attempt,
            relative(attempt.claimed_at, now),
            when(until, now)
        )),
        None => Some(format!(
            "attempt {} CLAIMED {} without a launch lease: nothing will resume the launch",
            attempt.attempt,
            relative(attempt.claimed_at, now)
        )),
    }
}

fn running(
    run: &RunItem,
    current: Option<&AttemptItem>,
    now: OffsetDateTime,
    older_than: i64,
) -> Option<String> {
    let since = current
        .and_then(|a| a.launched_at.or(a.started_at))
        .unwrap_or(run.updated_at);
    if let Some(deadline) = current.and_then(|a| a.deadline_at) {
        let late = (now - deadline).whole_seconds();
        return (late > GRACE_SECONDS).then(|| {
            format!(
                "its deadline (timeoutSeconds / runTimeoutSeconds) passed {}: the sweep should have stopped \
                 the task (check the scheduler's log)",
                when(deadline, now)
            )
        });
    }
    let age = (now - since).whole_seconds();
    if age <= older_than {
        return None;
    }
    let why_unbounded = if job_sets_a_deadline(&run.request) {
        "no deadline was recorded at its launch"
    } else {
        "the job sets no timeoutSeconds or runTimeoutSeconds"
    };
    Some(format!(
        "running for {} (over {}) and nothing stops it: {why_unbounded}; is its task still working, or was \
         its STOPPED event lost?",
        span(age),
        span(older_than)
    ))
}

fn retrying(story: &RunStory, now: OffsetDateTime) -> Option<String> {
    let next = story.run.attempt + 1;
    let Some(delay) = story.delays.iter().find(|d| d.attempt == next) else {
        return Some(format!(
            "no delay item for attempt {next}: nothing will launch the retry (cancel the run, then redrive it)"
        ));
    };
    let due = OffsetDateTime::from_unix_timestamp(delay.due_at).ok()?;
    ((now - due).whole_seconds() > GRACE_SECONDS).then(|| {
        format!(
            "the retry (attempt {next}) was due {}: neither DynamoDB TTL nor the sweep fired it (check the \
             scheduler's log)",
            when(due, now)
        )
    })
}

/// Whether the stored job request sets `timeoutSeconds` or `runTimeoutSeconds`.
fn job_sets_a_deadline(request: &str) -> bool {
    serde_json::from_str::<serde_json::Value>(request).is_ok_and(|job| {
        ["timeoutSeconds", "runTimeoutSeconds"]
            .iter()
            .any(|field| job.get(field).is_some_and(|v| !v.is_null()))
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use reactor_aws::records::DelayItem;
    use time::macros::datetime;

    const T0: OffsetDateTime = datetime!(2026-11-21 02:30:00 UTC);

    fn story(status: RunStatus, attempt: Option<AttemptItem>, request: &str) -> RunStory {
        let mut run = RunItem::new("r", "j", request.into(), None, T0);
        run.status = status;
        RunStory {
            run,
            attempts: attempt.into_iter().collect(),
            delays: Vec::new(),
        }
    }

    fn launched(deadline: Option<OffsetDateTime>) -> AttemptItem {
        let mut a = AttemptItem::claim(&reactor_core::Namespace::default(), "r", 1, T0, 0);
        a.state = AttemptState::Launched;
        a.launched_at = Some(T0);
        a.deadline_at = deadline;
        a
    }

    #[test]
    fn launching_is_stuck_once_the_lease_ran_out() {
        let lease = (T0 + Duration::minutes(2)).unix_timestamp();
        let claimed = story(
            RunStatus::Launching,
            Some(AttemptItem::claim(
                &reactor_core::Namespace::default(),
                "r",
                1,
                T0,
                lease,
            )),
            "{}",
        );
        assert_eq!(reason(&claimed, T0 + Duration::minutes(1), 7200), None);
        assert_eq!(
            reason(&claimed, T0 + Duration::minutes(5), 7200).as_deref(),
            Some("attempt 1 CLAIMED 5 min ago, its launch lease ran out 2026-11-21 02:32:00Z (3 min ago): the sweep should have resumed the launch (check the scheduler's log)")
        );
        let missing = story(RunStatus::Launching, None, "{}");
        assert!(reason(&missing, T0, 7200)
            .unwrap()
            .contains("no attempt item"));
    }

    #[test]
    fn running_is_stuck_past_the_threshold_without_a_deadline_or_past_its_deadline() {
        let unbounded = story(RunStatus::Running, Some(launched(None)), "{}");
        assert_eq!(reason(&unbounded, T0 + Duration::hours(1), 7200), None);
        assert_eq!(
            reason(&unbounded, T0 + Duration::hours(3), 7200).as_deref(),
            Some("running for 3 h 0 min (over 2 h 0 min) and nothing stops it: the job sets no timeoutSeconds or runTimeoutSeconds; is its task still working, or was its STOPPED event lost?")
        );
        let bounded = story(
            RunStatus::Running,
            Some(launched(Some(T0 + Duration::hours(4)))),
            r#"{"timeoutSeconds": 14400}"#,
        );
        assert_eq!(reason(&bounded, T0 + Duration::hours(3), 7200), None);
        assert!(reason(&bounded, T0 + Duration::hours(5), 7200)
            .unwrap()
            .starts_with("its deadline (timeoutSeconds / runTimeoutSeconds) passed 2026-11-21 06:30:00Z (1 h ago)"));
    }

    #[test]
    fn a_retry_is_stuck_once_overdue_or_without_its_delay_item() {
        let mut waiting = story(RunStatus::RetryScheduled, Some(launched(None)), "{}");
        assert!(reason(&waiting, T0, 7200)
            .unwrap()
            .starts_with("no delay item for attempt 2"));
        let due = (T0 + Duration::minutes(1)).unix_timestamp();
        waiting.delays.push(DelayItem::new("r", 2, due, 4));
        assert_eq!(reason(&waiting, T0 + Duration::minutes(5), 7200), None);
        assert!(reason(&waiting, T0 + Duration::minutes(20), 7200)
            .unwrap()
            .starts_with("the retry (attempt 2) was due 2026-11-21 02:31:00Z (19 min ago)"));
    }
}
