//! The retry loop's steps, shared by the three Lambdas (and the CLI): start a run, launch an attempt, judge a
//! stopped task, fire a due retry, sweep, notify once.
//!
//! Every step is load → decide (with `reactor-core`) → apply (one conditional write) → log one line. A step
//! that finds its work already done (a duplicate delivery, a race lost to the TTL path or to a second
//! classifier) says so in its result instead of failing; it fails only when a retry of the invocation can
//! help (AWS did not answer, a write was throttled), so Lambda's own retries finish the job.
//!
//! Launches are guarded twice: the attempt is claimed by a conditional write before RunTask, and RunTask is
//! preceded by a lookup of a task already carrying the attempt's `startedBy` (an earlier, interrupted launch of
//! the same attempt), so a crash between RunTask and recording its task never starts a second task.

use crate::launcher::{LaunchError, LaunchOutcome, Launcher};
use crate::metrics::{Metric, MetricSink};
use crate::notifier::{Event, Notifier, NotifyError, Outcome};
use crate::records::{
    status_key, AttemptItem, AttemptState, DeadlineItem, DelayItem, DueItem, LockItem, RunItem,
};
use crate::store::{
    Applied, Changed, Claimed, Created, LaunchFacts, Next, Recorded, StopFacts, Store, StoreError,
};
use reactor_core::deadline::{attempt_deadline, run_deadline, stop_reason, DeadlineKind};
use reactor_core::judge::{
    judge_launch, judge_stopped_task, signature_of, stops_when_repeated, with_run_history,
    LaunchProblem, Verdict,
};
use reactor_core::run::{jitter_seed, RunStatus};
use reactor_core::{
    decide, run_deadline_passed, within_run_deadline, Action, AttemptRef, Concurrency, Decision,
    Guard, GuardError, History, JobRequest, NotifyOn, SplitMix64, Task,
};
use std::fmt;
use std::sync::Arc;
use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;

/// Settings every step shares; read once from the environment by [`crate::config::Config`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Settings {
    /// Sweep partitions of the `byDue` index. Writers and the sweep must agree.
    pub sweep_shards: u32,
    /// How long a claimer has an attempt's launch to itself before someone else may resume it.
    pub launch_lease_seconds: i64,
    /// How long a publisher has a run's notification to itself.
    pub notify_lease_seconds: i64,
    /// Delay items read per shard and sweep.
    pub sweep_batch: i32,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            sweep_shards: 4,
            launch_lease_seconds: 120,
            notify_lease_seconds: 60,
            sweep_batch: 25,
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
}

