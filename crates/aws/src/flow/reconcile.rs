//! Reconciliation: a run whose STOPPED event never reached the classifier (a rule disabled during a deploy, an
//! invocation that failed until it was dead-lettered, an EventBridge problem) is found by the sweep and judged
//! from what ECS says — through [`Reactor::judge_stop`], the very path its event takes, so whichever of the
//! two comes second is a duplicate.
//!
//! Each sweep looks at RUNNING runs with no change for `reconcile_after_seconds`, oldest first from where the
//! last sweep stopped (a cursor item), at most `reconcile_batch` of them: one Query, two reads per run, one
//! DescribeTasks per 100 tasks of a cluster, one write for the cursor, and the decisions it applies.
//! A task ECS still runs is left alone; a STOPPED one is judged as its event would have been; one ECS no
//! longer knows (forgotten an hour after it stopped) is judged by the `task-vanished` rule.

use super::*;
use crate::described::Described;
use crate::launcher::DESCRIBE_TASKS_MAX;
use crate::store::QuietRun;
use reactor_core::judge::vanished_task;
use reactor_core::step::time_to_reconcile;
use std::collections::BTreeMap;

/// What one reconciliation did.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Reconciled {
    /// Quiet RUNNING runs looked at.
    pub checked: usize,
    /// Their task still runs (a long job): nothing to do.
    pub alive: usize,
    /// Judged from what ECS said, their event lost: the decision was applied.
    pub judged: usize,
    /// Of those, tasks ECS no longer knew (`task-vanished`).
    pub vanished: usize,
    /// The run moved on meanwhile (its event arrived, it was cancelled), or its task was stopped at its
    /// deadline less than the interval ago (its event is due): nothing to do now.
    pub moved_on: usize,
    /// Checks that failed (the next sweep checks again).
    pub failed: usize,
}

/// A quiet run's current attempt, to be asked about.
struct Suspect {
    job: String,
    task_definition: String,
    task_arn: String,
    attempt: AttemptRef,
}

impl<S: Store, L: Launcher, N: Notifier> Reactor<S, L, N> {
    /// Checks quiet RUNNING runs against ECS and judges those whose task stopped without its event reaching us.
    pub async fn reconcile(&self, now: OffsetDateTime) -> Result<Reconciled, FlowError> {
        let mut done = Reconciled::default();
        let after = self.store.reconcile_cursor().await?;
        let quiet_since = now - time::Duration::seconds(self.settings.reconcile_after_seconds);
        let page = self
            .store
            .quiet_runs(
                RunStatus::Running,
                &after,
                quiet_since,
                self.settings.reconcile_batch,
            )
            .await?;
        // A short page reached the end: the next sweep starts again from the oldest.
        let next = match page.last() {
            Some(last) if page.len() >= self.settings.reconcile_batch as usize => {
                last.sort_key.clone()
            }
            _ => String::new(),
        };
        let mut by_cluster: BTreeMap<Option<String>, Vec<Suspect>> = BTreeMap::new();
        for QuietRun { run_id, .. } in &page {
            done.checked += 1;
            match self.suspect(run_id, now).await {
                Ok(Some((cluster, suspect))) => {
                    by_cluster.entry(cluster).or_default().push(suspect)
                }
                Ok(None) => done.moved_on += 1,
                Err(e) => {
                    done.failed += 1;
                    tracing::error!(run = run_id.as_str(), error = %e, "reconciling: the run could not be read; the next sweep tries again");
                }
            }
        }
        for (cluster, suspects) in &by_cluster {
            for chunk in suspects.chunks(DESCRIBE_TASKS_MAX) {
                let arns: Vec<String> = chunk.iter().map(|s| s.task_arn.clone()).collect();
                match self
                    .launcher
                    .describe_tasks(cluster.as_deref(), &arns)
                    .await
                {
                    Ok(described) => {
                        for suspect in chunk {
                            self.reconcile_one(suspect, &described, now, &mut done)
                                .await;
                        }
                    }
                    Err(e) => {
                        done.failed += chunk.len();
                        tracing::error!(cluster = cluster.as_deref().unwrap_or("default"), tasks = chunk.len(), error = %e, "reconciling: DescribeTasks failed; the next sweep tries again");
                    }
                }
            }
        }
        self.store.save_reconcile_cursor(&next).await?;
        Ok(done)
    }

