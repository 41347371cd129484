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
use crate::notifier::{Event, Notifier, NotifyError, Outcome};
use crate::records::{AttemptItem, AttemptState, DelayItem, RunItem};
use crate::store::{
    Applied, Changed, Claimed, Created, Next, Recorded, StopFacts, Store, StoreError,
};
use reactor_core::judge::{judge_launch, judge_stopped_task, LaunchProblem};
use reactor_core::run::{jitter_seed, RunStatus};
use reactor_core::{
    decide, Action, AttemptRef, Decision, Guard, GuardError, History, JobRequest, SplitMix64, Task,
};
use std::fmt;
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

/// Totals of one sweep.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Swept {
    pub due: usize,
    pub launched: usize,
    pub already_claimed: usize,
    pub stale: usize,
    pub resumed: usize,
    pub failed: usize,
}

impl fmt::Display for Swept {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} due, {} launched, {} already claimed, {} stale, {} interrupted launches resumed, {} failed",
            self.due, self.launched, self.already_claimed, self.stale, self.resumed, self.failed
        )
    }
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

/// What follows a decision, as the store writes it.
fn next_step(
    decision: &Decision,
    run_id: &str,
    attempt: u32,
    now: OffsetDateTime,
    settings: &Settings,
    at: &str,
) -> Next {
    let next = decision.next_attempt.unwrap_or(attempt + 1);
    let epoch = now.unix_timestamp();
    match decision.action {
        Action::Succeed => Next::Close(RunStatus::Succeeded),
        Action::Fail => Next::Close(RunStatus::Failed),
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
        let run = RunItem::new(run_id, &job.job, request, essentials, &at);
        let first = AttemptItem::claim(
            run_id,
            1,
            &at,
            now.unix_timestamp() + self.settings.launch_lease_seconds,
        );
        match self.store.create_run(&run, &first).await? {
            Created::New => {
                tracing::info!(
                    run = run_id,
                    job = job.job.as_str(),
                    attempt = 1,
                    "run created"
                );
                let launch = self.launch(&run, job, 1, now).await?;
                Ok(Started::New {
                    run_id: run_id.into(),
                    launch,
                })
            }
            Created::AlreadyExists => {
                tracing::info!(run = run_id, "duplicate start: the run exists already");
                let resumed = self.resume(run_id, now).await?;
                Ok(Started::Duplicate {
                    run_id: run_id.into(),
                    resumed,
                })
            }
        }
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
                return self
                    .started(&run.run_id, cluster, attempt, task_arn, &at, true)
                    .await;
            }
            let token = reactor_core::run::client_token(&attempt_ref);
            let outcome = self.launcher.run_task(job, &attempt_ref, &token).await?;
            let verdict = match &outcome {
                LaunchOutcome::Started { task_arn } => {
                    return self
                        .started(&run.run_id, cluster, attempt, task_arn.clone(), &at, false)
                        .await;
                }
                LaunchOutcome::NotStarted { failures } => {
                    judge_launch(LaunchProblem::Failures(failures))
                }
                LaunchOutcome::Refused { code, message } => {
                    judge_launch(LaunchProblem::ApiError { code, message })
                }
            };
            let history = History {
                attempt,
                disruptions,
                counts_from: run.counts_from,
            };
            let mut jitter = SplitMix64(jitter_seed(&attempt_ref));
            let decision = decide(verdict, history, &job.retry, &mut jitter);
            let facts = StopFacts {
                stopped_reason: Some(decision.verdict.evidence.chars().take(1000).collect()),
                ..StopFacts::default()
            };
            let next = next_step(&decision, &run.run_id, attempt, now, &self.settings, &at);
            let applied = self
                .store
                .apply_decision(&run.run_id, attempt, &facts, &decision, &next, &at)
                .await?;
            log_decision(&run.run_id, attempt, None, &decision, applied);
            match (&next, applied) {
                (Next::RetryNow(claim), Applied::Applied) => {
                    if !decision.counts_as_attempt {
                        disruptions += 1;
                    }
                    attempt = claim.attempt;
                    continue;
                }
                (Next::Close(status), Applied::Applied) => {
                    let outcome = outcome_of(run, *status, attempt, &decision, None);
                    self.notify_once(&outcome, now).await?;
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
        run_id: &str,
        cluster: Option<&str>,
        attempt: u32,
        task_arn: String,
        at: &str,
        adopted: bool,
    ) -> Result<Launch, FlowError> {
        if let Recorded::RunMovedOn(run) = self
            .store
            .record_launch(run_id, attempt, &task_arn, at)
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
            && run.status != RunStatus::Cancelled
            && run.notified_at.is_none()
        {
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
        let history = History {
            attempt: n,
            disruptions: run.disruptions,
            counts_from: run.counts_from,
        };
        let mut jitter = SplitMix64(jitter_seed(attempt_ref));
        let decision = decide(verdict, history, &job.retry, &mut jitter);
        let at = stamp(now)?;
        let next = next_step(&decision, run_id, n, now, &self.settings, &at);
        let facts = stop_facts(task)?;
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
            Applied::Applied => {}
        }
        let launch = match &next {
            Next::Close(status) => {
                let outcome = outcome_of(&run, *status, n, &decision, Some(&task.task_arn));
                self.notify_once(&outcome, now).await?;
                None
            }
            Next::RetryNow(claim) => {
                let mut moved = run.clone();
                moved.attempt = claim.attempt;
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
            for delay in self
                .store
                .due_delays(shard, epoch, self.settings.sweep_batch)
                .await?
            {
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
        for run in self
            .store
            .stuck_launches(&before, self.settings.sweep_batch)
            .await?
        {
            match self.resume(&run.run_id, now).await {
                Ok(Some(_)) => swept.resumed += 1,
                Ok(None) => {}
                Err(e) => {
                    swept.failed += 1;
                    tracing::error!(run = run.run_id.as_str(), error = %e, "resuming an interrupted launch failed");
                }
            }
        }
        tracing::info!(
            due = swept.due,
            launched = swept.launched,
            already_claimed = swept.already_claimed,
            stale = swept.stale,
            resumed = swept.resumed,
            failed = swept.failed,
            "sweep"
        );
        Ok(swept)
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
        self.notifier.notify(outcome).await?;
        self.store.mark_notified(run_id, &stamp(now)?).await?;
        // One line per finished run: template.yml counts FAILED ones into the FailedRuns metric and alarm.
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
        self.notify_once(&cancelled, now).await?;
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
        if self.store.redrive_run(&claim, by, &at).await? == Changed::Refused {
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
    })
}
