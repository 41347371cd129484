//! What on-call reads: a run's story, runs of a job, runs in a status, the run of a task. Each is one Query
//! (the access patterns in docs/ARCHITECTURE.md and the README's runbook); nothing here scans the table.

use crate::records::{
    is_delay_sk, job_key, run_id_of_item, run_pk, status_key, AttemptItem, DelayItem, RunItem,
    ALL_RUNS_KEY, BY_CREATED, BY_JOB, BY_STATUS, RUN_SK,
};
use crate::store::{built, read_item, service, DynamoStore, StoreError};
use aws_sdk_dynamodb::types::{AttributeValue, KeysAndAttributes};
use reactor_core::run::RunStatus;
use std::collections::HashMap;

/// A run and everything under it, in order.
#[derive(Debug, Clone, PartialEq)]
pub struct RunStory {
    pub run: RunItem,
    pub attempts: Vec<AttemptItem>,
    /// A pending delayed retry, if one is waiting.
    pub delays: Vec<DelayItem>,
}

impl DynamoStore {
    /// The run's partition: one Query. `None` if there is no such run.
    pub async fn story(&self, run_id: &str) -> Result<Option<RunStory>, StoreError> {
        let mut items = Vec::new();
        let mut start = None;
        loop {
            let out = self
                .client()
                .query()
                .table_name(self.table())
                .key_condition_expression("pk = :pk")
                .expression_attribute_values(":pk", AttributeValue::S(run_pk(run_id)))
                .consistent_read(true)
                .set_exclusive_start_key(start)
                .send()
                .await
                .map_err(service)?;
            items.extend(out.items().iter().cloned());
            start = out.last_evaluated_key;
            if start.is_none() {
                break;
            }
        }
        let mut run = None;
        let (mut attempts, mut delays) = (Vec::new(), Vec::new());
        for item in &items {
            match item
                .get("sk")
                .and_then(|v| v.as_s().ok())
                .map(String::as_str)
            {
                Some("RUN") => run = Some(read_item(item)?),
                Some(sk) if sk.starts_with("ATTEMPT#") => attempts.push(read_item(item)?),
                Some(sk) if is_delay_sk(sk) => delays.push(read_item(item)?),
                _ => {}
            }
        }
        Ok(run.map(|run| RunStory {
            run,
            attempts,
            delays,
        }))
    }

    /// The run id of the run that launched `task_arn`, through the `byTask` index.
    pub async fn run_of_task(&self, task_arn: &str) -> Result<Option<String>, StoreError> {
        let out = self
            .client()
            .query()
            .table_name(self.table())
            .index_name("byTask")
            .key_condition_expression("taskArn = :arn")
            .expression_attribute_values(":arn", AttributeValue::S(task_arn.to_owned()))
            .send()
            .await
            .map_err(service)?;
        Ok(out.items().iter().find_map(run_id_of_item))
    }

    /// Runs of `job` created at or after `since` (RFC 3339), newest first; optionally only in `status`.
    pub async fn runs_of_job(
        &self,
        job: &str,
        since: &str,
        status: Option<RunStatus>,
        limit: usize,
    ) -> Result<Vec<RunItem>, StoreError> {
        let query = self
            .index_query(
                &BY_JOB,
                job_key(job),
                ">=",
                AttributeValue::S(since.to_owned()),
            )
            .scan_index_forward(false);
        // The index is keys-only: the status is checked on the run items read by key.
        self.collect(query, limit, status).await
    }

    /// Runs that entered `status` at or after `since`, most recent change first.
    pub async fn runs_in_status(
        &self,
        status: RunStatus,
        since: &str,
        limit: usize,
    ) -> Result<Vec<RunItem>, StoreError> {
        let query = self
            .index_query(
                &BY_STATUS,
                status_key(status),
                ">=",
                AttributeValue::S(since.to_owned()),
            )
            .scan_index_forward(false);
        // A run that moved on since the index was written is left out: it is no longer in `status`.
        self.collect(query, limit, Some(status)).await
    }