#[derive(Debug, thiserror::Error)]
pub enum FlowError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Launch(#[from] LaunchError),
    #[error(transparent)]
    Notify(#[from] NotifyError),
    /// Another invocation is publishing this run's outcome right now; retry to make sure it was published.
    #[error("run {0}: another invocation holds the notification; it is retried until published")]
    NotificationInProgress(String),
    /// The run item holds a job request this version cannot read.
    #[error("run {run_id}: stored job request unreadable: {message}")]
    CorruptRun { run_id: String, message: String },
    #[error("the clock cannot be formatted: {0}")]
    Clock(String),
    /// The job asks for something this deployment does not allow; nothing was written.
    #[error(transparent)]
    NotAllowed(#[from] GuardError),
}

impl FlowError {
    /// Whether retrying the invocation can help (the error is transient) rather than repeat the failure.
    pub fn is_retryable(&self) -> bool {
        match self {
            FlowError::Store(e) => e.is_retryable() || e.is_conditional_check_failed(),
            FlowError::Launch(LaunchError::Unanswered(_)) => true,
            FlowError::Launch(LaunchError::Invalid(_)) => false,
            FlowError::Notify(_) | FlowError::NotificationInProgress(_) => true,
            FlowError::CorruptRun { .. } | FlowError::Clock(_) | FlowError::NotAllowed(_) => false,
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
    pub failed: usize,
}

impl fmt::Display for Swept {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} due, {} launched, {} already claimed, {} stale, {} interrupted launches resumed, {} stopped at their deadline, {} failed",
            self.due, self.launched, self.already_claimed, self.stale, self.resumed, self.timed_out, self.failed
        )
    }
}

/// How a run of a job with `concurrency` FORBID or REPLACE got past the job's lock.
enum Exclusive {
    Created(Created),
    /// FORBID: this unfinished run holds the job.
    Skip(Box<RunItem>),
}

/// Epoch seconds of an RFC 3339 stamp from the table.
fn epoch_of(stamp: &str) -> Option<i64> {
    OffsetDateTime::parse(stamp, &Rfc3339)
        .ok()
        .map(|t| t.unix_timestamp())
}

/// When the run's deadline counts from: its start, or its latest redrive (which grants a fresh deadline).
fn run_started_at(run: &RunItem) -> i64 {
    run.redriven_at
        .as_deref()
        .and_then(epoch_of)
        .or_else(|| epoch_of(&run.created_at))
        .unwrap_or(0)
}

/// Seconds from `now` to the run's deadline, if the job has one.
fn run_seconds_left(job: &JobRequest, run: &RunItem, now: OffsetDateTime) -> Option<i64> {
    run_deadline(job, run_started_at(run)).map(|d| d.at - now.unix_timestamp())
}

/// What a run's status is published as, and whether the job wants it.
fn notify_on(status: RunStatus) -> Option<NotifyOn> {
    match status {
        RunStatus::Succeeded => Some(NotifyOn::Succeeded),
        RunStatus::Failed => Some(NotifyOn::Failed),
        RunStatus::Cancelled => Some(NotifyOn::Cancelled),
        RunStatus::Skipped => Some(NotifyOn::Skipped),
        _ => None,
    }
}

fn wants(job: &JobRequest, status: RunStatus) -> bool {
    notify_on(status).is_some_and(|on| job.notifies(on))
}

/// RFC 3339 with seconds, as every time in the table is written.
pub fn stamp(t: OffsetDateTime) -> Result<String, FlowError> {
    t.replace_nanosecond(0)
        .unwrap_or(t)
        .format(&Rfc3339)
        .map_err(|e| FlowError::Clock(e.to_string()))
}

fn job_of(run: &RunItem) -> Result<JobRequest, FlowError> {
    JobRequest::from_json(&run.request).map_err(|e| FlowError::CorruptRun {
        run_id: run.run_id.clone(),
        message: e.to_string(),
    })
}

/// What follows a decision, as the store writes it. A run that ends and is to be announced is closed with the
/// right to publish its outcome already taken (one write fewer than claiming it afterwards).
fn next_step(
    decision: &Decision,
    job: &JobRequest,
    (run_id, attempt): (&str, u32),
    now: OffsetDateTime,
    settings: &Settings,
    at: &str,
) -> Next {
    let next = decision.next_attempt.unwrap_or(attempt + 1);
    let epoch = now.unix_timestamp();
    let close = |status| Next::Close {
        status,
        notify_lease_until: wants(job, status).then_some(epoch + settings.notify_lease_seconds),
    };
    match decision.action {
        Action::Succeed => close(RunStatus::Succeeded),
        Action::Fail => close(RunStatus::Failed),
        Action::RetryNow => Next::RetryNow(Box::new(AttemptItem::claim(
            run_id,
            next,
            at,
            epoch + settings.launch_lease_seconds,
        ))),
        Action::RetryLater => Next::RetryLater(DelayItem::new(
            run_id,
            next,
            epoch + i64::from(decision.delay_seconds.unwrap_or(0)),
            settings.sweep_shards,
        )),
    }
}

fn log_decision(
    run_id: &str,
    attempt: u32,
    task: Option<&str>,
    decision: &Decision,
    applied: Applied,
) {
    tracing::info!(
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

impl<S: Store, L: Launcher, N: Notifier> Reactor<S, L, N> {
    /// Starts a run of a validated job: checks it against the deployment's guard, records the run with
    /// attempt 1 claimed (once, however often the same run id is delivered), then launches it.
    pub async fn start(
        &self,
        job: &JobRequest,
        run_id: &str,
        now: OffsetDateTime,
    ) -> Result<Started, FlowError> {
        let at = stamp(now)?;
        let request = serde_json::to_string(job).map_err(|e| FlowError::CorruptRun {
            run_id: run_id.into(),
            message: e.to_string(),
        })?;
        // The request as stored is what must stay small; the guard sees it before anything is written.
        self.guard.check(job, request.len())?;
        let essentials = match &job.essential_containers {
            Some(names) => Some(names.clone()),
            // Best effort: without them every container counts, which the classifier can still refine from
            // the event's exact task definition.
            None => match self
                .launcher
                .essential_containers(&job.run_task.task_definition)
                .await
            {
                Ok(names) if !names.is_empty() => Some(names),
                Ok(_) => None,
                Err(e) => {
                    tracing::warn!(run = run_id, error = %e, "essential containers unknown for now");
                    None
                }
            },
        };
        let mut run = RunItem::new(run_id, &job.job, request, essentials, &at);
        let first = AttemptItem::claim(
            run_id,
            1,
            &at,
            now.unix_timestamp() + self.settings.launch_lease_seconds,
        );
        let created = if job.concurrency.is_allow() {
            self.store.create_run(&run, &first).await?
        } else {
            match self.create_exclusive(job, &mut run, &first, &at).await? {
                Exclusive::Created(created) => created,
                Exclusive::Skip(holder) => return self.skip(job, run, &holder, now).await,
            }
        };
        match created {
            Created::New => {
                tracing::info!(
                    run = run_id,
                    job = job.job.as_str(),
                    attempt = 1,
                    replaces = run.replaces.as_deref(),
                    "run created"
                );
                self.metrics.record(&job.job, Metric::RunStarted);
                if let Some(predecessor) = &run.replaces {
                    self.replace(run_id, predecessor, now).await?;
                }
                let launch = self.launch(&run, job, 1, now).await?;
                Ok(Started::New {
                    run_id: run_id.into(),
                    launch,
                })
            }
            Created::AlreadyExists | Created::LockTaken => {
                tracing::info!(run = run_id, "duplicate start: the run exists already");
                let resumed = self.resume(run_id, now).await?;
                Ok(Started::Duplicate {
                    run_id: run_id.into(),
                    resumed,
                })
            }
        }
    }

    /// `concurrency` FORBID / REPLACE: creates the run as the holder of the job's lock. The lock is taken
    /// over only from the run the caller saw holding it (finished, or to be replaced), in the same
    /// transaction as the run, so two ticks racing for the job cannot both start.
    async fn create_exclusive(
        &self,
        job: &JobRequest,
        run: &mut RunItem,
        first: &AttemptItem,
        at: &str,
    ) -> Result<Exclusive, FlowError> {
        let lock = LockItem::new(&job.job, &run.run_id, at);
        for _ in 0..4 {
            let holder = self.store.job_lock(&job.job).await?.map(|l| l.run_id);
            run.replaces = None;
            if let Some(holder) = &holder {
                if *holder == run.run_id {
                    // A duplicate of the tick that holds the job.
                    return Ok(Exclusive::Created(Created::AlreadyExists));
                }
                if let Some(unfinished) = self
                    .store
                    .run(holder)
                    .await?
                    .filter(|r| !r.status.is_terminal())
                {
                    if job.concurrency == Concurrency::Forbid {
                        return Ok(Exclusive::Skip(Box::new(unfinished)));
                    }
                    run.replaces = Some(holder.clone());
                }
            }
            match self
                .store
                .create_locked_run(run, first, &lock, holder.as_deref())
                .await?
            {
                Created::LockTaken => continue,
                created => return Ok(Exclusive::Created(created)),
            }
        }
        Err(FlowError::Store(StoreError::ConditionFailed(format!(
            "job {}: its lock kept changing while run {} was being created",
            job.job, run.run_id
        ))))
    }

    /// `concurrency: FORBID`: records the run as SKIPPED (once), so `runs` shows the tick that did not run.
    async fn skip(
        &self,
        job: &JobRequest,
        mut run: RunItem,
        holder: &RunItem,
        now: OffsetDateTime,
    ) -> Result<Started, FlowError> {
        let at = stamp(now)?;
        run.status = RunStatus::Skipped;
        run.attempt = 0;
        run.skipped_for = Some(holder.run_id.clone());
        run.last_rule_id = Some("concurrency-forbid".into());
        run.last_rule = Some(format!(
            "concurrency FORBID: run {} of the job is {}",
            holder.run_id, holder.status
        ));
        run.by_status_pk = status_key(RunStatus::Skipped);
        run.by_status_sk = format!("{at}#{}", run.run_id);
        let created = self.store.record_skipped(&run).await?;
        tracing::info!(
            run = run.run_id.as_str(),
            job = job.job.as_str(),
            blocked_by = holder.run_id.as_str(),
            action = "SKIP",
            rule = "concurrency-forbid",
            duplicate = created != Created::New,
            "run skipped: another run of the job is unfinished"
        );
        if created == Created::New {
            self.metrics.record(&job.job, Metric::RunSkipped);
        }
        if wants(job, RunStatus::Skipped) {
            let outcome = Outcome {
                event: Event::RunSkipped,
                run_id: run.run_id.clone(),
                job: run.job.clone(),
                status: RunStatus::Skipped.as_str().into(),
                attempts: 0,
                rule_id: "concurrency-forbid".into(),
                rule: run.last_rule.clone().unwrap_or_default(),
                reason: format!(
                    "not started: run {} of the job is {} (concurrency FORBID)",
                    holder.run_id, holder.status
                ),
                task_arn: None,
                hint: None,
                next_retry_at: None,
                memory_mib: None,
            };
            self.notify_once(&outcome, now).await?;
        }
        Ok(Started::Skipped {
            run_id: run.run_id,
            blocked_by: holder.run_id.clone(),
        })
    }

    /// `concurrency: REPLACE`: cancels the run this one replaces and stops its task, before this run's first
    /// launch. Repeated on resume (cancelling is idempotent), so a crash in between still replaces it.
    async fn replace(
        &self,
        run_id: &str,
        predecessor: &str,
        now: OffsetDateTime,
    ) -> Result<(), FlowError> {
        let by = format!("ecs-reactor (replaced by run {run_id}, concurrency REPLACE)");
        let cancelled = self.cancel(predecessor, &by, true, now).await?;
        tracing::info!(
            run = run_id,
            replaced = predecessor,
            action = "REPLACE",
            result = ?cancelled,
            "the job's unfinished run was cancelled for this one"
        );
        Ok(())
    }

    /// Launches attempt `attempt` of `run`, claimed by the caller. A task already carrying the attempt's
    /// `startedBy` is adopted; a refused launch is judged like a stopped task and its decision applied.
    pub async fn launch(
        &self,
        run: &RunItem,
        job: &JobRequest,
        attempt: u32,
        now: OffsetDateTime,
    ) -> Result<Launch, FlowError> {
        let (mut attempt, mut disruptions) = (attempt, run.disruptions);
        // After an OutOfMemoryError under retry.onOutOfMemory, attempts launch at the size chosen then.
        let sized;
        let job = match run.task_size {
            Some(size) => {
                sized = job.with_size(size);
                &sized
            }
            None => job,
        };
        let seconds_left = run_seconds_left(job, run, now);
        // A refused launch judged RETRY_NOW is launched again here; `decide` bounds how often.
        loop {
            let at = stamp(now)?;
            let attempt_ref = AttemptRef {
                run_id: run.run_id.clone(),
                attempt,
            };
            let started_by = attempt_ref.to_string();
            let cluster = job.run_task.cluster.as_deref();
            if let Some(task_arn) = self.launcher.find_task(cluster, &started_by).await? {
                return self.started(run, job, attempt, task_arn, now, true).await;
            }
            let verdict = match (seconds_left, job.run_timeout_seconds) {
                // A retry that fired after the run's deadline (TTL is late) is not launched.
                (Some(left), Some(limit)) if left <= 0 => run_deadline_passed(limit),
                _ => {
                    let token = reactor_core::run::client_token(&attempt_ref);
                    match self.launcher.run_task(job, &attempt_ref, &token).await? {
                        LaunchOutcome::Started { task_arn } => {
                            return self.started(run, job, attempt, task_arn, now, false).await;
                        }
                        LaunchOutcome::NotStarted { failures } => {
                            judge_launch(LaunchProblem::Failures(&failures))
                        }
                        LaunchOutcome::Refused { code, message } => {
                            judge_launch(LaunchProblem::ApiError {
                                code: &code,
                                message: &message,
                            })
                        }
                    }
                }
            };
            let history = History {
                attempt,
                disruptions,
                counts_from: run.counts_from,
            };
            let mut jitter = SplitMix64(jitter_seed(&attempt_ref));
            let decision = within_run_deadline(
                decide(verdict, history, &job.retry, &mut jitter),
                seconds_left,
            );
            let facts = StopFacts {
                stopped_reason: Some(decision.verdict.evidence.chars().take(1000).collect()),
                ..StopFacts::default()
            };
            let next = next_step(
                &decision,
                job,
                (&run.run_id, attempt),
                now,
                &self.settings,
                &at,
            );
            let applied = self
                .store
                .apply_decision(&run.run_id, attempt, &facts, &decision, &next, &at)
                .await?;
            log_decision(&run.run_id, attempt, None, &decision, applied);
            if applied == Applied::Applied {
                self.count_decision(&run.job, &decision);
            }
            if applied == Applied::Applied && decision.action.is_retry() {
                self.notify_retry(run, job, attempt, &decision, None, &next, now)
                    .await?;
            }
            match (&next, applied) {
                (Next::RetryNow(claim), Applied::Applied) => {
                    if !decision.counts_as_attempt {
                        disruptions += 1;
                    }
                    attempt = claim.attempt;
                    continue;
                }
                (
                    Next::Close {
                        status,
                        notify_lease_until: Some(_),
                    },
                    Applied::Applied,
                ) => {
                    let outcome = outcome_of(run, *status, attempt, &decision, None);
                    self.publish(&outcome, now).await?;
                }
                _ => {}
            }
            return Ok(Launch::Refused {
                attempt,
                decision: Box::new(decision),
                applied,
            });
        }
    }

    /// Records the attempt's task (adopted or just started) and logs the launch. A task whose run was
    /// cancelled while it was being launched is stopped at once: a cancelled run launches nothing.
    async fn started(
        &self,
        run: &RunItem,
        job: &JobRequest,
        attempt: u32,
        task_arn: String,
        now: OffsetDateTime,
        adopted: bool,
    ) -> Result<Launch, FlowError> {
        let (run_id, cluster, at) = (
            run.run_id.as_str(),
            job.run_task.cluster.as_deref(),
            stamp(now)?,
        );
        let facts = LaunchFacts {
            size: run.task_size,
            deadline: attempt_deadline(job, now.unix_timestamp(), run_started_at(run)).map(|d| {
                DeadlineItem::new(run_id, attempt, &task_arn, &d, self.settings.sweep_shards)
            }),
        };
        if let Recorded::RunMovedOn(run) = self
            .store
            .record_launch(run_id, attempt, &task_arn, &at, &facts)
            .await?
        {
            let reason = format!(
                "ecs-reactor: run {run_id} was {} while attempt {attempt} was being launched",
                match run.status {
                    RunStatus::Cancelled => "cancelled",
                    _ => "moved on",
                }
            );
            self.launcher.stop_task(cluster, &task_arn, &reason).await?;
            tracing::warn!(
                run = run_id,
                attempt,
                task = task_arn.as_str(),
                run_status = run.status.as_str(),
                action = "STOPPED",
                "the run moved on during the launch; its task was stopped"
            );
            return Ok(Launch::Overtaken {
                attempt,
                task_arn,
                status: run.status,
            });
        }
        tracing::info!(
            run = run_id,
            attempt,
            task = task_arn.as_str(),
            action = if adopted { "ADOPTED" } else { "LAUNCHED" },
            "launch"
        );
        if !adopted {
            self.metrics.record(&run.job, Metric::AttemptLaunched);
        }
        Ok(Launch::Started {
            attempt,
            task_arn,
            adopted,
        })
    }

    /// Resumes a run whose launch was interrupted: if it is LAUNCHING an attempt still CLAIMED and the
    /// claimer's lease ran out, take the lease and launch. Also publishes a finished run's outcome if that
    /// was interrupted. `None` when there was nothing to resume.
    pub async fn resume(
        &self,
        run_id: &str,
        now: OffsetDateTime,
    ) -> Result<Option<Launch>, FlowError> {
        let Some(run) = self.store.run(run_id).await? else {
            return Ok(None);
        };
        if run.status.is_terminal()
            && matches!(run.status, RunStatus::Succeeded | RunStatus::Failed)
            && run.notified_at.is_none()
        {
            if !wants(&job_of(&run)?, run.status) {
                return Ok(None);
            }
            if let Some(last) = self.store.attempt(run_id, run.attempt).await? {
                let decision = decision_of(&last);
                let outcome = outcome_of(
                    &run,
                    run.status,
                    run.attempt,
                    &decision,
                    last.task_arn.as_deref(),
                );
                self.notify_once(&outcome, now).await?;
            }
            return Ok(None);
        }
        if run.status != RunStatus::Launching {
            return Ok(None);
        }
        if let (Some(predecessor), true) = (&run.replaces, run.attempt == 1) {
            // The invocation that created this run may have crashed before cancelling the one it replaces.
            self.replace(run_id, predecessor, now).await?;
        }
        let epoch = now.unix_timestamp();
        let taken = self
            .store
            .take_launch(
                run_id,
                run.attempt,
                epoch,
                epoch + self.settings.launch_lease_seconds,
            )
            .await?;
        if !taken {
            return Ok(None);
        }
        tracing::info!(
            run = run_id,
            attempt = run.attempt,
            action = "RESUME",
            "interrupted launch resumed"
        );
        let job = job_of(&run)?;
        Ok(Some(self.launch(&run, &job, run.attempt, now).await?))
    }

    /// Judges a STOPPED task of ours and applies the decision. `event_version` orders duplicates.
    pub async fn judge_stop(
        &self,
        task: &Task,
        attempt_ref: &AttemptRef,
        now: OffsetDateTime,
    ) -> Result<Judged, FlowError> {
        let (run_id, n) = (attempt_ref.run_id.as_str(), attempt_ref.attempt);
        let ids = || (run_id.to_owned(), n);
        let (Some(run), Some(attempt)) = (
            self.store.run(run_id).await?,
            self.store.attempt(run_id, n).await?,
        ) else {
            tracing::warn!(
                run = run_id,
                attempt = n,
                task = task.task_arn.as_str(),
                "no such run or attempt in the table; event dropped"
            );
            return Ok(Judged::Unknown {
                run_id: ids().0,
                attempt: n,
            });
        };
        if attempt.state == AttemptState::Decided {
            if attempt.action.is_some_and(Action::is_retry) && attempt.notified_at.is_none() {
                // The invocation that decided it may have failed publishing the retry notice.
                let job = job_of(&run)?;
                if job.notifies(NotifyOn::Retrying) {
                    let outcome = retry_outcome(&run, &attempt, &decision_of(&attempt));
                    self.notifier.notify(&outcome).await?;
                    self.store
                        .mark_attempt_notified(run_id, n, &stamp(now)?)
                        .await?;
                }
            }
            tracing::info!(
                run = run_id,
                attempt = n,
                task = task.task_arn.as_str(),
                version = task.version,
                judged_version = attempt.event_version,
                "duplicate: attempt judged already"
            );
            // The invocation that judged it may have been interrupted before publishing or launching.
            self.resume(run_id, now).await?;
            return Ok(Judged::Duplicate {
                run_id: ids().0,
                attempt: n,
            });
        }
        if attempt
            .task_arn
            .as_deref()
            .is_some_and(|arn| arn != task.task_arn)
        {
            tracing::warn!(
                run = run_id,
                attempt = n,
                task = task.task_arn.as_str(),
                attempt_task = attempt.task_arn.as_deref(),
                "a second task of the attempt stopped; not judged"
            );
            return Ok(Judged::OtherTask {
                run_id: ids().0,
                attempt: n,
            });
        }
        if run.attempt != n || !run.status.accepts_stop() {
            tracing::info!(
                run = run_id,
                attempt = n,
                task = task.task_arn.as_str(),
                run_status = run.status.as_str(),
                run_attempt = run.attempt,
                "stale: the run has moved on"
            );
            return Ok(Judged::Stale {
                run_id: ids().0,
                attempt: n,
            });
        }
        let job = job_of(&run)?;
        let essentials = match (&job.essential_containers, &run.essential_containers) {
            (Some(names), _) | (None, Some(names)) => Some(names.clone()),
            (None, None) => self
                .launcher
                .essential_containers(&task.task_definition_arn)
                .await
                .ok()
                .filter(|names| !names.is_empty()),
        };
        let verdict = judge_stopped_task(task, &job.retry, essentials.as_deref());
        let verdict = self.with_history(verdict, task, &run, n, &job).await?;
        let history = History {
            attempt: n,
            disruptions: run.disruptions,
            counts_from: run.counts_from,
        };
        let mut jitter = SplitMix64(jitter_seed(attempt_ref));
        let decision = within_run_deadline(
            decide(verdict, history, &job.retry, &mut jitter),
            run_seconds_left(&job, &run, now),
        );
        let at = stamp(now)?;
        let next = next_step(&decision, &job, (run_id, n), now, &self.settings, &at);
        let mut facts = stop_facts(task)?;
        facts.had_deadline = job.timeout_seconds.is_some() || job.run_timeout_seconds.is_some();
        let applied = self
            .store
            .apply_decision(run_id, n, &facts, &decision, &next, &at)
            .await?;
        log_decision(run_id, n, Some(&task.task_arn), &decision, applied);
        match applied {
            Applied::Duplicate => {
                self.resume(run_id, now).await?;
                return Ok(Judged::Duplicate {
                    run_id: ids().0,
                    attempt: n,
                });
            }
            Applied::Stale => {
                return Ok(Judged::Stale {
                    run_id: ids().0,
                    attempt: n,
                })
            }
            Applied::Applied => self.count_decision(&run.job, &decision),
        }
        if decision.action.is_retry() {
            self.notify_retry(&run, &job, n, &decision, Some(&task.task_arn), &next, now)
                .await?;
        }
        let launch = match &next {
            Next::Close {
                status,
                notify_lease_until,
            } => {
                if notify_lease_until.is_some() {
                    let outcome = outcome_of(&run, *status, n, &decision, Some(&task.task_arn));
                    self.publish(&outcome, now).await?;
                }
                None
            }
            Next::RetryNow(claim) => {
                let mut moved = run.clone();
                moved.attempt = claim.attempt;
                moved.task_size = decision.verdict.memory.or(run.task_size);
                if !decision.counts_as_attempt {
                    moved.disruptions += 1;
                }
                Some(self.launch(&moved, &job, claim.attempt, now).await?)
            }
            Next::RetryLater(_) => None,
        };
        Ok(Judged::Applied {
            run_id: ids().0,
            attempt: n,
            decision: Box::new(decision),
            launch,
        })
    }

    /// `retry.sameFailureLimit`: a fall-back verdict that the attempts right before this one ended with too,
    /// word for word but for ids and numbers, is not retried. Their items are read only when the rule can
    /// apply (a retry by a fall-back rule, after the run's first counted attempt): one GetItem per attempt
    /// looked back, one with the default limit of 2.
    async fn with_history(
        &self,
        verdict: Verdict,
        task: &Task,
        run: &RunItem,
        n: u32,
        job: &JobRequest,
    ) -> Result<Verdict, FlowError> {
        let limit = job.retry.same_failure_limit;
        if limit < 2 || !verdict.action.is_retry() || !stops_when_repeated(&verdict.rule_id) {
            return Ok(verdict);
        }
        // Only attempts since the run's latest redrive count: a redrive is a fresh start.
        let first = n.saturating_sub(limit - 1).max(run.counts_from.max(1));
        let mut past = Vec::new();
        for earlier in first..n {
            if let Some(failure) = self
                .store
                .attempt(&run.run_id, earlier)
                .await?
                .and_then(|a| a.past_failure())
            {
                past.push(failure);
            }
        }
        Ok(with_run_history(
            verdict,
            n,
            &signature_of(task),
            &past,
            limit,
        ))
    }

    /// Fires a due retry (its delay item deleted by TTL, or found overdue by the sweep): claims the attempt
    /// (exactly one of TTL, sweep and their redeliveries wins) and launches it.
    pub async fn fire(&self, delay: &DelayItem, now: OffsetDateTime) -> Result<Fired, FlowError> {
        let at = stamp(now)?;
        let claim = AttemptItem::claim(
            &delay.run_id,
            delay.attempt,
            &at,
            now.unix_timestamp() + self.settings.launch_lease_seconds,
        );
        let claimed = self.store.claim_retry(&claim, &at).await?;
        tracing::info!(run = delay.run_id.as_str(), attempt = delay.attempt, due_at = delay.due_at, late_seconds = now.unix_timestamp() - delay.due_at, claimed = ?claimed, "retry due");
        match claimed {
            Claimed::Claimed => {}
            Claimed::AlreadyClaimed => return Ok(Fired::AlreadyClaimed),
            Claimed::Stale => {
                self.store
                    .discard_delay(&delay.run_id, delay.attempt)
                    .await?;
                return Ok(Fired::Stale);
            }
        }
        let Some(run) = self.store.run(&delay.run_id).await? else {
            return Ok(Fired::Stale);
        };
        // Counted once per retry: only the claimer gets here.
        let late = (now.unix_timestamp() - delay.due_at).max(0) as f64;
        self.metrics
            .record(&run.job, Metric::RetryLateness { seconds: late });
        let job = job_of(&run)?;
        Ok(Fired::Launched(
            self.launch(&run, &job, delay.attempt, now).await?,
        ))
    }

    /// The one-minute sweep: fires every overdue retry (the TTL path is late by minutes to hours) and resumes
    /// launches an interrupted invocation left behind. Keeps going past a failed item; the caller decides what
    /// a failure means.
    pub async fn sweep(&self, now: OffsetDateTime) -> Result<Swept, FlowError> {
        let mut swept = Swept::default();
        let epoch = now.unix_timestamp();
        for shard in 0..self.settings.sweep_shards {
            for due in self
                .store
                .due_items(shard, epoch, self.settings.sweep_batch)
                .await?
            {
                let delay = match due {
                    DueItem::Retry(delay) => delay,
                    DueItem::Deadline(deadline) => {
                        match self.enforce_deadline(&deadline, now).await {
                            Ok(Enforced::Stopped { .. }) => swept.timed_out += 1,
                            Ok(Enforced::Stale) => {}
                            Err(e) => {
                                swept.failed += 1;
                                tracing::error!(run = deadline.run_id.as_str(), attempt = deadline.attempt, error = %e, "stopping a task past its deadline failed; the next sweep tries again");
                            }
                        }
                        continue;
                    }
                };
                swept.due += 1;
                match self.fire(&delay, now).await {
                    Ok(Fired::Launched(_)) => swept.launched += 1,
                    Ok(Fired::AlreadyClaimed) => swept.already_claimed += 1,
                    Ok(Fired::Stale) => swept.stale += 1,
                    Err(e) => {
                        swept.failed += 1;
                        tracing::error!(run = delay.run_id.as_str(), attempt = delay.attempt, error = %e, "due retry failed; the next sweep tries again");
                    }
                }
            }
        }
        let before = stamp(now - time::Duration::seconds(self.settings.launch_lease_seconds))?;
        for run_id in self
            .store
            .stuck_launches(&before, self.settings.sweep_batch)
            .await?
        {
            match self.resume(&run_id, now).await {
                Ok(Some(_)) => swept.resumed += 1,
                Ok(None) => {}
                Err(e) => {
                    swept.failed += 1;
                    tracing::error!(run = run_id.as_str(), error = %e, "resuming an interrupted launch failed");
                }
            }
        }
        tracing::info!(
            due = swept.due,
            launched = swept.launched,
            already_claimed = swept.already_claimed,
            stale = swept.stale,
            resumed = swept.resumed,
            timed_out = swept.timed_out,
            failed = swept.failed,
            "sweep"
        );
        Ok(swept)
    }

    /// Stops the task of an attempt past its deadline, with a reason the judge recognises when the task's
    /// STOPPED event arrives (see `reactor_core::deadline`). Stopping is idempotent, so a sweep that crashed
    /// after the StopTask simply stops it again.
    pub async fn enforce_deadline(
        &self,
        item: &DeadlineItem,
        now: OffsetDateTime,
    ) -> Result<Enforced, FlowError> {
        let (run_id, n) = (item.run_id.as_str(), item.attempt);
        let run = self.store.run(run_id).await?;
        let attempt = self.store.attempt(run_id, n).await?;
        let live = match (&run, &attempt) {
            (Some(r), Some(a)) => {
                r.attempt == n
                    && matches!(r.status, RunStatus::Launching | RunStatus::Running)
                    && a.state == AttemptState::Launched
                    && a.task_arn.as_deref() == Some(item.task_arn.as_str())
            }
            _ => false,
        };
        let Some(run) = run.filter(|_| live) else {
            self.store.discard_deadline(run_id, n).await?;
            return Ok(Enforced::Stale);
        };
        let job = job_of(&run)?;
        let deadline = item.deadline();
        let reason = stop_reason(&deadline, run_id, n);
        self.launcher
            .stop_task(job.run_task.cluster.as_deref(), &item.task_arn, &reason)
            .await?;
        tracing::info!(
            run = run_id,
            attempt = n,
            task = item.task_arn.as_str(),
            action = "STOP_TASK",
            rule = if deadline.kind == DeadlineKind::Run {
                "run-timeout"
            } else {
                "timeout"
            },
            late_seconds = now.unix_timestamp() - deadline.at,
            "deadline passed: task stopped"
        );
        self.store.discard_deadline(run_id, n).await?;
        Ok(Enforced::Stopped {
            task_arn: item.task_arn.clone(),
            kind: deadline.kind,
        })
    }

    /// Counts an applied decision: the run's end, or a retry by its rule; a deadline and a memory raise too.
    fn count_decision(&self, job: &str, decision: &Decision) {
        let metrics = &self.metrics;
        match decision.action {
            Action::Succeed => metrics.record(job, Metric::RunSucceeded),
            Action::Fail => metrics.record(job, Metric::RunFailed),
            Action::RetryNow | Action::RetryLater => metrics.record(
                job,
                Metric::Retry {
                    class: decision.rule_id.clone(),
                },
            ),
        }
        let rule = decision.verdict.rule_id.as_str();
        if rule == reactor_core::judge::TIMEOUT_RULE_ID
            || rule == reactor_core::judge::RUN_TIMEOUT_RULE_ID
            || decision.rule_id == reactor_core::judge::RUN_TIMEOUT_RULE_ID
        {
            metrics.record(job, Metric::RunTimedOut);
        }
        if decision.action.is_retry() && decision.verdict.memory.is_some() {
            metrics.record(job, Metric::MemoryEscalated);
        }
    }

    /// `notify.on` RETRYING: publishes a retry decision, then marks the attempt so a redelivery of the event
    /// publishes only what is missing.
    #[allow(clippy::too_many_arguments)]
    async fn notify_retry(
        &self,
        run: &RunItem,
        job: &JobRequest,
        attempt: u32,
        decision: &Decision,
        task_arn: Option<&str>,
        next: &Next,
        now: OffsetDateTime,
    ) -> Result<(), FlowError> {
        if !job.notifies(NotifyOn::Retrying) {
            return Ok(());
        }
        let (status, next_retry_at) = match next {
            Next::RetryLater(delay) => (
                RunStatus::RetryScheduled,
                OffsetDateTime::from_unix_timestamp(delay.due_at)
                    .ok()
                    .map(stamp)
                    .transpose()?,
            ),
            _ => (RunStatus::Launching, None),
        };
        let outcome = Outcome {
            event: Event::AttemptRetrying,
            status: status.as_str().into(),
            next_retry_at,
            memory_mib: decision.verdict.memory.map(|m| m.memory_mib),
            ..outcome_of(run, status, attempt, decision, task_arn)
        };
        self.notifier.notify(&outcome).await?;
        self.store
            .mark_attempt_notified(&run.run_id, attempt, &stamp(now)?)
            .await?;
        Ok(())
    }

    /// Publishes a finished run's outcome once: the right to publish is a conditional write, the publish is
    /// recorded after it succeeds. A failed publish fails the invocation, whose retry publishes again.
    async fn notify_once(&self, outcome: &Outcome, now: OffsetDateTime) -> Result<(), FlowError> {
        let run_id = outcome.run_id.as_str();
        let epoch = now.unix_timestamp();
        if !self
            .store
            .claim_notification(run_id, epoch, epoch + self.settings.notify_lease_seconds)
            .await?
        {
            return match self.store.run(run_id).await? {
                Some(r) if r.notified_at.is_some() => Ok(()),
                _ => Err(FlowError::NotificationInProgress(run_id.to_owned())),
            };
        }
        self.publish(outcome, now).await
    }

    /// Publishes a finished run's outcome whose right to publish this invocation holds, and records it.
    async fn publish(&self, outcome: &Outcome, now: OffsetDateTime) -> Result<(), FlowError> {
        let run_id = outcome.run_id.as_str();
        self.notifier.notify(outcome).await?;
        self.store.mark_notified(run_id, &stamp(now)?).await?;
        // One line per finished run, for people reading the logs (the alarms watch the EMF metrics).
        tracing::info!(
            run = run_id,
            job = outcome.job.as_str(),
            status = outcome.status.as_str(),
            "outcome published"
        );
        Ok(())
    }

    /// Cancels a run: no further attempt is launched (the pending delay goes in the same write, and the
    /// classifier and scheduler find the run CANCELLED and leave it). With `stop_task`, the current
    /// attempt's task is stopped with a reason naming `by`. The outcome is published once, like a finished
    /// run's. Repeating the request repeats only what is missing (the stop, the notification).
    pub async fn cancel(
        &self,
        run_id: &str,
        by: &str,
        stop_task: bool,
        now: OffsetDateTime,
    ) -> Result<Cancel, FlowError> {
        let at = stamp(now)?;
        // The run can move between the read and the conditional write (a stop judged, a retry fired):
        // read again and retry a few times rather than cancel a state nobody looked at.
        let mut tries = 0;
        let (run, was) = loop {
            let Some(run) = self.store.run(run_id).await? else {
                return Ok(Cancel::Unknown);
            };
            match run.status {
                RunStatus::Succeeded | RunStatus::Failed => {
                    return Ok(Cancel::Finished(run.status))
                }
                RunStatus::Cancelled => break (run, None),
                was => match self.store.cancel_run(run_id, run.attempt, by, &at).await? {
                    Changed::Changed => break (run, Some(was)),
                    Changed::Refused if tries < 3 => tries += 1,
                    Changed::Refused => {
                        return Err(FlowError::Store(StoreError::ConditionFailed(format!(
                            "run {run_id} kept changing while it was being cancelled"
                        ))))
                    }
                },
            }
        };
        tracing::info!(run = run_id, attempt = run.attempt, by, was = ?was, action = "CANCEL", "run cancelled");
        if was.is_some() {
            self.metrics.record(&run.job, Metric::RunCancelled);
        }
        let mut stopped_task = None;
        if stop_task {
            if let Some(task_arn) = self
                .store
                .attempt(run_id, run.attempt)
                .await?
                .filter(|a| a.state != AttemptState::Decided)
                .and_then(|a| a.task_arn)
            {
                let job = job_of(&run)?;
                let reason = format!("ecs-reactor: run {run_id} cancelled by {by}");
                self.launcher
                    .stop_task(job.run_task.cluster.as_deref(), &task_arn, &reason)
                    .await?;
                tracing::info!(
                    run = run_id,
                    attempt = run.attempt,
                    task = task_arn.as_str(),
                    action = "STOP_TASK",
                    "task stopped"
                );
                stopped_task = Some(task_arn);
            }
        }
        let cancelled = Outcome {
            event: Event::RunCancelled,
            run_id: run_id.to_owned(),
            job: run.job.clone(),
            status: RunStatus::Cancelled.as_str().into(),
            attempts: run.attempt,
            rule_id: "cancelled".into(),
            rule: "cancelled".into(),
            reason: format!("cancelled by {by}"),
            task_arn: stopped_task.clone(),
            hint: None,
            next_retry_at: None,
            memory_mib: None,
        };
        if wants(&job_of(&run)?, RunStatus::Cancelled) {
            self.notify_once(&cancelled, now).await?;
        }
        Ok(match was {
            Some(was) => Cancel::Cancelled {
                was,
                attempt: run.attempt,
                stopped_task,
            },
            None => Cancel::AlreadyCancelled {
                attempt: run.attempt,
                stopped_task,
            },
        })
    }

    /// Redrives a FAILED or CANCELLED run, as Step Functions redrives an execution: a new attempt with a
    /// fresh budget, every earlier attempt kept in the story, the outcome published again when it ends.
    /// Two redrives of the same run race on one conditional write: one wins, the other is told the status.
    pub async fn redrive(
        &self,
        run_id: &str,
        by: &str,
        now: OffsetDateTime,
    ) -> Result<Redrive, FlowError> {
        let Some(run) = self.store.run(run_id).await? else {
            return Ok(Redrive::Unknown);
        };
        if !matches!(run.status, RunStatus::Failed | RunStatus::Cancelled) {
            return Ok(Redrive::NotRedrivable(run.status));
        }
        let job = job_of(&run)?;
        let at = stamp(now)?;
        let next = run.attempt + 1;
        let claim = AttemptItem::claim(
            run_id,
            next,
            &at,
            now.unix_timestamp() + self.settings.launch_lease_seconds,
        );
        // A redriven run of a FORBID / REPLACE job must hold the job like a new run; it never replaces one.
        let lock = LockItem::new(&job.job, run_id, &at);
        let holder = match job.concurrency {
            Concurrency::Allow => None,
            _ => self.store.job_lock(&job.job).await?.map(|l| l.run_id),
        };
        if let Some(holder) = holder.as_deref().filter(|h| *h != run_id) {
            if let Some(other) = self
                .store
                .run(holder)
                .await?
                .filter(|r| !r.status.is_terminal())
            {
                return Ok(Redrive::Blocked {
                    holder: holder.to_owned(),
                    status: other.status,
                });
            }
        }
        let lock = (!job.concurrency.is_allow()).then_some((&lock, holder.as_deref()));
        if self.store.redrive_run(&claim, by, &at, lock).await? == Changed::Refused {
            let status = self
                .store
                .run(run_id)
                .await?
                .map_or(run.status, |r| r.status);
            return Ok(Redrive::NotRedrivable(status));
        }
        tracing::info!(
            run = run_id,
            attempt = next,
            by,
            was = run.status.as_str(),
            action = "REDRIVE",
            "run redriven"
        );
        let mut moved = run;
        moved.status = RunStatus::Launching;
        moved.attempt = next;
        moved.counts_from = next;
        moved.disruptions = 0;
        let launch = self.launch(&moved, &job, next, now).await?;
        Ok(Redrive::Redriven {
            attempt: next,
            launch,
        })
    }
}

/// The message a finished run publishes.
fn outcome_of(
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

/// The retry notice of a decided attempt, to be published again.
fn retry_outcome(run: &RunItem, attempt: &AttemptItem, decision: &Decision) -> Outcome {
    Outcome {
        event: Event::AttemptRetrying,
        status: if attempt.next_retry_at.is_some() {
            RunStatus::RetryScheduled
        } else {
            RunStatus::Launching
        }
        .as_str()
        .into(),
        next_retry_at: attempt.next_retry_at.clone(),
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
fn decision_of(attempt: &AttemptItem) -> Decision {
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

fn stop_facts(task: &Task) -> Result<StopFacts, FlowError> {
    let time = |t: Option<OffsetDateTime>| t.map(stamp).transpose();
    Ok(StopFacts {
        task_arn: Some(task.task_arn.clone()),
        started_at: time(task.started_at)?,
        stopped_at: time(task.stopped_at)?,
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
