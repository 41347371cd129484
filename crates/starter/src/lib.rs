//! The starter Lambda: a job request in, a run recorded and its first task launched.
//!
//! Input, either of:
//! - a job request (README: Job request), invoked directly: the run id is the job and a discriminator from the
//!   invocation's request id (which Lambda keeps across its own retries of that invocation, minutes apart, so
//!   the clock has no part in it);
//! - an EventBridge `Scheduled Event` whose `detail` is the job request (a schedule rule's input transformer
//!   sends it): the run id is the job and the scheduled `time`, so a duplicated tick finds its run already
//!   there and starts nothing;
//! - a registered job's tick, `{"scheduledJob": "<job>", "scheduledTime": "<time>"}` (what the job's
//!   EventBridge Scheduler schedule sends, from `ecs-reactor jobs apply`): the spec is read from the registry,
//!   the run id is the job and the tick, as for a rule's tick; a suspended job's tick is recorded SKIPPED.
//!
//! Parse and validate ([`reactor_core::request::starter_input`], before any side effect) →
//! [`reactor_aws::flow::Reactor::start`] or [`reactor_aws::flow::Reactor::start_registered`] → one log line;
//! the answer is a [`reactor_aws::flow::StartResponse`].

use reactor_aws::edge::HandlerError;
use reactor_aws::flow::{FlowError, Reactor, StartResponse};
use reactor_aws::launcher::Launcher;
use reactor_aws::notifier::Notifier;
use reactor_aws::store::Store;
use reactor_core::request::{starter_input, RequestError, StarterInput};
use serde_json::Value;
use time::OffsetDateTime;

#[derive(Debug, thiserror::Error)]
pub enum StarterError {
    /// The input cannot start a run (not a job request, a tick without a time …); nothing was written.
    #[error(transparent)]
    Request(#[from] RequestError),
    #[error(transparent)]
    Flow(#[from] FlowError),
}

impl HandlerError for StarterError {
    fn error_type(&self) -> &'static str {
        match self {
            StarterError::Request(RequestError::InvalidJob(_)) => "InvalidJobRequest",
            StarterError::Request(RequestError::InvalidSchedule(_)) => "InvalidScheduledEvent",
            StarterError::Request(RequestError::RunId(_)) => "InvalidRunId",
            StarterError::Flow(FlowError::NotAllowed(_)) => "JobNotAllowed",
            StarterError::Flow(FlowError::Conflict { .. }) => "RunConflict",
            StarterError::Flow(FlowError::NotRegistered { .. }) => "JobNotRegistered",
            StarterError::Flow(FlowError::UnreadableJob { .. }) => "UnreadableRegisteredJob",
            StarterError::Flow(e) if e.is_retryable() => "RetryableError",
            // The overrides key refused (no kms permission, a disabled key) or a sealed value unreadable.
            StarterError::Flow(FlowError::Vault(_)) => "OverrideValuesUnsealable",
            StarterError::Flow(_) => "StartFailed",
        }
    }
}

/// The handler: parse → start (record, claim, launch) → log.
pub async fn handle<S: Store, L: Launcher, N: Notifier>(
    reactor: &Reactor<S, L, N>,
    payload: Value,
    request_id: &str,
    now: OffsetDateTime,
) -> Result<StartResponse, StarterError> {
    let input = match starter_input(payload, request_id, now).map_err(StarterError::from) {
        Ok(input) => input,
        Err(e) => {
            tracing::error!(error_type = e.error_type(), error = %e, "job request rejected; nothing written");
            return Err(e);
        }
    };
    let (run_id, started) = match &input {
        StarterInput::Request(request) => (
            request.run_id.as_str(),
            reactor
                .start_scheduled(&request.job, &request.run_id, request.scheduled_at, now)
                .await,
        ),
        StarterInput::Tick(tick) => (
            tick.run_id.as_str(),
            reactor.start_registered(tick, now).await,
        ),
    };
    let started = started.map_err(StarterError::from).inspect_err(|e| {
        let StarterError::Flow(flow) = e else { return };
        tracing::error!(run = run_id, error_type = e.error_type(), retryable = flow.is_retryable(), error = %e, "start failed");
    })?;
    Ok(StartResponse::from(started))
}
