//! Delayed retries and deadlines: fire a due retry (TTL or sweep; exactly one wins), and stop an attempt past
//! its deadline. The sweep that calls both is `sweep.rs`.

use super::*;

impl<S: Store, L: Launcher, N: Notifier> Reactor<S, L, N> {
    /// Fires a due retry (delivered by the retry queue at its due second, its delay item deleted by TTL, or
    /// found due by the sweep): claims the attempt (exactly one of queue, TTL, sweep and their redeliveries
    /// wins) and launches it.
    pub async fn fire(&self, delay: &DelayItem, now: OffsetDateTime) -> Result<Fired, FlowError> {
        self.fire_known(delay, None, now).await
    }

    /// [`Reactor::fire`] with the run as read (by the sweep, for many retries in one read) before the claim:
    /// once the claim holds, that read is the run but for what the claim changed (a claim succeeds only on the
    /// run in RETRY_SCHEDULED at the attempt before, and nothing else changes a run waiting for its retry).
    pub(super) async fn fire_known(
        &self,
        delay: &DelayItem,
        known: Option<&RunItem>,
        now: OffsetDateTime,
    ) -> Result<Fired, FlowError> {
        // TTL deletes an item only after its time, and the retry queue delivers a message no earlier than its due
        // second: a delay not yet due was replayed or forged. The delay item (if it is still there) is the
        // sweep's when it falls due.
        if delay.due_at > now.unix_timestamp() {
            tracing::warn!(
                run = delay.run_id.as_str(),
                attempt = delay.attempt,
                due_at = delay.due_at,
                early_seconds = delay.due_at - now.unix_timestamp(),
                "a retry not yet due was fired (a replayed or forged record or message): left to the sweep"
            );
            return Ok(Fired::NotDue);
        }
        let at = now;
        let claim = AttemptItem::claim(
            &self.namespace,
            &delay.run_id,
            delay.attempt,
            at,
            now.unix_timestamp() + self.settings.launch_lease_seconds,
        );
        let claimed = self.store.claim_retry(&claim, at).await?;
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
        let run = match known.filter(|r| r.run_id == delay.run_id) {
            Some(read) => {
                let mut run = read.clone();
                run.status = RunStatus::Launching;
                run.attempt = delay.attempt;
                run.updated_at = at;
                run.next_retry_at = None;
                run
            }
            None => match self.store.run(&delay.run_id).await? {
                Some(run) => run,
                None => return Ok(Fired::Stale),
            },
        };
        // Counted once per retry: only the claimer gets here.
        let late = (now.unix_timestamp() - delay.due_at).max(0) as f64;
        self.metrics
            .record(&run.job, Metric::RetryLateness { seconds: late });
        let job = job_of(&run)?;
        Ok(Fired::Launched(
            self.launch(&run, &job, delay.attempt, ClaimOf::New, now)
                .await?,
        ))
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
}
