//! The retry loop's steps, shared by the three Lambdas (and the CLI): start a run, launch an attempt, judge a
//! stopped task, fire a due retry, sweep, notify once.
//!
//! Every step is load → decide (with `reactor-core`) → apply (one conditional write) → log one line. A step
//! that finds its work already done (a duplicate delivery, a race lost to the TTL path or to a second
//! classifier) says so in its result instead of failing; it fails only when a retry of the invocation can
//! help (AWS did not answer, a write was throttled), so Lambda's own retries finish the job.
//!
//! Launches are guarded twice: the attempt is claimed by a conditional write before RunTask, and a launch that
//! takes a claim over (its claimer crashed, or AWS deferred it) first looks for a task already carrying the
//! attempt's `startedBy` (the earlier launch's), so a crash between RunTask and recording its task never starts a
//! second task. A launch under a claim it has just written skips the lookup: nothing can have launched it yet.
//!
//! One module per step, each an `impl Reactor` block:
//! - [`start`](start.rs): a request becomes a run (the guard, the job's lock for FORBID / REPLACE), then its launch.
//! - [`registered`](registered.rs): a registered job's tick: its spec from the registry, then `start`; a suspended
//!   job's tick recorded SKIPPED.
//! - [`launch`](launch.rs): an attempt's task started or adopted and recorded; a refused launch judged; resume.
//! - [`judge`](judge.rs): **a STOPPED task judged** and the decision applied, with the run's history.
//! - [`fire`](fire.rs): a due retry fired (TTL or sweep), an attempt stopped at its deadline.
//! - [`sweep`](sweep.rs): the one-minute sweep — due retries drained (paced, a few at once), launches left
//!   behind resumed, unpublished outcomes published, quiet RUNNING runs reconciled.
//! - [`notify`](notify.rs): metrics, retry notices, a finished run's outcome published once.
//! - [`operate`](operate.rs): cancel and redrive.
//! - [`outcome`](outcome.rs): the messages a run publishes (outcome, cancel, skip, retry notice).
//! - [`reconcile`](reconcile.rs): the sweep's check of quiet RUNNING runs against ECS, for STOPPED events lost
//!   upstream.
//! - [`sealed`](sealed.rs): a new run's override values sealed before it is written, opened for each launch.
//!
//! This file holds what they share: the reactor, its settings, the results of each step, and the small pure
//! helpers that map a decision to what the store writes and what is published.

use crate::launcher::{LaunchError, LaunchOutcome, Launcher};
use crate::metrics::{Metric, MetricSink};
use crate::notifier::{Event, Notifier, NotifyError, Outcome};
use crate::records::{
    stamp, status_key, AttemptItem, AttemptState, DeadlineItem, DelayItem, DueItem, JobItem,
    LockItem, RunItem,
};
use crate::retry_queue::RetryQueue;
use crate::store::{
    Applied, Changed, Claimed, Created, LaunchFacts, Next, Recorded, StopFacts, Store, StoreError,
};
use crate::vault::{Vault, VaultError};
use reactor_core::deadline::{attempt_deadline, run_deadline, stop_reason, DeadlineKind};
use reactor_core::judge::{
    judge_launch, judge_stopped_task, signature_of, stops_when_repeated, with_run_history,
    LaunchProblem, Verdict,
};
use reactor_core::run::{jitter_seed, RunStatus};
use reactor_core::step::{
    after_decision, deadline_counts_from, defers_launch, judgement, launch_backoff, AfterDecision,
    Leases, MAX_LAUNCH_DEFERRALS,
};
use reactor_core::{
    run_deadline_passed, Action, AttemptRef, Concurrency, Decision, Guard, GuardError, History,
    JobRequest, Namespace, NotifyOn, SplitMix64, Task,
};
use std::fmt;
use std::sync::Arc;
use time::OffsetDateTime;

