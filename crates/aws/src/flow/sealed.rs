//! Override values at rest: a new run's environment values and command arguments are sealed before the run
//! is written (`reactor_core::secrets` splits them out, [`crate::vault`] encrypts them), and opened only for a
//! launch, right before RunTask. Everything else reads the stored request with `(sealed)` in their place,
//! which is all a decision needs. The job registry keeps a job file's values the same way: `jobs apply` seals
//! them ([`seal_spec`]), a tick opens them to start its run ([`open_registered`]).

use super::*;
use reactor_core::jobfile::{self, JobFile};
use reactor_core::secrets::{self, OverrideValues};

/// A job file's spec as the registry is to keep it (`jobs apply`): its values sealed with `vault`, when it has
/// values and there is a vault (else as given), and the sealed values.
pub async fn seal_spec(
    vault: Option<&Vault>,
    file: &JobFile,
) -> Result<(serde_json::Value, Option<String>), FlowError> {
    let unreadable = |e: serde_json::Error| FlowError::UnreadableJob {
        job: file.job.job.clone(),
        message: format!("the job cannot be written as JSON ({:?})", e.classify()),
    };
    let (redacted, values) = secrets::split(&file.job);
    let Some(vault) = vault.filter(|_| !values.is_empty()) else {
        return Ok((file.to_value().map_err(unreadable)?, None));
    };
    let sealed = vault.seal(&file.job.job, &values).await?;
    let stored = JobFile {
        job: redacted,
        schedule: file.schedule.clone(),
    };
    Ok((stored.to_value().map_err(unreadable)?, Some(sealed)))
}

/// A registered job's file as `jobs apply` wrote it, its sealed values opened (a tick, `jobs run`, and the next
/// apply's comparison need them). Field paths and positions only in an error, never a value.
pub async fn open_registered(vault: Option<&Vault>, item: &JobItem) -> Result<JobFile, FlowError> {
    let unreadable = |message: String| FlowError::UnreadableJob {
        job: item.job.clone(),
        message,
    };
    let spec = serde_json::from_str(&item.spec).map_err(|e| {
        unreadable(format!(
            "not JSON (line {}, column {})",
            e.line(),
            e.column()
        ))
    })?;
    let mut file = jobfile::read(spec, Some(&item.job)).map_err(|p| unreadable(p.join("; ")))?;
    if let Some(sealed) = &item.sealed_overrides {
        let values = vault
            .ok_or(VaultError::NoKey)?
            .open(&item.job, sealed)
            .await?;
        file.job = secrets::restore(&file.job, &values).map_err(|e| unreadable(e.to_string()))?;
    }
    Ok(file)
}

impl<S: Store, L: Launcher, N: Notifier> Reactor<S, L, N> {
    /// Seals `run`'s request (built from `job`, which has the values) when it has values to seal.
    pub(super) async fn seal_request(
        &self,
        job: &JobRequest,
        run: &mut RunItem,
    ) -> Result<(), FlowError> {
        let (redacted, values) = secrets::split(job);
        if values.is_empty() {
            return Ok(());
        }
        let Some(vault) = &self.vault else {
            // Local runs and stacks without a key: the run works, and says what it stores.
            tracing::warn!(
                run = run.run_id.as_str(),
                job = job.job.as_str(),
                values = values.count(),
                "override values stored unsealed: REACTOR_OVERRIDES_KEY is not set"
            );
            return Ok(());
        };
        run.request = serde_json::to_string(&redacted).map_err(|e| FlowError::CorruptRun {
            run_id: run.run_id.clone(),
            message: e.to_string(),
        })?;
        run.sealed_overrides = Some(vault.seal(&job.job, &values).await?);
        Ok(())
    }

    /// Whether `existing` was started with the same request as `new` (both as [`Reactor::seal_request`] left
    /// them; `job` has the values): the same stored request, and the same values, opened to compare (a fresh
    /// seal never equals another, even of the same values).
    pub(super) async fn same_request(
        &self,
        existing: &RunItem,
        new: &RunItem,
        job: &JobRequest,
    ) -> Result<bool, FlowError> {
        if existing.request == new.request && existing.sealed_overrides.is_none() {
            // Both as given (no key, or nothing to seal): the stored request says it all.
            return Ok(new.sealed_overrides.is_none());
        }
        // Compared as request-without-values and values, whichever way each was stored (a run stored as given
        // before the key, its duplicate sealed after it, is still a duplicate).
        let as_written = |j: &JobRequest| {
            serde_json::to_string(j).map_err(|e| FlowError::CorruptRun {
                run_id: existing.run_id.clone(),
                message: e.to_string(),
            })
        };
        let (redacted, values) = secrets::split(job);
        let (stored, stored_values) = match &existing.sealed_overrides {
            Some(sealed) => (
                existing.request.clone(),
                self.open(&existing.job, sealed).await?,
            ),
            None => match JobRequest::from_json(&existing.request) {
                Ok(stored) => {
                    let (r, v) = secrets::split(&stored);
                    (as_written(&r)?, v)
                }
                Err(_) => return Ok(false),
            },
        };
        Ok(stored == as_written(&redacted)? && stored_values == values)
    }

    /// `job` (the run's request, as stored) with the run's sealed values put back, for RunTask.
    pub(super) async fn unsealed(
        &self,
        run: &RunItem,
        job: &JobRequest,
    ) -> Result<JobRequest, FlowError> {
        let Some(sealed) = &run.sealed_overrides else {
            return Ok(job.clone());
        };
        let values = self.open(&run.job, sealed).await?;
        secrets::restore(job, &values).map_err(|e| FlowError::CorruptRun {
            run_id: run.run_id.clone(),
            message: e.to_string(),
        })
    }

    async fn open(&self, job: &str, sealed: &str) -> Result<OverrideValues, FlowError> {
        let vault = self.vault.as_ref().ok_or(VaultError::NoKey)?;
        Ok(vault.open(job, sealed).await?)
    }
}
