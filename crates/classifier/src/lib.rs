//! The classifier Lambda: an `ECS Task State Change` event in, the stopped task judged and the decision applied.
//!
//! Parse → ignore what is not ours or not STOPPED (logged, not an error) →
//! [`reactor_aws::flow::Reactor::judge_stop`] (load the attempt, drop duplicates and stale events, judge with
//! `reactor_core::judge_stopped_task`, apply with conditional writes: close and notify, launch the next
//! attempt, or write the delay item) → one log line per decision.
//!
//! A malformed event of ours is an error (errorType `MalformedEvent`): Lambda's bounded retries then hand it to
//! the function's failure destination, where it is kept rather than lost.

use reactor_aws::edge::HandlerError;
use reactor_aws::flow::{FlowError, Judged, Launch, Reactor};
use reactor_aws::launcher::Launcher;
use reactor_aws::notifier::Notifier;
use reactor_aws::store::Store;
use reactor_core::event::task_state_change_from_value;
use reactor_core::started_by::Owner;
use reactor_core::{AttemptRef, EventError};
use serde::Serialize;
use serde_json::Value;
use time::OffsetDateTime;

#[derive(Debug, thiserror::Error)]
pub enum ClassifierError {
    #[error("{0}")]
    Malformed(String),
    #[error(transparent)]
    Flow(#[from] FlowError),
}

impl HandlerError for ClassifierError {
    fn error_type(&self) -> &'static str {
        match self {
            ClassifierError::Malformed(_) => "MalformedEvent",
            ClassifierError::Flow(e) if e.is_retryable() => "RetryableError",
            ClassifierError::Flow(_) => "ClassifyFailed",
        }
    }
}

/// What the classifier did, as its response says.
#[derive(Debug, Clone, PartialEq, Default, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ClassifyResponse {
    /// APPLIED, DUPLICATE, STALE, UNKNOWN_RUN, OTHER_TASK or IGNORED.
    pub outcome: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub why: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub run_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub attempt: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub action: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rule_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub delay_seconds: Option<u32>,
    /// For RETRY_NOW: the next attempt's task.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_task_arn: Option<String>,
}

fn ignored(why: String) -> ClassifyResponse {
    tracing::info!(outcome = "IGNORED", why = why.as_str(), "event ignored");
    ClassifyResponse {
        outcome: "IGNORED",
        why: Some(why),
        ..ClassifyResponse::default()
    }
}

/// The handler: parse → (not ours / not STOPPED: ignore) → judge and apply → log.
pub async fn handle<S: Store, L: Launcher, N: Notifier>(
    reactor: &Reactor<S, L, N>,
    payload: Value,
    now: OffsetDateTime,
) -> Result<ClassifyResponse, ClassifierError> {
    let event = match task_state_change_from_value(payload) {
        Ok(event) => event,
        Err(e @ EventError::Foreign { .. }) => return Ok(ignored(e.to_string())),
        Err(e) => {
            tracing::error!(error = %e, "malformed event");
            return Err(ClassifierError::Malformed(e.to_string()));
        }
    };
    let task = &event.detail;
    if !task.is_stopped() {
        return Ok(ignored(format!(
            "task is {}, not STOPPED",
            task.last_status
        )));
    }
    let attempt_ref: AttemptRef = match reactor.namespace.owner_of(task.started_by.as_deref()) {
        Owner::Ours(attempt) => attempt,
        Owner::Foreign(why) => return Ok(ignored(why)),
        Owner::Malformed(e) => {
            tracing::error!(task = task.task_arn.as_str(), error = %e, "malformed startedBy");
            return Err(ClassifierError::Malformed(e.to_string()));
        }
    };
    let judged = reactor.judge_stop(task, &attempt_ref, now).await.inspect_err(|e| {
        tracing::error!(run = attempt_ref.run_id.as_str(), attempt = attempt_ref.attempt, retryable = e.is_retryable(), error = %e, "classification failed");
    })?;
    Ok(response(judged))
}

fn response(judged: Judged) -> ClassifyResponse {
    let at = |outcome, run_id, attempt| ClassifyResponse {
        outcome,
        run_id: Some(run_id),
        attempt: Some(attempt),
        ..ClassifyResponse::default()
    };
    match judged {
        Judged::Applied {
            run_id,
            attempt,
            decision,
            launch,
        } => ClassifyResponse {
            action: Some(decision.action.as_str()),
            rule_id: Some(decision.rule_id.clone()),
            delay_seconds: decision.delay_seconds,
            next_task_arn: match launch {
                Some(Launch::Started { task_arn, .. }) => Some(task_arn),
                _ => None,
            },
            ..at("APPLIED", run_id, attempt)
        },
        Judged::Duplicate { run_id, attempt } => at("DUPLICATE", run_id, attempt),
        Judged::Stale { run_id, attempt } => at("STALE", run_id, attempt),
        Judged::Unknown { run_id, attempt } => at("UNKNOWN_RUN", run_id, attempt),
        Judged::OtherTask { run_id, attempt } => at("OTHER_TASK", run_id, attempt),
    }
}
