//! Runs and their requests: create (with the job lock), read, cancel, redrive.

use super::dynamo::transaction_error;
use super::expression::{set_clause, status_condition, status_fields};
use super::{Changed, Created, DynamoStore, StoreError};
use crate::records::{
    attempt_sk, delay_sk, lock_pk, run_pk, stamp, AttemptItem, LockItem, RunItem, LOCK_SK, RUN_SK,
};
use aws_sdk_dynamodb::types::AttributeValue;
use reactor_core::transition::RunEvent;
use std::future::Future;
use time::OffsetDateTime;

/// Runs and their requests: create (with the job lock), read, cancel, redrive.
pub trait Runs: Send + Sync {
    /// Creates the run and claims its first attempt, both or neither.
    fn create_run(
        &self,
        run: &RunItem,
        first: &AttemptItem,
    ) -> impl Future<Output = Result<Created, StoreError>> + Send;
    /// Like `create_run`, and takes the job's lock in the same transaction: only if the lock names
    /// `expected` (the finished or replaced run the caller saw), or there is none (`expected` is `None`).
    fn create_locked_run(
        &self,
        run: &RunItem,
        first: &AttemptItem,
        lock: &LockItem,
        expected: Option<&str>,
    ) -> impl Future<Output = Result<Created, StoreError>> + Send;
    /// The job's lock, if it has one.
    fn job_lock(
        &self,
        job: &str,
    ) -> impl Future<Output = Result<Option<LockItem>, StoreError>> + Send;
    /// Records a run that was not started (SKIPPED), once.
    fn record_skipped(
        &self,
        run: &RunItem,
    ) -> impl Future<Output = Result<Created, StoreError>> + Send;
    fn run(&self, run_id: &str)
        -> impl Future<Output = Result<Option<RunItem>, StoreError>> + Send;
    fn attempt(
        &self,
        run_id: &str,
        attempt: u32,
    ) -> impl Future<Output = Result<Option<AttemptItem>, StoreError>> + Send;
    /// Cancels a run that is LAUNCHING, RUNNING or waiting for a retry on attempt `attempt`, and removes the
    /// pending delay item in the same transaction, so neither the TTL path nor the sweep launches again.
    fn cancel_run(
        &self,
        run_id: &str,
        attempt: u32,
        by: &str,
        at: OffsetDateTime,
    ) -> impl Future<Output = Result<Changed, StoreError>> + Send;
    /// Redrives a FAILED or CANCELLED run whose last attempt is `claim.attempt - 1`: the run goes back to
    /// LAUNCHING with `claim` as its next attempt and a fresh budget counted from it; history is kept and
    /// the outcome will be published again.
    /// With `lock` (a job with `concurrency` FORBID or REPLACE), the job's lock is taken over in the same
    /// transaction, only from the holder the caller saw (`None`: no lock yet).
    fn redrive_run(
        &self,
        claim: &AttemptItem,
        by: &str,
        at: OffsetDateTime,
        lock: Option<(&LockItem, Option<&str>)>,
    ) -> impl Future<Output = Result<Changed, StoreError>> + Send;
    /// Several runs in one read (strongly consistent; at most [`RUNS_READ_AT_ONCE`]): those the table has and
    /// DynamoDB returned at once (a key it left unprocessed is simply not there: the caller reads it alone).
    fn runs(
        &self,
        run_ids: &[&str],
    ) -> impl Future<Output = Result<Vec<RunItem>, StoreError>> + Send;
}

/// BatchGetItem's limit.
pub const RUNS_READ_AT_ONCE: usize = 100;

impl Runs for DynamoStore {
    async fn runs(&self, run_ids: &[&str]) -> Result<Vec<RunItem>, StoreError> {
        let keys: Vec<_> = run_ids
            .iter()
            .take(RUNS_READ_AT_ONCE)
            .map(|id| {
                std::collections::HashMap::from([
                    ("pk".to_owned(), AttributeValue::S(run_pk(id))),
                    ("sk".to_owned(), AttributeValue::S(RUN_SK.to_owned())),
                ])
            })
            .collect();
        if keys.is_empty() {
            return Ok(Vec::new());
        }
        let wanted = aws_sdk_dynamodb::types::KeysAndAttributes::builder()
            .set_keys(Some(keys))
            .consistent_read(true)
            .build()
            .map_err(|e| StoreError::Corrupt {
                key: "(runs read at once)".into(),
                message: e.to_string(),
            })?;
        let out = self
            .client
            .batch_get_item()
            .request_items(&self.table, wanted)
            .send()
            .await
            .map_err(super::dynamo::service)?;
        out.responses()
            .and_then(|tables| tables.get(&self.table))
            .map(|items| items.iter().map(super::dynamo::read_item).collect())
            .unwrap_or_else(|| Ok(Vec::new()))
    }

    async fn create_run(&self, run: &RunItem, first: &AttemptItem) -> Result<Created, StoreError> {
        let (put_run, put_attempt) = (self.put_new(run)?, self.put_new(first)?);
        let result = self
            .client
            .transact_write_items()
            // DynamoDB makes a retried transaction with the same token a no-op for 10 minutes, so a lost
            // response does not turn into "already exists" (local emulators ignore it; callers cope either way).
            .client_request_token(reactor_core::run::create_token(&self.table, &run.run_id))
            .transact_items(put_run)
            .transact_items(put_attempt)
            .send()
            .await;
        use aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError;
        match result {
            Ok(_) => Ok(Created::New),
            // The token's transaction created the run within the last ten minutes with other parameters: an
            // earlier delivery of this start (its values sealed anew, or its time a second earlier). The run
            // exists; the caller compares the requests. (Local emulators ignore tokens.)
            Err(e)
                if matches!(
                    e.as_service_error(),
                    Some(TransactWriteItemsError::IdempotentParameterMismatchException(_))
                ) =>
            {
                Ok(Created::AlreadyExists)
            }
            Err(e) => match transaction_error(e) {
                e if e.is_conditional_check_failed() => Ok(Created::AlreadyExists),
                e => Err(e),
            },
        }
    }

