//! Effects of a decision: metrics, retry notices and a finished run's outcome, each published once.

use super::*;

impl<S: Store, L: Launcher, N: Notifier> Reactor<S, L, N> {
    /// Counts an applied decision: the run's end, or a retry by its rule; a deadline and a memory raise too.
    pub(super) fn count_decision(&self, job: &str, decision: &Decision) {
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

    /// A retry scheduled for later is also sent to the retry queue, which delivers it at its due second. A
    /// send that fails is logged and left: the delay item is in the table, and the sweep fires it when due.
    pub(super) async fn queue_retry(&self, job: &str, next: &Next, now: OffsetDateTime) {
        let (Some(queue), Next::RetryLater(delay)) = (&self.retry_queue, next) else {
            return;
        };
        if let Err(e) = queue.send(delay, now).await {
            tracing::warn!(
                job,
                run = delay.run_id.as_str(),
                attempt = delay.attempt,
                due_at = delay.due_at,
                error = %e,
                "the retry queue did not take the retry; the sweep fires it when due"
            );
        }
    }

    /// `notify.on` RETRYING: publishes a retry decision, then marks the attempt so a redelivery of the event
    /// publishes only what is missing.
    #[allow(clippy::too_many_arguments)]
    pub(super) async fn notify_retry(
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
                    .map(stamp),
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
            .mark_attempt_notified(&run.run_id, attempt, now)
            .await?;
        Ok(())
    }

    /// Publishes a finished run's outcome once: the right to publish is a conditional write, the publish is
    /// recorded after it succeeds. A failed publish fails the invocation, whose retry publishes again.
    pub(super) async fn notify_once(
        &self,
        outcome: &Outcome,
        now: OffsetDateTime,
    ) -> Result<(), FlowError> {
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

    /// The sweep's last resort for an outcome whose publisher held the right to publish and never recorded the
    /// publication (SNS failed until Lambda's retries ran out, or the CLI that cancelled died): published now,
    /// once, rebuilt from the run as recorded. `false` if there was nothing to publish after all.
    pub async fn republish(&self, run_id: &str, now: OffsetDateTime) -> Result<bool, FlowError> {
        let Some(run) = self.store.run(run_id).await? else {
            return Ok(false);
        };
        if run.notified_at.is_some() || !job_of(&run)?.announces(run.status) {
            return Ok(false);
        }
        let last = self.store.attempt(run_id, run.attempt).await?;
        let task = last.as_ref().and_then(|a| a.task_arn.clone());
        let outcome = match run.status {
            RunStatus::Succeeded | RunStatus::Failed => match &last {
                Some(last) => outcome_of(
                    &run,
                    run.status,
                    run.attempt,
                    &decision_of(last),
                    task.as_deref(),
                ),
                None => return Ok(false),
            },
            RunStatus::Cancelled => {
                let by = run
                    .cancelled_by
                    .clone()
                    .unwrap_or_else(|| "an unnamed user".into());
                cancelled_outcome(&run, &by, task)
            }
            RunStatus::Skipped => skipped_outcome(
                &run,
                &format!(
                    "run {} of the job was unfinished",
                    run.skipped_for.as_deref().unwrap_or("-")
                ),
            ),
            _ => return Ok(false),
        };
        self.notify_once(&outcome, now).await?;
        tracing::warn!(
            run = run_id,
            job = run.job.as_str(),
            status = run.status.as_str(),
            "outcome published by the sweep: its first publisher never recorded it"
        );
        Ok(true)
    }

    /// Publishes a finished run's outcome whose right to publish this invocation holds, and records it.
    pub(super) async fn publish(
        &self,
        outcome: &Outcome,
        now: OffsetDateTime,
    ) -> Result<(), FlowError> {
        let run_id = outcome.run_id.as_str();
        self.notifier.notify(outcome).await?;
        self.store.mark_notified(run_id, now).await?;
        // One line per finished run, for people reading the logs (the alarms watch the EMF metrics).
        tracing::info!(
            run = run_id,
            job = outcome.job.as_str(),
            status = outcome.status.as_str(),
            "outcome published"
        );
        Ok(())
    }
}
