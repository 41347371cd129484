//! The messages a run publishes, built from what was decided or recorded: a finished run's outcome (also
//! when the sweep publishes it late), a cancel, a skip, a retry notice; and the decision recorded on an attempt.

use super::*;

/// The message a finished run publishes.
pub(super) fn outcome_of(
    run: &RunItem,
    status: RunStatus,
    attempt: u32,
    decision: &Decision,
    task_arn: Option<&str>,
) -> Outcome {
    Outcome {
        event: match status {
            RunStatus::Succeeded => Event::RunSucceeded,
            RunStatus::Cancelled => Event::RunCancelled,
            RunStatus::Skipped => Event::RunSkipped,
            _ => Event::RunFailed,
        },
        run_id: run.run_id.clone(),
        job: run.job.clone(),
        status: status.as_str().into(),
        attempts: attempt,
        rule_id: decision.rule_id.clone(),
        rule: decision.rule.clone(),
        reason: decision.reason.clone(),
        task_arn: task_arn.map(str::to_owned),
        hint: decision.verdict.hint.clone(),
        next_retry_at: None,
        memory_mib: None,
    }
}

/// The message a run cancelled by `by` publishes; `task_arn` is the task stopped on request.
pub(super) fn cancelled_outcome(run: &RunItem, by: &str, task_arn: Option<String>) -> Outcome {
    Outcome {
        event: Event::RunCancelled,
        run_id: run.run_id.clone(),
        job: run.job.clone(),
        status: RunStatus::Cancelled.as_str().into(),
        attempts: run.attempt,
        rule_id: "cancelled".into(),
        rule: "cancelled".into(),
        reason: format!("cancelled by {by}"),
        task_arn,
        hint: None,
        next_retry_at: None,
        memory_mib: None,
    }
}

/// The message a SKIPPED run publishes; `holder` says which run of the job was unfinished, and how.
pub(super) fn skipped_outcome(run: &RunItem, holder: &str) -> Outcome {
    Outcome {
        event: Event::RunSkipped,
        run_id: run.run_id.clone(),
        job: run.job.clone(),
        status: RunStatus::Skipped.as_str().into(),
        attempts: 0,
        rule_id: "concurrency-forbid".into(),
        rule: run.last_rule.clone().unwrap_or_default(),
        reason: format!("not started: {holder} (concurrency FORBID)"),
        task_arn: None,
        hint: None,
        next_retry_at: None,
        memory_mib: None,
    }
}

/// The retry notice of a decided attempt, to be published again.
pub(super) fn retry_outcome(run: &RunItem, attempt: &AttemptItem, decision: &Decision) -> Outcome {
    Outcome {
        event: Event::AttemptRetrying,
        status: if attempt.next_retry_at.is_some() {
            RunStatus::RetryScheduled
        } else {
            RunStatus::Launching
        }
        .as_str()
        .into(),
        next_retry_at: attempt.next_retry_at.map(stamp),
        memory_mib: run.task_size.map(|s| s.memory_mib),
        ..outcome_of(
            run,
            RunStatus::Launching,
            attempt.attempt,
            decision,
            attempt.task_arn.as_deref(),
        )
    }
}

/// The decision recorded on a judged attempt, for a notification that has to be published again.
pub(super) fn decision_of(attempt: &AttemptItem) -> Decision {
    let action = attempt.action.unwrap_or(Action::Fail);
    let rule_id = attempt.rule_id.clone().unwrap_or_default();
    let rule = attempt.rule.clone().unwrap_or_default();
    Decision {
        action,
        rule_id: rule_id.clone(),
        rule: rule.clone(),
        reason: attempt.reason.clone().unwrap_or_default(),
        counts_as_attempt: attempt.counts_as_attempt.unwrap_or(true),
        delay_seconds: attempt.delay_seconds,
        next_attempt: None,
        verdict: reactor_core::Verdict {
            action,
            rule_id,
            rule,
            evidence: attempt.stopped_reason.clone().unwrap_or_default(),
            disruption: false,
            hint: attempt.hint.clone(),
            memory: None,
        },
    }
}
