//! The job registry: the job files `jobs apply` wrote, one item each under `JOBS`, read by a registered job's
//! tick and listed by one Query. Every write is conditional on the revision the writer saw.

use super::dynamo::{item, read_item, service};
use super::{Changed, DynamoStore, StoreError};
use crate::records::{stamp, JobItem, MissedTickItem, REGISTRY_PK};
use aws_sdk_dynamodb::error::ProvideErrorMetadata;
use aws_sdk_dynamodb::types::AttributeValue;
use std::future::Future;
use time::OffsetDateTime;

/// The job registry.
pub trait Registry: Send + Sync {
    /// A registered job, read consistently.
    fn registered_job(
        &self,
        job: &str,
    ) -> impl Future<Output = Result<Option<JobItem>, StoreError>> + Send;
    /// Every registered job, by name.
    fn registered_jobs(&self) -> impl Future<Output = Result<Vec<JobItem>, StoreError>> + Send;
    /// Writes a job's spec, only over `expected` (the revision the caller planned from; `None`: the job is not
    /// registered). Who suspended the job is kept.
    fn register_job(
        &self,
        job: &JobItem,
        expected: Option<u64>,
    ) -> impl Future<Output = Result<Changed, StoreError>> + Send;
    /// Removes a registered job, only at revision `expected`.
    fn unregister_job(
        &self,
        job: &str,
        expected: u64,
    ) -> impl Future<Output = Result<Changed, StoreError>> + Send;
    /// Suspends a registered job (`Some(by)`) or resumes it (`None`), only at revision `expected`, and counts
    /// it as a revision (an apply planned before it is refused rather than undo it).
    fn suspend_job(
        &self,
        job: &str,
        by: Option<&str>,
        at: OffsetDateTime,
        expected: u64,
    ) -> impl Future<Output = Result<Changed, StoreError>> + Send;
    /// Records a tick that started no run, once: `Changed` the first time, `Refused` when it is recorded already
    /// (another sweep noticed it first).
    fn record_missed_tick(
        &self,
        missed: &MissedTickItem,
    ) -> impl Future<Output = Result<Changed, StoreError>> + Send;
    /// Records what was written to the job's schedule (`None`: it has none), only at revision `expected`.
    fn mark_schedule_applied(
        &self,
        job: &str,
        expected: u64,
        fingerprint: Option<&str>,
    ) -> impl Future<Output = Result<Changed, StoreError>> + Send;
}

impl Registry for DynamoStore {
    async fn registered_job(&self, job: &str) -> Result<Option<JobItem>, StoreError> {
        self.get(REGISTRY_PK.into(), job.into()).await
    }

    async fn registered_jobs(&self) -> Result<Vec<JobItem>, StoreError> {
        let mut jobs = Vec::new();
        let mut pages = self
            .client
            .query()
            .table_name(&self.table)
            .key_condition_expression("pk = :pk")
            .expression_attribute_values(":pk", AttributeValue::S(REGISTRY_PK.into()))
            .consistent_read(true)
            .into_paginator()
            .items()
            .send();
        while let Some(item) = pages.next().await {
            jobs.push(read_item(&item.map_err(service)?)?);
        }
        Ok(jobs)
    }

    async fn register_job(
        &self,
        job: &JobItem,
        expected: Option<u64>,
    ) -> Result<Changed, StoreError> {
        // An update, not a put: the suspension on-call set stays whatever the apply says.
        let mut values = item(job)?;
        for key in ["pk", "sk", "suspendedBy", "suspendedAt", "scheduleApplied"] {
            values.remove(key);
        }
        let names: Vec<String> = values.keys().cloned().collect();
        let set: Vec<String> = names
            .iter()
            .enumerate()
            .map(|(i, _)| format!("#f{i} = :f{i}"))
            .collect();
        // A spec without sealed values (none to seal, or no key) must not keep the previous spec's.
        let remove = if names.iter().any(|n| n == "sealedOverrides") {
            ""
        } else {
            " REMOVE sealedOverrides"
        };
        let mut update = self
            .client
            .update_item()
            .table_name(&self.table)
            .key("pk", AttributeValue::S(job.pk.clone()))
            .key("sk", AttributeValue::S(job.sk.clone()))
            .update_expression(format!("SET {}{remove}", set.join(", ")));
        for (i, name) in names.iter().enumerate() {
            update = update
                .expression_attribute_names(format!("#f{i}"), name)
                .expression_attribute_values(
                    format!(":f{i}"),
                    values
                        .get(name)
                        .cloned()
                        .unwrap_or(AttributeValue::Null(true)),
                );
        }
        let update = match expected {
            None => update.condition_expression("attribute_not_exists(pk)"),
            Some(revision) => update
                .condition_expression("revision = :seen")
                .expression_attribute_values(":seen", AttributeValue::N(revision.to_string())),
        };
        conditional(update.send().await, |e| {
            e.is_conditional_check_failed_exception()
        })
    }

