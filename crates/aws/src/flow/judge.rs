//! Judging a STOPPED task of ours: load the run and attempt, judge (the core), apply the decision in one
//! transaction, then its effects (notice, publish, the next launch), one log line.

use super::*;

impl<S: Store, L: Launcher, N: Notifier> Reactor<S, L, N> {
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
                    self.store.mark_attempt_notified(run_id, n, now).await?;
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
            // The invocation that judged it may have been interrupted before publishing, queueing or launching.
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
        let decision = judgement(
            verdict,
            history,
            &job,
            run_started_at(&run),
            now.unix_timestamp(),
            &mut jitter,
        );
        let at = now;
        let next = next_step(
            &decision,
            &job,
            (run_id, n),
            now,
            (&self.settings, &self.namespace),
            at,
        );
        let mut facts = stop_facts(task)?;
        facts.had_deadline = job.timeout_seconds.is_some() || job.run_timeout_seconds.is_some();
        let applied = self
            .store
            .apply_decision(run_id, n, &facts, &decision, &next, at)
            .await?;
        log_decision(
            &run.job,
            run_id,
            n,
            Some(&task.task_arn),
            &decision,
            applied,
        );
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
            Applied::Applied => {
                self.count_decision(&run.job, &decision);
                self.queue_retry(&run.job, &next, now).await;
            }
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
                Some(
                    self.launch(&moved, &job, claim.attempt, ClaimOf::New, now)
                        .await?,
                )
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
    pub(super) async fn with_history(
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
}