/// Settings every step shares; read once from the environment by [`crate::config::Config`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Settings {
    /// Sweep partitions of the `byDue` index that writers spread new delay and deadline items over. The sweep
    /// reads these every minute and one more of the [`MAX_SWEEP_SHARDS`] in turn, so lowering this never
    /// strands an item written under the old count.
    pub sweep_shards: u32,
    /// How long a claimer has an attempt's launch to itself before someone else may resume it.
    pub launch_lease_seconds: i64,
    /// How long a publisher has a run's notification to itself.
    pub notify_lease_seconds: i64,
    /// Delay items read per shard and sweep.
    pub sweep_batch: i32,
    /// A RUNNING run with no change for this long is checked against ECS by the sweep (its STOPPED event may
    /// have been lost).
    pub reconcile_after_seconds: i64,
    /// Runs checked against ECS per sweep, at most (the bound on the reconciliation's work).
    pub reconcile_batch: i32,
    /// RunTask calls the sweep makes per second, at most: ECS's RunTask rate ("AWS Fargate throttling
    /// quotas": 20 calls a second, burst and sustained), so a drain never hammers a throttled API.
    pub launch_rate: u32,
    /// Retries the sweep fires at once (each a few DynamoDB calls and one RunTask).
    pub sweep_concurrency: usize,
    /// How long one sweep keeps draining due retries and deferred launches before it leaves the rest to the
    /// next (the scheduler function's timeout is longer).
    pub sweep_budget_seconds: u64,
    /// How far ahead a sweep looks for retries and deadlines coming due, waiting for them within its budget
    /// and firing each at its due time: a burst of retries due over the next minute starts as it comes due,
    /// not at the next sweep. 0 fires only what is due when the sweep reads.
    pub sweep_lookahead_seconds: u64,
}

/// The most sweep shards a stack may have (`SweepShards`' MaxValue). Beyond its own count the sweep reads one of
/// the others a minute, in turn, so that lowering `SweepShards` leaves no due item unread (reached within
/// `MAX_SWEEP_SHARDS - SweepShards` minutes) while a sweep costs one Query more than its shards.
pub const MAX_SWEEP_SHARDS: u32 = 64;

impl Default for Settings {
    fn default() -> Self {
        Settings {
            sweep_shards: 4,
            launch_lease_seconds: 120,
            notify_lease_seconds: 60,
            sweep_batch: 25,
            reconcile_after_seconds: 600,
            reconcile_batch: 100,
            launch_rate: 20,
            sweep_concurrency: 10,
            sweep_budget_seconds: 50,
            sweep_lookahead_seconds: 50,
        }
    }
}

/// The adapters and settings the steps run with; built once per Lambda container.
pub struct Reactor<S, L, N> {
    pub store: S,
    pub launcher: L,
    pub notifier: N,
    pub settings: Settings,
    /// What a job may ask for here; checked before a run is written.
    pub guard: Guard,
    /// Where each applied state change is counted (EMF lines in a Lambda).
    pub metrics: Arc<dyn MetricSink>,
    /// The stack's namespace: its tasks' `startedBy` begin with it, and only those are judged here.
    pub namespace: Namespace,
    /// Where override values are sealed at rest (`REACTOR_OVERRIDES_KEY`); without one they are stored as
    /// given, and each run that has some says so in a warning.
    pub vault: Option<Vault>,
    /// Where a retry due within 15 minutes is also sent, to be fired at its due second
    /// (`REACTOR_RETRY_QUEUE_URL`, `crate::retry_queue`); without one the sweep fires it.
    pub retry_queue: Option<RetryQueue>,
}