    async fn unregister_job(&self, job: &str, expected: u64) -> Result<Changed, StoreError> {
        let result = self
            .client
            .delete_item()
            .table_name(&self.table)
            .key("pk", AttributeValue::S(REGISTRY_PK.into()))
            .key("sk", AttributeValue::S(job.into()))
            .condition_expression("revision = :seen")
            .expression_attribute_values(":seen", AttributeValue::N(expected.to_string()))
            .send()
            .await;
        conditional(result, |e| e.is_conditional_check_failed_exception())
    }

    async fn suspend_job(
        &self,
        job: &str,
        by: Option<&str>,
        at: OffsetDateTime,
        expected: u64,
    ) -> Result<Changed, StoreError> {
        let update = self
            .registry_update(job, expected)
            .expression_attribute_values(":next", AttributeValue::N((expected + 1).to_string()));
        let update = match by {
            Some(by) => update
                .update_expression("SET suspendedBy = :by, suspendedAt = :at, revision = :next")
                .expression_attribute_values(":by", AttributeValue::S(by.into()))
                .expression_attribute_values(":at", AttributeValue::S(stamp(at))),
            // When it was resumed: ticks before that were not the schedule's to fire (MISSED counts from here).
            None => update
                .update_expression(
                    "SET revision = :next, resumedAt = :at REMOVE suspendedBy, suspendedAt",
                )
                .expression_attribute_values(":at", AttributeValue::S(stamp(at))),
        };
        conditional(update.send().await, |e| {
            e.is_conditional_check_failed_exception()
        })
    }

    async fn record_missed_tick(&self, missed: &MissedTickItem) -> Result<Changed, StoreError> {
        let put = self
            .client
            .put_item()
            .table_name(self.table())
            .set_item(Some(item(missed)?))
            .condition_expression("attribute_not_exists(pk)");
        conditional(put.send().await, |e| {
            e.is_conditional_check_failed_exception()
        })
    }

    async fn mark_schedule_applied(
        &self,
        job: &str,
        expected: u64,
        fingerprint: Option<&str>,
    ) -> Result<Changed, StoreError> {
        let update = self.registry_update(job, expected);
        let update = match fingerprint {
            Some(f) => update
                .update_expression("SET scheduleApplied = :f")
                .expression_attribute_values(":f", AttributeValue::S(f.into())),
            None => update.update_expression("REMOVE scheduleApplied"),
        };
        conditional(update.send().await, |e| {
            e.is_conditional_check_failed_exception()
        })
    }
}

impl DynamoStore {
    /// An update of a registered job, only at revision `expected`.
    fn registry_update(
        &self,
        job: &str,
        expected: u64,
    ) -> aws_sdk_dynamodb::operation::update_item::builders::UpdateItemFluentBuilder {
        self.client
            .update_item()
            .table_name(&self.table)
            .key("pk", AttributeValue::S(REGISTRY_PK.into()))
            .key("sk", AttributeValue::S(job.into()))
            .condition_expression("revision = :seen")
            .expression_attribute_values(":seen", AttributeValue::N(expected.to_string()))
    }
}

/// A conditional write's result: refused when its condition did not hold (the operation's typed error says
/// so), else AWS's failure.
fn conditional<T, E, R>(
    result: Result<T, aws_sdk_dynamodb::error::SdkError<E, R>>,
    condition_failed: impl Fn(&E) -> bool,
) -> Result<Changed, StoreError>
where
    E: std::error::Error + ProvideErrorMetadata + Send + Sync + 'static,
    R: std::fmt::Debug + Send + Sync + 'static,
{
    match result {
        Ok(_) => Ok(Changed::Changed),
        Err(e) if e.as_service_error().is_some_and(&condition_failed) => Ok(Changed::Refused),
        Err(e) => Err(service(e)),
    }
}
