//! Override values at rest: a new run's environment values and command arguments are sealed before the run
//! is written (`reactor_core::secrets` splits them out, [`crate::vault`] encrypts them), and opened only for a
//! launch, right before RunTask. Everything else reads the stored request with `(sealed)` in their place,
//! which is all a decision needs.

use super::*;
use reactor_core::secrets::{self, OverrideValues};

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
        if existing.request != new.request {
            return Ok(false);
        }
        match (&existing.sealed_overrides, &new.sealed_overrides) {
            (None, None) => Ok(true),
            (Some(stored), Some(_)) => {
                let opened = self.open(&existing.job, stored).await?;
                Ok(opened == secrets::split(job).1)
            }
            _ => Ok(false),
        }
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
