//! Deadlines: `timeoutSeconds` bounds one attempt, `runTimeoutSeconds` the whole run (from its start, or from
//! its latest redrive).
//!
//! The sweep stops a task past its deadline with StopTask and a reason written here; ECS then reports the task
//! STOPPED with `stopCode` `UserInitiated` and that reason, and the judge recognises it from the event alone.
//! So a timeout is judged the same way whichever invocation sees the event first, and nothing has to be
//! written between the StopTask and the event.

use crate::event::{StopCode, Task};
use crate::job::JobRequest;
use std::fmt;

/// How a timed-out attempt is recognised in its stoppedReason.
pub const ATTEMPT_TIMEOUT_PREFIX: &str = "ecs-reactor timeout:";
pub const RUN_TIMEOUT_PREFIX: &str = "ecs-reactor run timeout:";

/// Which deadline a task ran into.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeadlineKind {
    /// `timeoutSeconds`: the attempt ran too long; `retry.onTimeout` decides.
    Attempt,
    /// `runTimeoutSeconds`: the run ran too long; it is not retried (as in AWS Batch).
    Run,
}

impl DeadlineKind {
    pub fn as_str(self) -> &'static str {
        match self {
            DeadlineKind::Attempt => "ATTEMPT",
            DeadlineKind::Run => "RUN",
        }
    }

    pub fn parse(s: &str) -> Option<DeadlineKind> {
        match s {
            "ATTEMPT" => Some(DeadlineKind::Attempt),
            "RUN" => Some(DeadlineKind::Run),
            _ => None,
        }
    }
}

/// When the running attempt must be stopped, and which limit that is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Deadline {
    /// Epoch seconds.
    pub at: i64,
    pub kind: DeadlineKind,
    pub limit_seconds: u32,
}

impl fmt::Display for Deadline {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.kind {
            DeadlineKind::Attempt => write!(f, "timeoutSeconds {}", self.limit_seconds),
            DeadlineKind::Run => write!(f, "runTimeoutSeconds {}", self.limit_seconds),
        }
    }
}

/// The run's own deadline, if the job has one: `runTimeoutSeconds` after `run_started_at`.
pub fn run_deadline(job: &JobRequest, run_started_at: i64) -> Option<Deadline> {
    job.run_timeout_seconds.map(|limit| Deadline {
        at: run_started_at + i64::from(limit),
        kind: DeadlineKind::Run,
        limit_seconds: limit,
    })
}

/// The deadline of an attempt launched at `launched_at`: the earlier of its own and the run's.
pub fn attempt_deadline(
    job: &JobRequest,
    launched_at: i64,
    run_started_at: i64,
) -> Option<Deadline> {
    let own = job.timeout_seconds.map(|limit| Deadline {
        at: launched_at + i64::from(limit),
        kind: DeadlineKind::Attempt,
        limit_seconds: limit,
    });
    match (own, run_deadline(job, run_started_at)) {
        (Some(a), Some(r)) => Some(if r.at <= a.at { r } else { a }),
        (a, r) => a.or(r),
    }
}

/// The StopTask reason (ECS keeps ≤ 255 characters; this stays far below).
pub fn stop_reason(deadline: &Deadline, run_id: &str, attempt: u32) -> String {
    let text = match deadline.kind {
        DeadlineKind::Attempt => format!(
            "{ATTEMPT_TIMEOUT_PREFIX} attempt {attempt} of run {run_id} ran longer than {deadline}"
        ),
        DeadlineKind::Run => {
            format!("{RUN_TIMEOUT_PREFIX} run {run_id} ran longer than {deadline}")
        }
    };
    text.chars().take(255).collect()
}

/// Whether this stopped task was stopped by ecs-reactor for a deadline, and which.
pub fn timed_out(task: &Task) -> Option<DeadlineKind> {
    // StopTask gives UserInitiated; a task described by the sweep after its event was lost may carry no
    // stop code where the API omits it. The reason's prefix is ecs-reactor's own either way.
    if task.stop_code.is_some() && task.stop_code != Some(StopCode::UserInitiated) {
        return None;
    }
    let reason = task.stopped_reason.as_deref()?;
    if reason.starts_with(ATTEMPT_TIMEOUT_PREFIX) {
        Some(DeadlineKind::Attempt)
    } else if reason.starts_with(RUN_TIMEOUT_PREFIX) {
        Some(DeadlineKind::Run)
    } else {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn job(timeout: Option<u32>, run_timeout: Option<u32>) -> JobRequest {
        let mut v = json!({"job": "j", "runTask": {"taskDefinition": "t:1"}});
        if let Some(t) = timeout {
            v["timeoutSeconds"] = json!(t);
        }
        if let Some(t) = run_timeout {
            v["runTimeoutSeconds"] = json!(t);
        }
        JobRequest::from_json(&v.to_string()).unwrap()
    }

    #[test]
    fn the_earlier_deadline_wins() {
        use DeadlineKind::*;
        // (timeoutSeconds, runTimeoutSeconds, launched at, run started at) → (at, kind)
        #[rustfmt::skip]
        let cases = [
            (None, None, 100, 0, None),
            (Some(60), None, 100, 0, Some((160, Attempt))),
            (None, Some(600), 100, 0, Some((600, Run))),
            (Some(60), Some(600), 100, 0, Some((160, Attempt))),
            (Some(60), Some(600), 580, 0, Some((600, Run))),
            (Some(60), Some(600), 540, 0, Some((600, Run))),
        ];
        for (timeout, run_timeout, launched, started, expected) in cases {
            let got = attempt_deadline(&job(timeout, run_timeout), launched, started)
                .map(|d| (d.at, d.kind));
            assert_eq!(
                got, expected,
                "{timeout:?} {run_timeout:?} {launched} {started}"
            );
        }
    }

    #[test]
    fn a_stop_for_a_deadline_is_recognised_from_its_reason() {
        let deadline = Deadline {
            at: 0,
            kind: DeadlineKind::Attempt,
            limit_seconds: 3600,
        };
        let reason = stop_reason(&deadline, "nightly-20261121T000000Z", 2);
        assert_eq!(
            reason,
            "ecs-reactor timeout: attempt 2 of run nightly-20261121T000000Z ran longer than timeoutSeconds 3600"
        );
        let task = |code: &str, reason: &str| -> Task {
            serde_json::from_value(json!({
                "taskArn": "arn:t", "lastStatus": "STOPPED", "version": 3,
                "stopCode": code, "stoppedReason": reason }))
            .unwrap()
        };
        let run = Deadline {
            kind: DeadlineKind::Run,
            ..deadline
        };
        assert_eq!(
            timed_out(&task("UserInitiated", &reason)),
            Some(DeadlineKind::Attempt)
        );
        assert_eq!(
            timed_out(&task("UserInitiated", &stop_reason(&run, "r", 1))),
            Some(DeadlineKind::Run)
        );
        // Someone else's StopTask, or our words under another stop code, are not a timeout.
        assert_eq!(
            timed_out(&task("UserInitiated", "Task stopped by user")),
            None
        );
        assert_eq!(timed_out(&task("EssentialContainerExited", &reason)), None);
        // Described by the sweep after the event was lost, where the API gave no stop code: still ours.
        let uncoded: Task = serde_json::from_value(json!({
            "taskArn": "arn:t", "lastStatus": "STOPPED", "version": 3, "stoppedReason": reason }))
        .unwrap();
        assert_eq!(timed_out(&uncoded), Some(DeadlineKind::Attempt));
    }
}