#[derive(Debug, thiserror::Error)]
pub enum FlowError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Launch(#[from] LaunchError),
    #[error(transparent)]
    Notify(#[from] NotifyError),
    /// The run's override values could not be sealed or opened. Not transparent: the vault's error stays in the
    /// source chain, where a caller finds it (and the AWS failure under it) like any other.
    #[error("{0}")]
    Vault(#[from] VaultError),
    /// Another invocation is publishing this run's outcome right now; retry to make sure it was published.
    #[error("run {0}: another invocation holds the notification; it is retried until published")]
    NotificationInProgress(String),
    /// The run item holds a job request this version cannot read.
    #[error("run {run_id}: stored job request unreadable: {message}")]
    CorruptRun { run_id: String, message: String },
    /// The job asks for something this deployment does not allow; nothing was written.
    #[error(transparent)]
    NotAllowed(#[from] GuardError),
    /// The run id (a job's tick, or an idempotency key) names a run started with a different job request.
    #[error("run {run_id} exists with a different job request: refused, nothing written (a tick or an idempotency key names one run; change the job for a later tick, or start with another key)")]
    Conflict { run_id: String },
    /// A registered job's tick names a job the registry does not hold; nothing was written.
    #[error("job {job:?} is not registered: its schedule outlived it, or its file was never applied (ecs-reactor jobs apply DIR registers it; --prune deletes a schedule without a file); nothing written")]
    NotRegistered { job: String },
    /// The registry holds a spec for the job this release cannot read; nothing was written.
    #[error("registered job {job:?} cannot be read: {message}; apply its file again (ecs-reactor jobs apply)")]
    UnreadableJob { job: String, message: String },
}

impl FlowError {
    /// Whether retrying the invocation can help (the error is transient) rather than repeat the failure.
    pub fn is_retryable(&self) -> bool {
        match self {
            FlowError::Store(e) => e.is_retryable() || e.is_conditional_check_failed(),
            FlowError::Launch(LaunchError::Unanswered(_)) => true,
            FlowError::Launch(LaunchError::Invalid(_)) => false,
            FlowError::Notify(_) | FlowError::NotificationInProgress(_) => true,
            FlowError::Vault(e) => e.is_retryable(),
            FlowError::CorruptRun { .. }
            | FlowError::NotAllowed(_)
            | FlowError::Conflict { .. }
            | FlowError::NotRegistered { .. }
            | FlowError::UnreadableJob { .. } => false,
        }
    }
}

/// How a launch ended.
#[derive(Debug, Clone, PartialEq)]
pub enum Launch {
    /// The attempt's task runs: started now, or adopted (an earlier launch of the attempt had started it).
    Started {
        attempt: u32,
        task_arn: String,
        adopted: bool,
    },
    /// RunTask started no task; the failure was judged (retry later, or the run failed).
    Refused {
        attempt: u32,
        decision: Box<Decision>,
        applied: Applied,
    },
    /// AWS refused the launch for reasons of its own (RunTask throttled, a server error): the attempt keeps its
    /// number, and the sweep launches it again from `retry_at`.
    Deferred {
        attempt: u32,
        retry_at: OffsetDateTime,
        reason: String,
    },
    /// The run was cancelled while this attempt was being launched: its task was stopped again.
    Overtaken {
        attempt: u32,
        task_arn: String,
        status: RunStatus,
    },
}

/// What a cancel request did.
#[derive(Debug, Clone, PartialEq)]
pub enum Cancel {
    /// The run is cancelled now; `was` is the status it had. `stopped_task` is the task stopped on request.
    Cancelled {
        was: RunStatus,
        attempt: u32,
        stopped_task: Option<String>,
    },
    /// It was cancelled already (a repeated request); a requested stop was repeated.
    AlreadyCancelled {
        attempt: u32,
        stopped_task: Option<String>,
    },
    /// It had finished (SUCCEEDED or FAILED): nothing to cancel.
    Finished(RunStatus),
    Unknown,
}

/// What a redrive request did.
#[derive(Debug, Clone, PartialEq)]
pub enum Redrive {
    /// The run has a new attempt, launched (or judged at once, if ECS refused it).
    Redriven {
        attempt: u32,
        launch: Launch,
    },
    /// Only a FAILED or CANCELLED run can be redriven; the run is in this status.
    NotRedrivable(RunStatus),
    /// `concurrency` FORBID or REPLACE, and this unfinished run holds the job: it has to end (or be cancelled)
    /// first.
    Blocked {
        holder: String,
        status: RunStatus,
    },
    Unknown,
}

/// How a start request ended.
#[derive(Debug, Clone, PartialEq)]
pub enum Started {
    New {
        run_id: String,
        launch: Launch,
    },
    /// The run exists already (a duplicate tick or request); its launch was resumed if it had been interrupted.
    Duplicate {
        run_id: String,
        resumed: Option<Launch>,
    },
    /// `concurrency: FORBID` and run `blocked_by` of the job is unfinished: recorded as SKIPPED, not launched.
    Skipped {
        run_id: String,
        blocked_by: String,
    },
    /// A registered job's tick not run (the job suspended, its schedule DISABLED): recorded as SKIPPED.
    NotRun {
        run_id: String,
        reason: String,
    },
}

/// What the classifier did with a STOPPED event.
#[derive(Debug, Clone, PartialEq)]
pub enum Judged {
    Applied {
        run_id: String,
        attempt: u32,
        decision: Box<Decision>,
        /// The next attempt's launch, for RETRY_NOW.
        launch: Option<Launch>,
    },
    /// The attempt was judged already (a duplicate or an older event).
    Duplicate { run_id: String, attempt: u32 },
    /// The run has moved on (another attempt is current, the run finished or was cancelled).
    Stale { run_id: String, attempt: u32 },
    /// The task carries an attempt of a run this table does not know.
    Unknown { run_id: String, attempt: u32 },
    /// The attempt has a different task: a stray task of the same attempt.
    OtherTask { run_id: String, attempt: u32 },
}

/// What firing a due retry did.
#[derive(Debug, Clone, PartialEq)]
pub enum Fired {
    Launched(Launch),
    /// TTL and sweep both fired, or a redelivery: the retry was claimed already.
    AlreadyClaimed,
    /// The run no longer waits for this retry (cancelled, redriven, unknown): the delay item was discarded.
    Stale,
    /// The retry is not due yet (a replayed or forged TTL record): nothing done; the sweep fires it when due.
    NotDue,
}

/// What the sweep did about a task past its deadline.
#[derive(Debug, Clone, PartialEq)]
pub enum Enforced {
    /// The task was stopped; its STOPPED event will be judged as a timeout.
    Stopped {
        task_arn: String,
        kind: DeadlineKind,
    },
    /// The attempt had ended (or the run moved on): nothing to stop.
    Stale,
}

/// Totals of one sweep.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Swept {
    pub due: usize,
    pub launched: usize,
    pub already_claimed: usize,
    pub stale: usize,
    pub resumed: usize,
    /// Tasks stopped at their deadline (`timeoutSeconds` / `runTimeoutSeconds`).
    pub timed_out: usize,
    /// Runs judged from DescribeTasks because their STOPPED event never arrived.
    pub reconciled: usize,
    /// Outcomes published by the sweep because their first publisher never recorded them.
    pub republished: usize,
    /// Launches AWS refused again (throttled, a server error): deferred once more.
    pub deferred: usize,
    /// Registered jobs' ticks that started no run, noticed now (MISSED).
    pub missed: usize,
    pub failed: usize,
}

impl fmt::Display for Swept {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} due, {} launched, {} already claimed, {} stale, {} interrupted launches resumed, {} launches deferred again, {} stopped at their deadline, {} judged after a lost event, {} outcomes published late, {} ticks missed, {} failed",
            self.due, self.launched, self.already_claimed, self.stale, self.resumed, self.deferred, self.timed_out, self.reconciled, self.republished, self.missed, self.failed
        )
    }
}