    /// The run's current attempt and its cluster, if the run still waits for that attempt's task.
    async fn suspect(
        &self,
        run_id: &str,
        now: OffsetDateTime,
    ) -> Result<Option<(Option<String>, Suspect)>, FlowError> {
        let Some(run) = self.store.run(run_id).await? else {
            return Ok(None);
        };
        if run.status != RunStatus::Running {
            return Ok(None);
        }
        let Some(attempt) = self.store.attempt(run_id, run.attempt).await? else {
            return Ok(None);
        };
        let Some(task_arn) = attempt
            .task_arn
            .clone()
            .filter(|_| attempt.state == AttemptState::Launched)
        else {
            return Ok(None);
        };
        let quiet = time_to_reconcile(
            run.updated_at.unix_timestamp(),
            attempt.deadline_at.map(OffsetDateTime::unix_timestamp),
            now.unix_timestamp(),
            self.settings.reconcile_after_seconds,
        );
        if !quiet {
            return Ok(None);
        }
        let job = job_of(&run)?;
        Ok(Some((
            job.run_task.cluster.clone(),
            Suspect {
                job: run.job.clone(),
                task_definition: job.run_task.task_definition.clone(),
                task_arn,
                attempt: attempt.attempt_ref(),
            },
        )))
    }

    /// Judges one suspect from what DescribeTasks said about it.
    async fn reconcile_one(
        &self,
        suspect: &Suspect,
        described: &Described,
        now: OffsetDateTime,
        done: &mut Reconciled,
    ) {
        let (run_id, n) = (suspect.attempt.run_id.as_str(), suspect.attempt.attempt);
        let arn = suspect.task_arn.as_str();
        let (task, vanished) = match described.tasks.iter().find(|t| t.task_arn == arn) {
            Some(task) if task.last_status != "STOPPED" => {
                done.alive += 1;
                return;
            }
            Some(task) => (task.clone(), false),
            None if described.missing.iter().any(|m| m == arn) => (
                Task {
                    task_definition_arn: suspect.task_definition.clone(),
                    ..vanished_task(arn)
                },
                true,
            ),
            None => {
                let reason = described
                    .other_failures
                    .iter()
                    .find(|(a, _)| a == arn)
                    .map_or("not in the answer", |(_, r)| r.as_str());
                done.failed += 1;
                tracing::warn!(
                    run = run_id,
                    attempt = n,
                    task = arn,
                    reason,
                    "reconciling: ECS did not describe the task; the next sweep asks again"
                );
                return;
            }
        };
        match self.judge_stop(&task, &suspect.attempt, now).await {
            Ok(Judged::Applied { decision, .. }) => {
                done.judged += 1;
                if vanished {
                    done.vanished += 1;
                }
                self.metrics.record(&suspect.job, Metric::RunReconciled);
                tracing::warn!(
                    job = suspect.job.as_str(),
                    run = run_id,
                    attempt = n,
                    task = arn,
                    action = decision.action.as_str(),
                    rule = decision.rule_id.as_str(),
                    vanished,
                    "reconciled: the task stopped and its STOPPED event never arrived; judged from DescribeTasks"
                );
            }
            Ok(_) => done.moved_on += 1,
            Err(e) => {
                done.failed += 1;
                tracing::error!(run = run_id, attempt = n, task = arn, error = %e, "reconciling: judging the stopped task failed; the next sweep tries again");
            }
        }
    }
}
