//! A registered job's tick: the job's spec read from the registry (what `ecs-reactor jobs apply` wrote),
//! then a run started as any tick starts one. A suspended job's tick, or one whose file says DISABLED
//! (a tick already on its way when the schedule was turned off), is recorded SKIPPED, not run.

use super::*;
use reactor_core::request::RegisteredTick;

impl<S: Store, L: Launcher, N: Notifier> Reactor<S, L, N> {
    /// Starts the run a registered job's tick names, once however often the tick is delivered.
    pub async fn start_registered(
        &self,
        tick: &RegisteredTick,
        now: OffsetDateTime,
    ) -> Result<Started, FlowError> {
        // Scheduler's own retry of a tick whose run exists is that run's duplicate, whatever the registry says
        // now: a run keeps the spec it started with (an apply in between is no conflict).
        if let Some(existing) = self.store.run(&tick.run_id).await? {
            return self.tick_again(tick, existing, now).await;
        }
        let Some(item) = self.store.registered_job(&tick.job).await? else {
            return Err(FlowError::NotRegistered {
                job: tick.job.clone(),
            });
        };
        // The spec as jobs apply validated it (read again here, since another release may have written it), its
        // sealed values opened: the run seals them again, under its own data key.
        let file = open_registered(self.vault.as_ref(), &item).await?;
        let skipped = match (&item.suspended_by, &file.schedule) {
            (Some(by), _) => Some(("suspended", format!("the job is suspended (by {by})"))),
            (None, Some(s)) if !s.state.is_enabled() => Some((
                "schedule-disabled",
                "the job file's schedule is DISABLED".to_owned(),
            )),
            _ => None,
        };
        let Some((rule_id, reason)) = skipped else {
            return match self
                .start_scheduled(&file.job, &tick.run_id, Some(tick.scheduled_at), now)
                .await
            {
                // Two deliveries of the tick racing an apply: the run the other one created is this tick's.
                Err(FlowError::Conflict { .. }) => match self.store.run(&tick.run_id).await? {
                    Some(existing) => self.tick_again(tick, existing, now).await,
                    None => Err(FlowError::Conflict {
                        run_id: tick.run_id.clone(),
                    }),
                },
                started => started,
            };
        };
        // Not the guard's business: nothing is launched.
        let request = serde_json::to_string(&file.job).map_err(|e| FlowError::CorruptRun {
            run_id: tick.run_id.clone(),
            message: e.to_string(),
        })?;
        let mut run = RunItem::new(&tick.run_id, &file.job.job, request, None, now);
        self.seal_request(&file.job, &mut run).await?;
        run.scheduled_at = Some(tick.scheduled_at);
        if self
            .record_skip(&file.job, &mut run, rule_id, &reason, now)
            .await?
            != Created::New
        {
            // A concurrent delivery got there first: if it started the run, this is its duplicate.
            if let Some(existing) = self.store.run(&tick.run_id).await? {
                if existing.status != RunStatus::Skipped {
                    return self.tick_again(tick, existing, now).await;
                }
            }
        }
        Ok(Started::NotRun {
            run_id: tick.run_id.clone(),
            reason,
        })
    }

    /// A tick whose run exists: a run that started is resumed if its launch was interrupted; a SKIPPED one is
    /// announced again if the job asks for that (once: the notice is deduplicated), in case the first
    /// delivery failed before announcing it.
    async fn tick_again(
        &self,
        tick: &RegisteredTick,
        existing: RunItem,
        now: OffsetDateTime,
    ) -> Result<Started, FlowError> {
        tracing::info!(
            run = tick.run_id.as_str(),
            job = tick.job.as_str(),
            status = existing.status.as_str(),
            "duplicate tick: the run exists already"
        );
        if existing.status != RunStatus::Skipped {
            let resumed = self.resume(&tick.run_id, now).await?;
            return Ok(Started::Duplicate {
                run_id: tick.run_id.clone(),
                resumed,
            });
        }
        let reason = existing
            .last_rule
            .clone()
            .unwrap_or_else(|| "skipped".into());
        let job = JobRequest::from_value(serde_json::from_str(&existing.request).map_err(|e| {
            FlowError::CorruptRun {
                run_id: tick.run_id.clone(),
                message: format!("not JSON (line {}, column {})", e.line(), e.column()),
            }
        })?)
        .map_err(|e| FlowError::CorruptRun {
            run_id: tick.run_id.clone(),
            message: e.to_string(),
        })?;
        if job.announces(RunStatus::Skipped) {
            self.notify_once(&skipped_outcome(&existing, &reason), now)
                .await?;
        }
        Ok(Started::NotRun {
            run_id: tick.run_id.clone(),
            reason,
        })
    }
}