/// How the caller of [`Reactor::launch`] holds the attempt's claim.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ClaimOf {
    /// Written just now by the caller's own conditional write: no task can carry the attempt's `startedBy` yet
    /// (launching it needs this claim), so there is nothing to adopt and no ListTasks to ask.
    New,
    /// Taken over from a launch that was interrupted or deferred: its RunTask may have started a task.
    TakenOver,
}

/// How a run of a job with `concurrency` FORBID or REPLACE got past the job's lock.
enum Exclusive {
    Created(Created),
    /// FORBID: this unfinished run holds the job.
    Skip(Box<RunItem>),
}

/// When the run's deadline counts from (`reactor_core::step::deadline_counts_from`).
fn run_started_at(run: &RunItem) -> i64 {
    deadline_counts_from(
        run.created_at.unix_timestamp(),
        run.redriven_at.map(|t| t.unix_timestamp()),
    )
}

fn job_of(run: &RunItem) -> Result<JobRequest, FlowError> {
    JobRequest::from_json(&run.request).map_err(|e| FlowError::CorruptRun {
        run_id: run.run_id.clone(),
        message: e.to_string(),
    })
}

/// What follows a decision (planned by `reactor_core::step::after_decision`), as the store writes it.
fn next_step(
    decision: &Decision,
    job: &JobRequest,
    (run_id, attempt): (&str, u32),
    now: OffsetDateTime,
    (settings, namespace): (&Settings, &Namespace),
    at: OffsetDateTime,
) -> Next {
    let leases = Leases {
        launch_seconds: settings.launch_lease_seconds,
        notify_seconds: settings.notify_lease_seconds,
    };
    match after_decision(decision, job, attempt, now.unix_timestamp(), leases) {
        AfterDecision::Close {
            status,
            notify_lease_until,
        } => Next::Close {
            status,
            notify_lease_until,
        },
        AfterDecision::LaunchNow {
            attempt,
            lease_until,
        } => Next::RetryNow(Box::new(AttemptItem::claim(
            namespace,
            run_id,
            attempt,
            at,
            lease_until,
        ))),
        AfterDecision::LaunchAt { attempt, due_at } => Next::RetryLater(DelayItem::new(
            run_id,
            attempt,
            due_at,
            settings.sweep_shards,
        )),
    }
}

