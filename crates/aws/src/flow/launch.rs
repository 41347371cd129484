//! Launching an attempt: adopt a task an interrupted launch already started, else RunTask; record the
//! task (the run RUNNING), or judge a launch ECS refused; resume a launch that was interrupted.

use super::*;

impl<S: Store, L: Launcher, N: Notifier> Reactor<S, L, N> {
    /// Launches attempt `attempt` of `run`, claimed by the caller (`claim`: just now, or taken over). A task
    /// already carrying the attempt's `startedBy` is adopted (looked for only under a claim taken over); a
    /// refused launch is judged like a stopped task and its decision applied.
    pub async fn launch(
        &self,
        run: &RunItem,
        job: &JobRequest,
        attempt: u32,
        claim: ClaimOf,
        now: OffsetDateTime,
    ) -> Result<Launch, FlowError> {
        let mut held = claim;
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
        let started_at = run_started_at(run);
        let seconds_left = run_deadline(job, started_at).map(|d| d.at - now.unix_timestamp());
        // A refused launch judged RETRY_NOW is launched again here; `decide` bounds how often.
        loop {
            let at = now;
            let attempt_ref = AttemptRef {
                run_id: run.run_id.clone(),
                attempt,
            };
            let started_by = self.namespace.started_by(&attempt_ref);
            let cluster = job.run_task.cluster.as_deref();
            // Half the ECS calls of a launch (ListTasks has its own rate limit, which a storm meets) where
            // there can be nothing to adopt.
            let earlier = match held {
                ClaimOf::New => Ok(None),
                ClaimOf::TakenOver => self.launcher.find_task(cluster, &started_by).await,
            };
            match earlier {
                Ok(Some(task_arn)) => {
                    return self.started(run, job, attempt, task_arn, now, true).await;
                }
                Ok(None) => {}
                // The adoption lookup throttled (a storm): AWS's trouble, not the task's. Deferred like a
                // throttled RunTask, rather than failing the invocation and leaving the claim to its lease.
                Err(LaunchError::Unanswered(e)) if e.is_throttling() => {
                    let reason = format!("ListTasks before the launch: {e}");
                    if let Some(deferred) = self.defer(run, attempt, &reason, now).await? {
                        return Ok(deferred);
                    }
                    return Err(LaunchError::Unanswered(e).into());
                }
                Err(e) => return Err(e.into()),
            }
            let verdict = match (seconds_left, job.run_timeout_seconds) {
                // A retry that fired after the run's deadline (TTL is late) is not launched.
                (Some(left), Some(limit)) if left <= 0 => run_deadline_passed(limit),
                _ => {
                    let token = reactor_core::run::client_token(&self.namespace, &attempt_ref);
                    // The only place the sealed values are opened: what RunTask sends.
                    let launched = with_context(run, &self.unsealed(run, job).await?, attempt);
                    match self
                        .launcher
                        .run_task(&launched, &attempt_ref, &started_by, &token)
                        .await?
                    {
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
                        LaunchOutcome::Unavailable {
                            status,
                            code,
                            message,
                        } => {
                            let reason = format!("{code} (HTTP {status}): {message}");
                            let reason = reason.trim_end_matches(": ");
                            if let Some(deferred) = self.defer(run, attempt, reason, now).await? {
                                return Ok(deferred);
                            }
                            // Deferred as often as it may be: judged like any refused launch.
                            judge_launch(LaunchProblem::ApiError {
                                code: &code,
                                message: reason,
                            })
                        }
                    }
                }
            };
            if defers_launch(&verdict.rule_id) {
                if let Some(deferred) = self.defer(run, attempt, &verdict.evidence, now).await? {
                    return Ok(deferred);
                }
            }
            let history = History {
                attempt,
                disruptions,
                counts_from: run.counts_from,
            };
            let mut jitter = SplitMix64(jitter_seed(&attempt_ref));
            let decision = judgement(
                verdict,
                history,
                job,
                started_at,
                now.unix_timestamp(),
                &mut jitter,
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
                (&self.settings, &self.namespace),
                at,
            );
            let applied = self
                .store
                .apply_decision(&run.run_id, attempt, &facts, &decision, &next, at)
                .await?;
            log_decision(&run.job, &run.run_id, attempt, None, &decision, applied);
            if applied == Applied::Applied {
                self.count_decision(&run.job, &decision);
                self.queue_retry(&run.job, &next, now).await;
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
                    // The next attempt's claim was written by this decision, just now.
                    held = ClaimOf::New;
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

    /// AWS refused to launch the attempt for reasons of its own: not judged, not counted; its lease is pushed
    /// out by a growing, jittered wait, after which the sweep resumes the launch (`resume`). `None` once it has
    /// been deferred `MAX_LAUNCH_DEFERRALS` times: the caller judges it then.
    async fn defer(
        &self,
        run: &RunItem,
        attempt: u32,
        reason: &str,
        now: OffsetDateTime,
    ) -> Result<Option<Launch>, FlowError> {
        let run_id = run.run_id.as_str();
        let deferrals = self
            .store
            .attempt(run_id, attempt)
            .await?
            .and_then(|a| a.deferrals)
            .unwrap_or(0);
        if deferrals >= MAX_LAUNCH_DEFERRALS {
            tracing::warn!(
                job = run.job.as_str(),
                run = run_id,
                attempt,
                deferrals,
                reason,
                "AWS has refused this launch too often: judged like any refused launch"
            );
            return Ok(None);
        }
        let attempt_ref = AttemptRef {
            run_id: run_id.to_owned(),
            attempt,
        };
        let mut jitter = SplitMix64(jitter_seed(&attempt_ref) ^ u64::from(deferrals));
        let wait = launch_backoff(deferrals, &mut jitter);
        let retry_at = now + time::Duration::seconds(wait);
        let deferred = self
            .store
            .defer_launch(run_id, attempt, retry_at.unix_timestamp(), reason, now)
            .await?;
        if deferred {
            self.metrics.record(&run.job, Metric::LaunchDeferred);
        }
        tracing::warn!(
            job = run.job.as_str(),
            run = run_id,
            attempt,
            action = "DEFER_LAUNCH",
            deferrals = deferrals + 1,
            retry_in_seconds = wait,
            recorded = deferred,
            reason,
            "launch deferred: AWS refused it for reasons of its own; the attempt is kept and launched again by the sweep"
        );
        Ok(Some(Launch::Deferred {
            attempt,
            retry_at,
            reason: reason.to_owned(),
        }))
    }

    /// Records the attempt's task (adopted or just started) and logs the launch. A task whose run was
    /// cancelled while it was being launched is stopped at once: a cancelled run launches nothing.
    pub(super) async fn started(
        &self,
        run: &RunItem,
        job: &JobRequest,
        attempt: u32,
        task_arn: String,
        now: OffsetDateTime,
        adopted: bool,
    ) -> Result<Launch, FlowError> {
        let (run_id, cluster, at) = (run.run_id.as_str(), job.run_task.cluster.as_deref(), now);
        let facts = LaunchFacts {
            size: run.task_size,
            deadline: attempt_deadline(job, now.unix_timestamp(), run_started_at(run)).map(|d| {
                DeadlineItem::new(run_id, attempt, &task_arn, &d, self.settings.sweep_shards)
            }),
        };
        if let Recorded::RunMovedOn(run) = self
            .store
            .record_launch(run_id, attempt, &task_arn, at, &facts)
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
    /// claimer's lease ran out, take the lease and launch. Also publishes a finished run's outcome, and sends a
    /// waiting retry to the retry queue, if that was interrupted. `None` when there was nothing to launch.
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
            if !job_of(&run)?.announces(run.status) {
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
        if let (RunStatus::RetryScheduled, Some(due)) = (run.status, run.next_retry_at) {
            // The invocation that scheduled the retry may have been interrupted before sending it to the queue:
            // sent again while it waits (firing is one conditional claim: a second message fires nothing more).
            let delay = DelayItem::new(
                run_id,
                run.attempt + 1,
                due.unix_timestamp(),
                self.settings.sweep_shards,
            );
            self.queue_retry(&run.job, &Next::RetryLater(delay), now)
                .await;
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
        Ok(Some(
            self.launch(&run, &job, run.attempt, ClaimOf::TakenOver, now)
                .await?,
        ))
    }
}

/// The job as attempt `attempt` of `run` launches it: its identity on the containers that matter (the
/// essential ones, as the run knows them, and those the job overrides) and the job's placeholders expanded.
/// The stored request keeps the placeholders: every attempt expands them again, to the same scheduled time.
fn with_context(run: &RunItem, job: &JobRequest, attempt: u32) -> JobRequest {
    let context = reactor_core::context::RunContext {
        job: run.job.clone(),
        run_id: run.run_id.clone(),
        attempt,
        scheduled_at: run.scheduled_at.unwrap_or(run.created_at),
    };
    let containers = run
        .essential_containers
        .clone()
        .or_else(|| job.essential_containers.clone())
        .unwrap_or_default();
    reactor_core::context::with_run_context(job, &context, &containers)
}
