//! What the sweep reads and discards: due delay and deadline items; the quiet runs it reconciles with ECS, and
//! where its last reconciliation stopped.

use super::dynamo::{read_item, service};
use super::{DynamoStore, StoreError};
use crate::records::{
    deadline_sk, delay_sk, due_shard_key, run_id_of_item, stamp, status_key, DelayItem, DueItem,
    BY_DUE, BY_STATUS, DEADLINE_PREFIX, NOTIFY_DUE_SHARD, RECONCILE_CURSOR_PK, RECONCILE_CURSOR_SK,
};
use aws_sdk_dynamodb::types::AttributeValue;
use reactor_core::run::RunStatus;
use std::future::Future;
use time::OffsetDateTime;

/// A run the sweep may reconcile: its id, and its place in the `byStatus` index (the cursor's unit).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QuietRun {
    pub run_id: String,
    pub sort_key: String,
}

/// What the sweep reads and discards: due delay and deadline items, quiet runs, the reconciliation's cursor.
pub trait Sweeps: Send + Sync {
    /// Runs in `status` whose last change was before `quiet_since`, after `after` in the `byStatus` index
    /// (oldest first; `""` from the start), at most `limit`.
    fn quiet_runs(
        &self,
        status: RunStatus,
        after: &str,
        quiet_since: OffsetDateTime,
        limit: i32,
    ) -> impl Future<Output = Result<Vec<QuietRun>, StoreError>> + Send;
    /// Runs whose outcome's publisher held the right to publish until before `now` and never recorded the
    /// publication (`NOTIFY_DUE_SHARD`), oldest first.
    fn unpublished_runs(
        &self,
        now: i64,
        limit: i32,
    ) -> impl Future<Output = Result<Vec<String>, StoreError>> + Send;
    /// Where the last reconciliation stopped in the `byStatus` index (`""`: at the start).
    fn reconcile_cursor(&self) -> impl Future<Output = Result<String, StoreError>> + Send;
    /// Records where this reconciliation stopped. Concurrent sweeps may overwrite each other: the worst is a run
    /// checked twice, which changes nothing.
    fn save_reconcile_cursor(
        &self,
        after: &str,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;
    /// Delay and deadline items of one sweep shard that are due at `now` (epoch seconds), oldest first.
    fn due_items(
        &self,
        shard: u32,
        now: i64,
        limit: i32,
    ) -> impl Future<Output = Result<Vec<DueItem>, StoreError>> + Send;
    /// Deletes an attempt's deadline item (its task was stopped, or it has nothing left to stop).
    fn discard_deadline(
        &self,
        run_id: &str,
        attempt: u32,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;
    /// Deletes a delay item that no longer stands for a retry (its run was cancelled or moved on), so the
    /// sweep stops finding it.
    fn discard_delay(
        &self,
        run_id: &str,
        attempt: u32,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;
}

impl Sweeps for DynamoStore {
    async fn quiet_runs(
        &self,
        status: RunStatus,
        after: &str,
        quiet_since: OffsetDateTime,
        limit: i32,
    ) -> Result<Vec<QuietRun>, StoreError> {
        // Sort keys are `<updatedAt>#<runId>`: a run that changed in the very second `quiet_since` sorts after
        // this bound, so it is not quiet yet.
        let before = format!("{}#", stamp(quiet_since));
        if after >= before.as_str() {
            return Ok(Vec::new());
        }
        // A key condition may not hold an empty string: from the start, only the upper bound.
        let query = if after.is_empty() {
            self.index_query(
                &BY_STATUS,
                status_key(status),
                "<",
                AttributeValue::S(before),
            )
        } else {
            self.index_query(
                &BY_STATUS,
                status_key(status),
                "BETWEEN",
                AttributeValue::S(after.to_owned()),
            )
            .key_condition_expression("#pk = :key AND #sk BETWEEN :value AND :high")
            .expression_attribute_values(":high", AttributeValue::S(before))
        };
        // BETWEEN includes the cursor's own run, left out below: one more to read for a full page.
        let read = if after.is_empty() {
            limit
        } else {
            limit.saturating_add(1)
        };
        let out = query.limit(read).send().await.map_err(service)?;
        Ok(out
            .items()
            .iter()
            .filter_map(|item| {
                let run_id = run_id_of_item(item)?;
                let sort_key = item.get(BY_STATUS.sort_key)?.as_s().ok()?.clone();
                // BETWEEN includes its bounds: the cursor's own run was checked last time.
                (sort_key != after).then_some(QuietRun { run_id, sort_key })
            })
            .take(usize::try_from(limit).unwrap_or(0))
            .collect())
    }

    async fn unpublished_runs(&self, now: i64, limit: i32) -> Result<Vec<String>, StoreError> {
        let out = self
            .index_query(
                &BY_DUE,
                NOTIFY_DUE_SHARD.into(),
                "<",
                AttributeValue::N(now.to_string()),
            )
            .limit(limit)
            .send()
            .await
            .map_err(service)?;
        Ok(out.items().iter().filter_map(run_id_of_item).collect())
    }

    async fn reconcile_cursor(&self) -> Result<String, StoreError> {
        #[derive(serde::Deserialize)]
        struct Cursor {
            #[serde(default)]
            after: String,
        }
        let cursor: Option<Cursor> = self
            .get(RECONCILE_CURSOR_PK.into(), RECONCILE_CURSOR_SK.into())
            .await?;
        Ok(cursor.map(|c| c.after).unwrap_or_default())
    }

    async fn save_reconcile_cursor(&self, after: &str) -> Result<(), StoreError> {
        let put = self
            .client
            .put_item()
            .table_name(&self.table)
            .item("pk", AttributeValue::S(RECONCILE_CURSOR_PK.into()))
            .item("sk", AttributeValue::S(RECONCILE_CURSOR_SK.into()));
        // At the start: no `after` at all (an empty string would mean the same, where DynamoDB accepts it).
        let put = match after {
            "" => put,
            after => put.item("after", AttributeValue::S(after.to_owned())),
        };
        put.send().await.map_err(service)?;
        Ok(())
    }

    async fn due_items(
        &self,
        shard: u32,
        now: i64,
        limit: i32,
    ) -> Result<Vec<DueItem>, StoreError> {
        let out = self
            .index_query(
                &BY_DUE,
                due_shard_key(shard),
                "<=",
                AttributeValue::N(now.to_string()),
            )
            .limit(limit)
            .send()
            .await
            .map_err(service)?;
        out.items()
            .iter()
            .map(|item| {
                let deadline = item
                    .get("sk")
                    .and_then(|v| v.as_s().ok())
                    .is_some_and(|sk| sk.starts_with(DEADLINE_PREFIX));
                Ok(if deadline {
                    DueItem::Deadline(read_item(item)?)
                } else {
                    DueItem::Retry(read_item::<DelayItem>(item)?)
                })
            })
            .collect()
    }

    async fn discard_deadline(&self, run_id: &str, attempt: u32) -> Result<(), StoreError> {
        self.delete_now(run_id, &deadline_sk(attempt)).await
    }

    async fn discard_delay(&self, run_id: &str, attempt: u32) -> Result<(), StoreError> {
        self.delete_now(run_id, &delay_sk(attempt)).await
    }
}