fn log_decision(
    job: &str,
    run_id: &str,
    attempt: u32,
    task: Option<&str>,
    decision: &Decision,
    applied: Applied,
) {
    tracing::info!(
        job,
        run = run_id,
        attempt,
        task = task.unwrap_or("-"),
        action = decision.action.as_str(),
        rule = decision.rule_id.as_str(),
        delay_seconds = decision.delay_seconds,
        applied = ?applied,
        reason = decision.reason.as_str(),
        "decision"
    );
}

mod fire;
mod judge;
mod launch;
mod missed;
mod notify;
mod operate;
mod outcome;
mod reconcile;
mod registered;
mod sealed;
pub use sealed::{open_registered, seal_spec};
mod start;
mod sweep;

pub use missed::MissedTicks;
use outcome::{cancelled_outcome, decision_of, outcome_of, retry_outcome, skipped_outcome};
pub use reconcile::Reconciled;
pub use start::StartResponse;

fn stop_facts(task: &Task) -> Result<StopFacts, FlowError> {
    Ok(StopFacts {
        task_arn: Some(task.task_arn.clone()),
        started_at: task.started_at,
        stopped_at: task.stopped_at,
        stop_code: task.stop_code.as_ref().map(|c| c.as_str().to_owned()),
        stopped_reason: task.stopped_reason.clone(),
        containers: task
            .containers
            .iter()
            .map(|c| crate::records::ContainerEnd {
                name: c.name.clone(),
                exit_code: c.exit_code,
                reason: c.reason.clone(),
            })
            .collect(),
        event_version: Some(task.version),
        size: task.size(),
        had_deadline: false,
    })
}
