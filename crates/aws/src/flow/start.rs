//! Starting a run: the guard, the run created once with attempt 1 claimed (under the job's lock for
//! `concurrency` FORBID / REPLACE), then its launch.

use super::*;
use serde::Serialize;

impl<S: Store, L: Launcher, N: Notifier> Reactor<S, L, N> {
    /// Starts a run of a validated job: checks it against the deployment's guard, records the run with
    /// attempt 1 claimed (once, however often the same run id is delivered), then launches it.
    pub async fn start(
        &self,
        job: &JobRequest,
        run_id: &str,
        now: OffsetDateTime,
    ) -> Result<Started, FlowError> {
        self.start_scheduled(job, run_id, None, now).await
    }

    /// [`Reactor::start`] of a run a schedule's tick started: `scheduled_at` is the tick, recorded on the run
    /// and told to every attempt's containers as their scheduled time.
    pub async fn start_scheduled(
        &self,
        job: &JobRequest,
        run_id: &str,
        scheduled_at: Option<OffsetDateTime>,
        now: OffsetDateTime,
    ) -> Result<Started, FlowError> {
        let at = now;
        let mut run = self.new_run(job, run_id, at)?;
        self.seal_request(job, &mut run).await?;
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
        run.essential_containers = essentials;
        run.scheduled_at = scheduled_at;
        let first = AttemptItem::claim(
            &self.namespace,
            run_id,
            1,
            at,
            now.unix_timestamp() + self.settings.launch_lease_seconds,
        );
        let created = if job.concurrency.is_allow() {
            self.store.create_run(&run, &first).await?
        } else {
            match self.create_exclusive(job, &mut run, &first, at).await? {
                Exclusive::Created(created) => created,
                Exclusive::Skip(holder) => match self.store.run(run_id).await? {
                    // A redelivered tick of a run that started (and may have ended without announcing it) is
                    // that run's duplicate: never a "skipped" notice for it.
                    Some(existing) if existing.status != RunStatus::Skipped => {
                        Created::AlreadyExists
                    }
                    _ => return self.skip(job, run, &holder, now).await,
                },
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
                let launch = self.launch(&run, job, 1, ClaimOf::New, now).await?;
                Ok(Started::New {
                    run_id: run_id.into(),
                    launch,
                })
            }
            Created::AlreadyExists | Created::LockTaken => {
                // The same tick (or idempotency key) names one run: a request that differs from the one the
                // run was started with is not a duplicate, and is refused rather than silently dropped.
                if let Some(existing) = self.store.run(run_id).await? {
                    if !self.same_request(&existing, &run, job).await? {
                        tracing::error!(
                            run = run_id,
                            job = job.job.as_str(),
                            error_type = "RunConflict",
                            "refused: a different job request for an existing run; nothing written"
                        );
                        self.metrics.record(&job.job, Metric::RequestConflict);
                        return Err(FlowError::Conflict {
                            run_id: run_id.into(),
                        });
                    }
                }
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
    pub(super) async fn create_exclusive(
        &self,
        job: &JobRequest,
        run: &mut RunItem,
        first: &AttemptItem,
        at: OffsetDateTime,
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
    /// A new run of `job`, LAUNCHING its first attempt, checked against the deployment's guard first (the
    /// request as stored is what must stay small; the guard sees it before anything is written).
    pub(super) fn new_run(
        &self,
        job: &JobRequest,
        run_id: &str,
        at: OffsetDateTime,
    ) -> Result<RunItem, FlowError> {
        let request = serde_json::to_string(job).map_err(|e| FlowError::CorruptRun {
            run_id: run_id.into(),
            message: e.to_string(),
        })?;
        self.guard.check(job, request.len())?;
        Ok(RunItem::new(run_id, &job.job, request, None, at))
    }

    pub(super) async fn skip(
        &self,
        job: &JobRequest,
        mut run: RunItem,
        holder: &RunItem,
        now: OffsetDateTime,
    ) -> Result<Started, FlowError> {
        run.skipped_for = Some(holder.run_id.clone());
        let reason = format!("run {} of the job is {}", holder.run_id, holder.status);
        self.record_skip(job, &mut run, "concurrency-forbid", &reason, now)
            .await?;
        Ok(Started::Skipped {
            run_id: run.run_id,
            blocked_by: holder.run_id.clone(),
        })
    }

    /// Records `run` as SKIPPED (once) under `rule_id` because of `reason`, counts it and announces it when
    /// the job asks for that; whether it was recorded now or found there.
    pub(super) async fn record_skip(
        &self,
        job: &JobRequest,
        run: &mut RunItem,
        rule_id: &str,
        reason: &str,
        now: OffsetDateTime,
    ) -> Result<Created, FlowError> {
        let at = now;
        run.status = RunStatus::Skipped;
        run.attempt = 0;
        run.last_rule_id = Some(rule_id.into());
        run.last_rule = Some(match rule_id {
            "concurrency-forbid" => format!("concurrency FORBID: {reason}"),
            _ => reason.to_owned(),
        });
        run.by_status_pk = status_key(RunStatus::Skipped);
        run.by_status_sk = format!("{at}#{}", run.run_id);
        let created = self.store.record_skipped(run).await?;
        tracing::info!(
            run = run.run_id.as_str(),
            job = job.job.as_str(),
            blocked_by = run.skipped_for.as_deref(),
            action = "SKIP",
            rule = rule_id,
            duplicate = created != Created::New,
            reason,
            "run skipped"
        );
        if created == Created::New {
            self.metrics.record(&job.job, Metric::RunSkipped);
        }
        // Found there: announced again (the notice is deduplicated) only if it is a SKIPPED run, in case the first
        // delivery failed before announcing it; a concurrent delivery may have started the run instead.
        let skipped = match created {
            Created::New => true,
            _ => {
                matches!(self.store.run(&run.run_id).await?, Some(r) if r.status == RunStatus::Skipped)
            }
        };
        if skipped && job.announces(RunStatus::Skipped) {
            self.notify_once(&skipped_outcome(run, reason), now).await?;
        }
        Ok(created)
    }

    /// `concurrency: REPLACE`: cancels the run this one replaces and stops its task, before this run's first
    /// launch. Repeated on resume (cancelling is idempotent), so a crash in between still replaces it.
    pub(super) async fn replace(
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
}

/// What a start answers: the starter's response to a direct invocation, and `ecs-reactor start --json`.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct StartResponse {
    pub run_id: String,
    /// STARTED, DUPLICATE (the run existed already), NOT_STARTED (RunTask refused; see `action`), DEFERRED (the
    /// run is recorded and AWS refused the launch for reasons of its own: the sweep launches it, no attempt
    /// used; see `reason`) or SKIPPED.
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

impl StartResponse {
    fn skipped(run_id: String, reason: String) -> StartResponse {
        StartResponse {
            run_id,
            outcome: "SKIPPED",
            attempt: None,
            task_arn: None,
            action: None,
            reason: Some(reason),
        }
    }
}

impl From<Started> for StartResponse {
    fn from(started: Started) -> StartResponse {
        let (run_id, outcome, launch) = match started {
            Started::New { run_id, launch } => (run_id, "STARTED", Some(launch)),
            Started::Duplicate { run_id, resumed } => (run_id, "DUPLICATE", resumed),
            Started::Skipped { run_id, blocked_by } => {
                return StartResponse::skipped(
                    run_id,
                    format!("run {blocked_by} of the job is unfinished (concurrency FORBID)"),
                )
            }
            Started::NotRun { run_id, reason } => return StartResponse::skipped(run_id, reason),
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
            Some(Launch::Deferred {
                attempt,
                retry_at,
                reason,
            }) => {
                if outcome == "STARTED" {
                    response.outcome = "DEFERRED";
                }
                response.attempt = Some(attempt);
                response.reason = Some(format!(
                    "the run is recorded; AWS refused the launch ({reason}); the sweep launches it from {} without using up an attempt",
                    stamp(retry_at)
                ));
            }
            None => {}
        }
        response
    }
}
