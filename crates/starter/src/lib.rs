//! The starter Lambda: a job request in, a run recorded and its first task launched.
//!
//! Input, either of:
//! - a job request (README: Job request), invoked directly: the run id is the job and a discriminator from the
//!   invocation's request id (which Lambda keeps across its own retries of that invocation, minutes apart, so
//!   the clock has no part in it);
//! - an EventBridge `Scheduled Event` whose `detail` is the job request (what the schedule rule's input
//!   transformer in template.yml sends): the run id is the job and the scheduled `time`, so a duplicated tick
//!   finds its run already there and starts nothing.
//!
//! Parse → validate (before any side effect) → [`reactor_aws::flow::Reactor::start`] → one log line.

use reactor_aws::edge::HandlerError;
use reactor_aws::flow::{FlowError, Launch, Reactor, Started};
use reactor_aws::launcher::Launcher;
use reactor_aws::notifier::Notifier;
use reactor_aws::store::Store;
use reactor_core::run::{request_run_id, run_id, RunIdError};
use reactor_core::{JobError, JobRequest};
use serde::Serialize;
use serde_json::Value;
use time::OffsetDateTime;

#[derive(Debug, thiserror::Error)]
pub enum StarterError {
    /// The request is not a job request ecs-reactor can run; nothing was written.
    #[error("{0}")]
    InvalidJob(#[from] JobError),
    #[error("scheduled event: {0}")]
    InvalidSchedule(String),
    #[error(transparent)]
    RunId(#[from] RunIdError),
    #[error(transparent)]
    Flow(#[from] FlowError),
}

impl HandlerError for StarterError {
    fn error_type(&self) -> &'static str {
        match self {
            StarterError::InvalidJob(_) => "InvalidJobRequest",
            StarterError::InvalidSchedule(_) => "InvalidScheduledEvent",
            StarterError::RunId(_) => "InvalidRunId",
            StarterError::Flow(FlowError::NotAllowed(_)) => "JobNotAllowed",
            StarterError::Flow(e) if e.is_retryable() => "RetryableError",
            StarterError::Flow(_) => "StartFailed",
        }
    }
}

/// What the starter answers (a direct invocation sees it).
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct StartResponse {
    pub run_id: String,
    /// STARTED, DUPLICATE (the run existed already) or NOT_STARTED (RunTask refused; see `action`).
    pub outcome: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub attempt: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub task_arn: Option<String>,
    /// For a refused launch: what was decided (RETRY_LATER, FAIL…) and why.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub action: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

/// A job request and the run id it runs under.
#[derive(Debug, Clone, PartialEq)]
pub struct StartRequest {
    pub job: JobRequest,
    pub run_id: String,
}

/// Reads the input: a scheduled event carrying a job, or a job. Validation happens here, before anything
/// is written.
pub fn parse(payload: Value, request_id: &str) -> Result<StartRequest, StarterError> {
    let is_schedule = payload.get("detail-type").and_then(Value::as_str) == Some("Scheduled Event");
    if is_schedule {
        let time = payload.get("time").and_then(Value::as_str).ok_or_else(|| {
            StarterError::InvalidSchedule("no \"time\": the scheduled time names the run".into())
        })?;
        let at = OffsetDateTime::parse(time, &time::format_description::well_known::Rfc3339)
            .map_err(|e| {
                StarterError::InvalidSchedule(format!("time {time:?} is not RFC 3339: {e}"))
            })?;
        let detail = payload
            .get("detail")
            .cloned()
            .filter(|d| d.as_object().is_some_and(|o| !o.is_empty()))
            .ok_or_else(|| {
                StarterError::InvalidSchedule(
                    "\"detail\" must be the job request (set by the schedule rule's input transformer)".into(),
                )
            })?;
        let job = JobRequest::from_value(detail)?;
        let run_id = run_id(&job.job, at, None)?;
        return Ok(StartRequest { job, run_id });
    }
    let job = JobRequest::from_value(payload)?;
    let run_id = request_run_id(&job.job, request_id)?;
    Ok(StartRequest { job, run_id })
}

/// The handler: parse → start (record, claim, launch) → log.
pub async fn handle<S: Store, L: Launcher, N: Notifier>(
    reactor: &Reactor<S, L, N>,
    payload: Value,
    request_id: &str,
    now: OffsetDateTime,
) -> Result<StartResponse, StarterError> {
    let request = match parse(payload, request_id) {
        Ok(r) => r,
        Err(e) => {
            tracing::error!(error_type = e.error_type(), error = %e, "job request rejected; nothing written");
            return Err(e);
        }
    };
    let started = reactor.start(&request.job, &request.run_id, now).await.inspect_err(|e| {
        tracing::error!(run = request.run_id.as_str(), retryable = e.is_retryable(), error = %e, "start failed");
    })?;
    Ok(response(started))
}

fn response(started: Started) -> StartResponse {
    let (run_id, outcome, launch) = match started {
        Started::New { run_id, launch } => (run_id, "STARTED", Some(launch)),
        Started::Duplicate { run_id, resumed } => (run_id, "DUPLICATE", resumed),
        Started::Skipped { run_id, blocked_by } => {
            return StartResponse {
                run_id,
                outcome: "SKIPPED",
                attempt: None,
                task_arn: None,
                action: None,
                reason: Some(format!(
                    "run {blocked_by} of the job is unfinished (concurrency FORBID)"
                )),
            }
        }
    };
    let mut response = StartResponse {
        run_id,
        outcome,
        attempt: None,
        task_arn: None,
        action: None,
        reason: None,
    };
    match launch {
        Some(Launch::Started {
            attempt, task_arn, ..
        }) => {
            response.attempt = Some(attempt);
            response.task_arn = Some(task_arn);
        }
        Some(Launch::Refused {
            attempt, decision, ..
        }) => {
            if outcome == "STARTED" {
                response.outcome = "NOT_STARTED";
            }
            response.attempt = Some(attempt);
            response.action = Some(decision.action.as_str());
            response.reason = Some(format!("{}: {}", decision.rule, decision.reason));
        }
        Some(Launch::Overtaken {
            attempt,
            task_arn,
            status,
        }) => {
            response.attempt = Some(attempt);
            response.task_arn = Some(task_arn);
            response.reason = Some(format!(
                "the run became {status} while the attempt was being launched; its task was stopped"
            ));
        }
        None => {}
    }
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    const JOB: &str = r#"{"job":"nightly","runTask":{"taskDefinition":"report:7"}}"#;

    fn schedule(time: &str, detail: &str) -> Value {
        serde_json::from_str(&format!(
            r#"{{"version":"0","id":"e1","detail-type":"Scheduled Event","source":"aws.events","time":{time},"resources":[],"detail":{detail}}}"#
        ))
        .unwrap()
    }

    #[test]
    fn run_ids_come_from_the_schedule_or_the_request() {
        let direct = parse(serde_json::from_str(JOB).unwrap(), "req-1").unwrap();
        let retried = parse(serde_json::from_str(JOB).unwrap(), "req-1").unwrap();
        assert_eq!(
            direct.run_id,
            format!("nightly-{}", reactor_core::run::discriminator("req-1"))
        );
        assert_eq!(
            direct.run_id, retried.run_id,
            "a retried invocation (minutes later, same request id) names the same run"
        );
        let tick = parse(schedule("\"2026-11-21T02:30:00Z\"", JOB), "req-2").unwrap();
        assert_eq!(
            tick.run_id, "nightly-20261121T023000Z",
            "the scheduled time, not the clock"
        );
        let again = parse(schedule("\"2026-11-21T02:30:00Z\"", JOB), "req-3").unwrap();
        assert_eq!(
            tick.run_id, again.run_id,
            "a duplicated tick names the same run"
        );
    }

    #[test]
    fn bad_input_is_named() {
        #[rustfmt::skip]
        let cases: &[(Value, &str, &str)] = &[
            (schedule("\"yesterday\"", JOB), "InvalidScheduledEvent", "time \"yesterday\" is not RFC 3339"),
            (schedule("null", JOB), "InvalidScheduledEvent", "no \"time\""),
            (schedule("\"2026-11-21T02:30:00Z\"", "{}"), "InvalidScheduledEvent", "\"detail\" must be the job request"),
            (schedule("\"2026-11-21T02:30:00Z\"", r#"{"job":"x"}"#), "InvalidJobRequest", "runTask"),
            (serde_json::json!({"job": "n", "runTask": {"taskDefinition": "t"}, "retry": {"maxAttempt": 3}}), "InvalidJobRequest", "did you mean maxAttempts"),
            (serde_json::json!([1, 2]), "InvalidJobRequest", "invalid type"),
        ];
        for (payload, error_type, message) in cases {
            let e = parse(payload.clone(), "r").unwrap_err();
            assert_eq!(e.error_type(), *error_type, "{payload}");
            assert!(e.to_string().contains(message), "{payload}: {e}");
        }
    }
}