    async fn create_locked_run(
        &self,
        run: &RunItem,
        first: &AttemptItem,
        lock: &LockItem,
        expected: Option<&str>,
    ) -> Result<Created, StoreError> {
        let result = self
            .client
            .transact_write_items()
            .transact_items(self.put_new(run)?)
            .transact_items(self.put_new(first)?)
            .transact_items(self.put_lock(lock, expected)?)
            .send()
            .await;
        match result.map_err(transaction_error) {
            Ok(_) => Ok(Created::New),
            // The reasons come one per item, in order: the run's first.
            Err(StoreError::ConditionFailed(reasons))
                if reasons.split(',').next() == Some("ConditionalCheckFailed") =>
            {
                Ok(Created::AlreadyExists)
            }
            Err(e) if e.is_conditional_check_failed() => Ok(Created::LockTaken),
            Err(e) => Err(e),
        }
    }

    async fn job_lock(&self, job: &str) -> Result<Option<LockItem>, StoreError> {
        self.get(lock_pk(job), LOCK_SK.to_owned()).await
    }

    async fn record_skipped(&self, run: &RunItem) -> Result<Created, StoreError> {
        match self.change(vec![self.put_new(run)?]).await? {
            Changed::Changed => Ok(Created::New),
            Changed::Refused => Ok(Created::AlreadyExists),
        }
    }

    async fn run(&self, run_id: &str) -> Result<Option<RunItem>, StoreError> {
        self.get(run_pk(run_id), RUN_SK.to_owned()).await
    }

    async fn attempt(&self, run_id: &str, attempt: u32) -> Result<Option<AttemptItem>, StoreError> {
        self.get(run_pk(run_id), attempt_sk(attempt)).await
    }

    async fn cancel_run(
        &self,
        run_id: &str,
        attempt: u32,
        by: &str,
        at: OffsetDateTime,
    ) -> Result<Changed, StoreError> {
        let at = &stamp(at);
        let s = |v: &str| AttributeValue::S(v.to_owned());
        let mut fields = vec![("cancelledBy", s(by)), ("cancelledAt", s(at))];
        fields.extend(status_fields(RunEvent::Cancelled.to(), at, run_id));
        let (mut expression, mut names, mut values) = set_clause(fields);
        expression.push_str(" REMOVE #nextRetryAt");
        names.insert("#nextRetryAt".into(), "nextRetryAt".into());
        names.insert("#cond_status".into(), "status".into());
        names.insert("#cond_attempt".into(), "attempt".into());
        values.insert(":cond_n".into(), AttributeValue::N(attempt.to_string()));
        let condition = format!(
            "#cond_attempt = :cond_n AND {}",
            status_condition("#cond_status", RunEvent::Cancelled, &mut values)
        );
        let update_run = self.conditional_update(
            (run_pk(run_id), RUN_SK.to_owned()),
            expression,
            &condition,
            names,
            values,
        )?;
        self.change(vec![
            update_run,
            self.delete(run_id, &delay_sk(attempt + 1))?,
        ])
        .await
    }

    async fn redrive_run(
        &self,
        claim: &AttemptItem,
        by: &str,
        at: OffsetDateTime,
        lock: Option<(&LockItem, Option<&str>)>,
    ) -> Result<Changed, StoreError> {
        let at = &stamp(at);
        let s = |v: &str| AttributeValue::S(v.to_owned());
        let n = |v: u32| AttributeValue::N(v.to_string());
        let run_id = claim.run_id.as_str();
        let mut fields = vec![
            ("attempt", n(claim.attempt)),
            ("countsFrom", n(claim.attempt)),
            ("disruptions", n(0)),
            ("redrivenBy", s(by)),
            ("redrivenAt", s(at)),
        ];
        fields.extend(status_fields(RunEvent::Redriven.to(), at, run_id));
        let (mut expression, mut names, mut values) = set_clause(fields);
        expression.push_str(
            ", #redrives = if_not_exists(#redrives, :zero) + :one REMOVE #notified, #lease, #nextRetryAt, dueShard, dueAt",
        );
        for (placeholder, name) in [
            ("#redrives", "redrives"),
            ("#notified", "notifiedAt"),
            ("#lease", "notifyLeaseUntil"),
            ("#nextRetryAt", "nextRetryAt"),
            ("#cond_status", "status"),
            ("#cond_attempt", "attempt"),
        ] {
            names.insert(placeholder.into(), name.into());
        }
        values.insert(":zero".into(), n(0));
        values.insert(":one".into(), n(1));
        values.insert(":cond_n".into(), n(claim.attempt.saturating_sub(1)));
        let condition = format!(
            "#cond_attempt = :cond_n AND {}",
            status_condition("#cond_status", RunEvent::Redriven, &mut values)
        );
        let update_run = self.conditional_update(
            (run_pk(run_id), RUN_SK.to_owned()),
            expression,
            &condition,
            names,
            values,
        )?;
        let mut items = vec![
            update_run,
            self.put_new(claim)?,
            // A delay item for this attempt can only be a leftover; the sweep must not find it.
            self.delete(run_id, &delay_sk(claim.attempt))?,
        ];
        if let Some((lock, expected)) = lock {
            items.push(self.put_lock(lock, expected)?);
        }
        self.change(items).await
    }
}
