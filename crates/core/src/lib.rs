//! The decision engine of ecs-reactor: pure functions from what happened to what to do next.
//!
//! No AWS SDK, no async, no clock and no randomness of its own: time and jitter are passed in, so every
//! decision can be replayed by `ecs-reactor explain` and checked by a table of cases.
//!
//! How it fits with the rest (the steps, the data flows, where to add a rule): `docs/ARCHITECTURE.md`.
//!
//! A map of the crate:
//! - [`event`]: the `ECS Task State Change` event, lenient about what ECS adds, exact about what we need.
//! - [`job`]: the job request (RunTask + retry policy), strictly validated with errors that name the field.
//! - [`jobfile`]: a job file of `jobs/`: the job request plus its `schedule`, every problem at once.
//! - [`timetable`]: when a schedule fires (AWS's cron dialect, rate, at; time zones and daylight saving time),
//!   and which tick should have a run by now (MISSED).
//! - [`guard`]: what a job may ask for in this deployment (task families, clusters, role overrides, size).
//! - [`policy`]: the retry policy (Step Functions field names, AWS Batch-style rules), backoff and jitter.
//! - [`builtin`]: the built-in rule table, what an experienced ECS operator knows about stopped tasks and
//!   failed launches.
//! - [`judge`]: **where a STOPPED task is judged** ([`judge::judge_stopped_task`]), where a failed launch is
//!   judged ([`judge::judge_launch`]), and where the run's budget turns a verdict into a decision
//!   ([`judge::decide`]).
//! - [`deadline`]: `timeoutSeconds` / `runTimeoutSeconds`: when an attempt must stop, and how its stop is
//!   recognised.
//! - [`memory`]: the bigger task size after an OutOfMemoryError (`retry.onOutOfMemory`, Fargate's sizes).
//! - [`request`]: what starts a run (a job request, or a schedule tick carrying one) and the run id it names.
//! - [`run`]: run and attempt identities (run id, clientToken, delay shard) and run statuses.
//! - [`secrets`]: the override values a run keeps sealed at rest (environment values, commands), split from the
//!   request and put back for a launch.
//! - [`transition`]: the run's life as one table: which event moves a run from which status to which; the
//!   store's conditions are derived from it.
//! - [`step`]: the pure half of the loop's steps: a verdict to the run's decision, and what the store writes after it.
//! - [`context`]: the run's identity in the container at launch (`ECS_REACTOR_*` variables, `{{scheduledDate}}`…).
//! - [`started_by`]: the `<namespace>/<run>/<attempt>` tag that ties a task to its stack and attempt.
//! - [`glob`]: the `*` patterns rules are written in; [`exit_codes`]: what `onExitCode` may say (numbers,
//!   ranges, lists, patterns).

pub mod builtin;
pub mod context;
pub mod deadline;
pub mod event;
pub mod exit_codes;
pub mod glob;
pub mod guard;
pub mod job;
pub mod jobfile;
pub mod judge;
pub mod memory;
pub mod policy;
pub mod request;
pub mod run;
pub mod secrets;
pub mod started_by;
pub mod step;
pub mod timetable;
pub mod transition;

#[cfg(test)]
mod robustness;

pub use event::{parse_task_state_change, EventError, StopCode, Task, TaskStateChangeEvent};
pub use guard::{Guard, GuardError};
pub use job::{Concurrency, JobError, JobRequest, NotifyOn, NotifyPolicy};
pub use judge::{
    decide, judge_launch, judge_stopped_task, run_deadline_passed, within_run_deadline, Decision,
    History, LaunchFailure, LaunchProblem, Verdict,
};
pub use policy::{Action, Jitter, JitterSource, RetryPolicy, Rule, SplitMix64, UpperBound};
pub use started_by::{AttemptRef, Namespace};
