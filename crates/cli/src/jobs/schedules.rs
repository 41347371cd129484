//! The stack's EventBridge Scheduler schedule group: one schedule per scheduled job, named after it, whose
//! target is the starter with only the job's name and the tick as input (the spec is in the registry).

use crate::aws::aws_failure;
use crate::failure::Failure;
use aws_sdk_scheduler::error::SdkError;
use aws_sdk_scheduler::types::{
    ActionAfterCompletion, DeadLetterConfig, FlexibleTimeWindow, FlexibleTimeWindowMode,
    RetryPolicy, ScheduleState, Target,
};
use reactor_aws::aws_error::AwsError;
use reactor_core::jobfile::Schedule;
use reactor_core::request::{TICK_JOB_FIELD, TICK_TIME_FIELD};
use std::collections::BTreeMap;

/// How long Scheduler keeps retrying a tick the starter did not take (throttled, failed), and how often,
/// before it goes to the dead-letter queue (`ecs-reactor dlq`). The starter's run id makes a retried tick
/// start nothing twice, so retrying is always safe.
pub const TICK_MAX_AGE_SECONDS: i32 = 3600;
pub const TICK_MAX_RETRIES: i32 = 20;

/// Where the schedules live and what they invoke: the stack's outputs (or flags).
#[derive(Debug, Clone)]
pub struct Group {
    pub name: String,
    pub starter_arn: String,
    pub role_arn: String,
    pub dead_letter_arn: String,
}

pub struct Schedules {
    client: aws_sdk_scheduler::Client,
    pub group: Group,
}

/// The input a job's schedule sends the starter: its name and the tick, nothing else.
pub fn tick_input(job: &str) -> String {
    serde_json::json!({ TICK_JOB_FIELD: job, TICK_TIME_FIELD: "<aws.scheduler.scheduled-time>" })
        .to_string()
}

/// The whole definition of a job's schedule on a CreateSchedule or UpdateSchedule request (two builder types
/// with the same setters; an update replaces the whole definition, so both set every field).
macro_rules! defined {
    ($builder:expr, $schedules:expr, $job:expr, $s:expr, $enabled:expr) => {{
        let (target, window, state) = $schedules.parts($job, $s, $enabled)?;
        $builder
            .name($job)
            .group_name(&$schedules.group.name)
            .schedule_expression(&$s.expression)
            .set_schedule_expression_timezone($s.timezone.clone())
            .flexible_time_window(window)
            .target(target)
            .state(state)
            .action_after_completion(ActionAfterCompletion::None)
            .description(description($job))
            .set_start_date(date($job, "startDate", $s.start_date.as_deref())?)
            .set_end_date(date($job, "endDate", $s.end_date.as_deref())?)
    }};
}

impl Group {
    /// What a schedule written now would be, as a fingerprint: the schedule, its state and everything it
    /// invokes (a hash of them: the registry keeps it, `jobs apply` compares it).
    pub fn fingerprint(&self, schedule: &Schedule, enabled: bool) -> String {
        let written = serde_json::json!({
            "schedule": schedule, "enabled": enabled, "group": self.name, "starter": self.starter_arn,
            "role": self.role_arn, "deadLetter": self.dead_letter_arn,
            "retry": [TICK_MAX_AGE_SECONDS, TICK_MAX_RETRIES], "input": tick_input("-"),
        });
        reactor_core::run::discriminator(&written.to_string())
    }
}

impl Schedules {
    pub fn new(sdk: &aws_config::SdkConfig, group: Group) -> Schedules {
        Schedules {
            client: aws_sdk_scheduler::Client::new(sdk),
            group,
        }
    }

    fn failure<E, R>(&self, e: SdkError<E, R>) -> Failure
    where
        E: std::error::Error
            + aws_sdk_scheduler::error::ProvideErrorMetadata
            + Send
            + Sync
            + 'static,
        R: std::fmt::Debug + Send + Sync + 'static,
    {
        aws_failure(&self.group.name, &AwsError::from_sdk(e))
    }

    /// Every schedule in the group, by name, with whether it is enabled.
    pub async fn states(&self) -> Result<BTreeMap<String, bool>, Failure> {
        let mut states = BTreeMap::new();
        let mut pages = self
            .client
            .list_schedules()
            .group_name(&self.group.name)
            .into_paginator()
            .items()
            .send();
        while let Some(summary) = pages.next().await {
            let summary = summary.map_err(|e| self.failure(e))?;
            if let Some(name) = summary.name() {
                states.insert(
                    name.to_owned(),
                    summary.state() == Some(&ScheduleState::Enabled),
                );
            }
        }
        Ok(states)
    }

    /// Creates or updates the job's schedule (`exists`: which to try first; the other follows when the group
    /// says otherwise, so a plan a moment old still lands).
    pub async fn put(
        &self,
        job: &str,
        schedule: &Schedule,
        enabled: bool,
        exists: bool,
    ) -> Result<(), Failure> {
        if exists {
            match self.update(job, schedule, enabled).await {
                Err(PutError::Missing) => self.create(job, schedule, enabled).await,
                other => other,
            }
        } else {
            match self.create(job, schedule, enabled).await {
                Err(PutError::Exists) => self.update(job, schedule, enabled).await,
                other => other,
            }
        }
        .map_err(|e| match e {
            PutError::Failed(f) => f,
            PutError::Missing | PutError::Exists => Failure::Conflict(format!(
                "schedule {job:?} in group {:?} kept changing under the apply: run it again",
                self.group.name
            )),
        })
    }

