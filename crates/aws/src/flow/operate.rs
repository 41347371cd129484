//! On-call's actions: cancel a run, redrive a FAILED or CANCELLED one.

use super::*;

impl<S: Store, L: Launcher, N: Notifier> Reactor<S, L, N> {
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
        let at = now;
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
                was => match self.store.cancel_run(run_id, run.attempt, by, at).await? {
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
        let cancelled = cancelled_outcome(&run, by, stopped_task.clone());
        if job_of(&run)?.announces(RunStatus::Cancelled) {
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
        let at = now;
        let next = run.attempt + 1;
        let claim = AttemptItem::claim(
            &self.namespace,
            run_id,
            next,
            at,
            now.unix_timestamp() + self.settings.launch_lease_seconds,
        );
        // A redriven run of a FORBID / REPLACE job must hold the job like a new run; it never replaces one.
        let lock = LockItem::new(&job.job, run_id, at);
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
        if self.store.redrive_run(&claim, by, at, lock).await? == Changed::Refused {
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
        let launch = self.launch(&moved, &job, next, ClaimOf::New, now).await?;
        Ok(Redrive::Redriven {
            attempt: next,
            launch,
        })
    }
}
