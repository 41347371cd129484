//! What the sweep reads and discards: due delay and deadline items.

use super::dynamo::{read_item, service};
use super::{DynamoStore, StoreError};
use crate::records::{
    deadline_sk, delay_sk, due_shard_key, DelayItem, DueItem, BY_DUE, DEADLINE_PREFIX,
};
use aws_sdk_dynamodb::types::AttributeValue;
use std::future::Future;

/// What the sweep reads and discards: due delay and deadline items.
pub trait Sweeps: Send + Sync {
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