    async fn create(&self, job: &str, s: &Schedule, enabled: bool) -> Result<(), PutError> {
        let create = defined!(self.client.create_schedule(), self, job, s, enabled);
        match create.send().await {
            Ok(_) => Ok(()),
            Err(e)
                if e.as_service_error()
                    .is_some_and(|s| s.is_conflict_exception()) =>
            {
                Err(PutError::Exists)
            }
            Err(e) => Err(PutError::Failed(self.failure(e))),
        }
    }

    async fn update(&self, job: &str, s: &Schedule, enabled: bool) -> Result<(), PutError> {
        let update = defined!(self.client.update_schedule(), self, job, s, enabled);
        match update.send().await {
            Ok(_) => Ok(()),
            Err(e)
                if e.as_service_error()
                    .is_some_and(|s| s.is_resource_not_found_exception()) =>
            {
                Err(PutError::Missing)
            }
            Err(e) => Err(PutError::Failed(self.failure(e))),
        }
    }

    /// What every schedule of the group shares: the starter as target with the job's tick, the retry policy
    /// and the dead-letter queue; the flexible window and the state.
    fn parts(
        &self,
        job: &str,
        s: &Schedule,
        enabled: bool,
    ) -> Result<(Target, FlexibleTimeWindow, ScheduleState), PutError> {
        let built = |what: &str, e: aws_sdk_scheduler::error::BuildError| {
            PutError::Failed(Failure::BadInput(format!(
                "job {job:?}: the schedule's {what} could not be built: {e}"
            )))
        };
        let target = Target::builder()
            .arn(&self.group.starter_arn)
            .role_arn(&self.group.role_arn)
            .input(tick_input(job))
            .retry_policy(
                RetryPolicy::builder()
                    .maximum_event_age_in_seconds(TICK_MAX_AGE_SECONDS)
                    .maximum_retry_attempts(TICK_MAX_RETRIES)
                    .build(),
            )
            .dead_letter_config(
                DeadLetterConfig::builder()
                    .arn(&self.group.dead_letter_arn)
                    .build(),
            )
            .build()
            .map_err(|e| built("target", e))?;
        let window = match s.flexible_window_minutes {
            Some(minutes) => FlexibleTimeWindow::builder()
                .mode(FlexibleTimeWindowMode::Flexible)
                .maximum_window_in_minutes(i32::try_from(minutes).unwrap_or(i32::MAX)),
            None => FlexibleTimeWindow::builder().mode(FlexibleTimeWindowMode::Off),
        }
        .build()
        .map_err(|e| built("flexible window", e))?;
        let state = if enabled {
            ScheduleState::Enabled
        } else {
            ScheduleState::Disabled
        };
        Ok((target, window, state))
    }

    /// Deletes the job's schedule; one already gone is not a failure.
    pub async fn delete(&self, job: &str) -> Result<(), Failure> {
        match self
            .client
            .delete_schedule()
            .name(job)
            .group_name(&self.group.name)
            .send()
            .await
        {
            Ok(_) => Ok(()),
            Err(e)
                if e.as_service_error()
                    .is_some_and(|s| s.is_resource_not_found_exception()) =>
            {
                Ok(())
            }
            Err(e) => Err(self.failure(e)),
        }
    }
}

enum PutError {
    /// UpdateSchedule: there is no such schedule.
    Missing,
    /// CreateSchedule: the schedule exists.
    Exists,
    Failed(Failure),
}

fn description(job: &str) -> String {
    format!("ecs-reactor job {job} (managed by `ecs-reactor jobs apply`; edit the job file, not this schedule)")
}

/// A job file's `startDate` / `endDate` (`2027-01-01T00:00:00`, UTC) as Scheduler takes it.
fn date(
    job: &str,
    field: &str,
    text: Option<&str>,
) -> Result<Option<aws_smithy_types::DateTime>, PutError> {
    let Some(text) = text else { return Ok(None) };
    aws_smithy_types::DateTime::from_str(
        &format!("{text}Z"),
        aws_smithy_types::date_time::Format::DateTime,
    )
    .map(Some)
    .map_err(|e| {
        PutError::Failed(Failure::BadInput(format!(
            "job {job:?}: schedule.{field} {text:?} is not a date and time: {e}"
        )))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_schedule_sends_only_the_job_and_the_tick() {
        let input: serde_json::Value = serde_json::from_str(&tick_input("nightly")).unwrap();
        assert_eq!(
            input,
            serde_json::json!({"scheduledJob": "nightly", "scheduledTime": "<aws.scheduler.scheduled-time>"})
        );
        // What the starter reads it as, once Scheduler has put the tick in.
        let sent =
            tick_input("nightly").replace("<aws.scheduler.scheduled-time>", "2026-11-21T02:30:00Z");
        let now = time::macros::datetime!(2026-11-21 02:30:05 UTC);
        let read =
            reactor_core::request::starter_input(serde_json::from_str(&sent).unwrap(), "r", now)
                .unwrap();
        assert!(
            matches!(read, reactor_core::request::StarterInput::Tick(t) if t.run_id == "nightly-20261121T023000Z")
        );
    }
}