    /// Runs of every job created at or after `since`, newest first: one Query on the keys-only `byCreated`
    /// index, then the run items by key (BatchGetItem, up to 100 a call).
    pub async fn recent_runs(&self, since: &str, limit: usize) -> Result<Vec<RunItem>, StoreError> {
        let out = self
            .index_query(
                &BY_CREATED,
                ALL_RUNS_KEY.into(),
                ">=",
                AttributeValue::S(since.to_owned()),
            )
            .scan_index_forward(false)
            .limit(i32::try_from(limit).unwrap_or(i32::MAX))
            .send()
            .await
            .map_err(service)?;
        let keys = partition_keys(out.items());
        let mut runs = self.runs_by_keys(&keys).await?;
        // BatchGetItem answers in any order.
        runs.sort_by(|a, b| b.by_created_sk.cmp(&a.by_created_sk));
        Ok(runs)
    }

    /// Follows a keys-only index query's pages, reading the runs by key, until `limit` runs (in `status`,
    /// when given) are found; in the index's order.
    async fn collect(
        &self,
        query: aws_sdk_dynamodb::operation::query::builders::QueryFluentBuilder,
        limit: usize,
        status: Option<RunStatus>,
    ) -> Result<Vec<RunItem>, StoreError> {
        let mut runs = Vec::new();
        let mut start = None;
        loop {
            let out = query
                .clone()
                .set_exclusive_start_key(start)
                .send()
                .await
                .map_err(service)?;
            let keys = partition_keys(out.items());
            let mut read = self.runs_by_keys(&keys).await?;
            for pk in &keys {
                if let Some(i) = read.iter().position(|r| run_pk(&r.run_id) == *pk) {
                    let run = read.swap_remove(i);
                    if status.is_none_or(|s| run.status == s) {
                        runs.push(run);
                        if runs.len() >= limit {
                            return Ok(runs);
                        }
                    }
                }
            }
            start = out.last_evaluated_key;
            if start.is_none() {
                return Ok(runs);
            }
        }
    }

    /// The run items of these partition keys (BatchGetItem, up to 100 a call), in any order.
    async fn runs_by_keys(&self, keys: &[String]) -> Result<Vec<RunItem>, StoreError> {
        let mut runs = Vec::with_capacity(keys.len());
        for chunk in keys.chunks(100) {
            let mut pending: Vec<HashMap<String, AttributeValue>> = chunk
                .iter()
                .map(|pk| {
                    HashMap::from([
                        ("pk".to_owned(), AttributeValue::S(pk.clone())),
                        ("sk".to_owned(), AttributeValue::S(RUN_SK.into())),
                    ])
                })
                .collect();
            // BatchGetItem may leave keys unprocessed under load: ask again for those, a few times.
            for _ in 0..5 {
                if pending.is_empty() {
                    break;
                }
                let request = built(
                    KeysAndAttributes::builder()
                        .set_keys(Some(std::mem::take(&mut pending)))
                        .build(),
                )?;
                let out = self
                    .client()
                    .batch_get_item()
                    .request_items(self.table(), request)
                    .send()
                    .await
                    .map_err(service)?;
                for item in out
                    .responses()
                    .and_then(|r| r.get(self.table()))
                    .into_iter()
                    .flatten()
                {
                    runs.push(read_item::<RunItem>(item)?);
                }
                pending = out
                    .unprocessed_keys()
                    .and_then(|u| u.get(self.table()))
                    .map(|k| k.keys().to_vec())
                    .unwrap_or_default();
            }
            if !pending.is_empty() {
                return Err(StoreError::Service(format!(
                    "{} runs could not be read (throttled); try again",
                    pending.len()
                )));
            }
        }
        Ok(runs)
    }
}

/// The partition keys (`RUN#<run id>`) of a keys-only index's answer, in its order.
fn partition_keys(items: &[HashMap<String, AttributeValue>]) -> Vec<String> {
    items
        .iter()
        .filter_map(|i| i.get("pk").and_then(|v| v.as_s().ok()).cloned())
        .collect()
}
