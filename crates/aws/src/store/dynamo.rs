//! The store on DynamoDB: the client and table, and the plumbing every operation shares.

use super::{Changed, StoreError};
use crate::aws_error::AwsError;
use crate::records::{
    run_pk, schema_version_of, Index, LockItem, SCHEMA_VERSION, SCHEMA_VERSION_ATTRIBUTE,
};
use aws_sdk_dynamodb::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_dynamodb::types::{AttributeValue, Delete, Put, TransactWriteItem, Update};
use aws_sdk_dynamodb::Client;
use std::collections::HashMap;

/// The store on DynamoDB.
#[derive(Clone)]
pub struct DynamoStore {
    pub(super) client: Client,
    pub(super) table: String,
}

impl DynamoStore {
    pub fn new(client: Client, table: impl Into<String>) -> Self {
        DynamoStore {
            client,
            table: table.into(),
        }
    }

    pub fn table(&self) -> &str {
        &self.table
    }

    pub fn client(&self) -> &Client {
        &self.client
    }

    /// A transaction item that creates `value`, refused if an item with its key exists.
    pub(super) fn put_new<T: serde::Serialize>(
        &self,
        value: &T,
    ) -> Result<TransactWriteItem, StoreError> {
        let put = built(
            Put::builder()
                .table_name(&self.table)
                .set_item(Some(item(value)?))
                .condition_expression("attribute_not_exists(pk)")
                .build(),
        )?;
        Ok(TransactWriteItem::builder().put(put).build())
    }

    /// A transaction item that takes a job's lock, only from `expected` (or when there is none yet).
    pub(super) fn put_lock(
        &self,
        lock: &LockItem,
        expected: Option<&str>,
    ) -> Result<TransactWriteItem, StoreError> {
        let put = Put::builder()
            .table_name(&self.table)
            .set_item(Some(item(lock)?));
        let put = match expected {
            None => put.condition_expression("attribute_not_exists(pk)"),
            Some(holder) => put
                .condition_expression("runId = :holder")
                .expression_attribute_values(":holder", AttributeValue::S(holder.to_owned())),
        };
        Ok(TransactWriteItem::builder()
            .put(built(put.build())?)
            .build())
    }

    /// A transaction item that updates one item under a condition, names and values through placeholders.
    pub(super) fn conditional_update(
        &self,
        (pk, sk): (String, String),
        expression: String,
        condition: &str,
        names: HashMap<String, String>,
        values: HashMap<String, AttributeValue>,
    ) -> Result<TransactWriteItem, StoreError> {
        let update = built(
            Update::builder()
                .table_name(&self.table)
                .key("pk", AttributeValue::S(pk))
                .key("sk", AttributeValue::S(sk))
                .update_expression(expression)
                .condition_expression(condition)
                .set_expression_attribute_names(Some(names))
                .set_expression_attribute_values(Some(values))
                .build(),
        )?;
        Ok(TransactWriteItem::builder().update(update).build())
    }

    /// A transaction item that deletes one item of a run, whether or not it exists.
    pub(super) fn delete(&self, run_id: &str, sk: &str) -> Result<TransactWriteItem, StoreError> {
        let delete = built(
            Delete::builder()
                .table_name(&self.table)
                .key("pk", AttributeValue::S(run_pk(run_id)))
                .key("sk", AttributeValue::S(sk.to_owned()))
                .build(),
        )?;
        Ok(TransactWriteItem::builder().delete(delete).build())
    }

    /// Deletes one item of a run at once, whether or not it exists.
    pub(super) async fn delete_now(&self, run_id: &str, sk: &str) -> Result<(), StoreError> {
        self.client
            .delete_item()
            .table_name(&self.table)
            .key("pk", AttributeValue::S(run_pk(run_id)))
            .key("sk", AttributeValue::S(sk.to_owned()))
            .send()
            .await
            .map_err(service)?;
        Ok(())
    }

    /// Runs a transaction whose conditions guard one state change: refused if any does not hold.
    pub(super) async fn change(
        &self,
        items: Vec<TransactWriteItem>,
    ) -> Result<Changed, StoreError> {
        let result = self
            .client
            .transact_write_items()
            .set_transact_items(Some(items))
            .send()
            .await
            .map_err(transaction_error);
        match result {
            Ok(_) => Ok(Changed::Changed),
            Err(e) if e.is_conditional_check_failed() => Ok(Changed::Refused),
            Err(e) => Err(e),
        }
    }

    /// A Query of `index` for the items under `key` whose sort key is `op value` (`op`: `>=`, `<`, `<=` …).
    pub(crate) fn index_query(
        &self,
        index: &Index,
        key: String,
        op: &str,
        value: AttributeValue,
    ) -> aws_sdk_dynamodb::operation::query::builders::QueryFluentBuilder {
        self.client
            .query()
            .table_name(&self.table)
            .index_name(index.name)
            .key_condition_expression(format!("#pk = :key AND #sk {op} :value"))
            .expression_attribute_names("#pk", index.partition_key)
            .expression_attribute_names("#sk", index.sort_key)
            .expression_attribute_values(":key", AttributeValue::S(key))
            .expression_attribute_values(":value", value)
    }

    pub(super) async fn get<T: serde::de::DeserializeOwned>(
        &self,
        pk: String,
        sk: String,
    ) -> Result<Option<T>, StoreError> {
        let out = self
            .client
            .get_item()
            .table_name(&self.table)
            .key("pk", AttributeValue::S(pk.clone()))
            .key("sk", AttributeValue::S(sk.clone()))
            .consistent_read(true)
            .send()
            .await
            .map_err(service)?;
        out.item.map(|item| read_item(&item)).transpose()
    }
}

/// Reads a table item as a record; an item this version cannot read is named by its key.
pub(crate) fn read_item<T: serde::de::DeserializeOwned>(
    item: &HashMap<String, AttributeValue>,
) -> Result<T, StoreError> {
    let key = || {
        let key = |k: &str| {
            item.get(k)
                .and_then(|v| v.as_s().ok())
                .cloned()
                .unwrap_or_default()
        };
        format!("{}/{}", key("pk"), key("sk"))
    };
    // An item a newer release wrote may mean something this one would get wrong: refuse it by name rather
    // than half-read it. Items without a version are the first release's, read as they always were.
    let version = item
        .get(SCHEMA_VERSION_ATTRIBUTE)
        .and_then(|v| v.as_n().ok())
        .and_then(|n| n.parse::<u32>().ok())
        .unwrap_or(1);
    if version > SCHEMA_VERSION {
        return Err(StoreError::Corrupt {
            key: key(),
            message: format!(
                "written by a newer ecs-reactor (item schema {version}; this release reads up to {SCHEMA_VERSION}): \
                 deploy that release again, or roll back only once its runs have finished (docs/DEPLOY.md)"
            ),
        });
    }
    serde_dynamo::from_item(item.clone()).map_err(|e| StoreError::Corrupt {
        key: key(),
        message: e.to_string(),
    })
}

/// An item to put, stamped with the item schema it needs (`schema_version_of`).
pub(super) fn item<T: serde::Serialize>(
    value: &T,
) -> Result<std::collections::HashMap<String, AttributeValue>, StoreError> {
    let mut item: HashMap<String, AttributeValue> =
        serde_dynamo::to_item(value).map_err(|e| StoreError::Corrupt {
            key: "(new item)".into(),
            message: e.to_string(),
        })?;
    let version = schema_version_of(&item);
    item.insert(
        SCHEMA_VERSION_ATTRIBUTE.to_owned(),
        AttributeValue::N(version.to_string()),
    );
    Ok(item)
}

pub(crate) fn service<E, R>(e: SdkError<E, R>) -> StoreError
where
    E: std::error::Error + ProvideErrorMetadata + Send + Sync + 'static,
    R: std::fmt::Debug + Send + Sync + 'static,
{
    StoreError::Aws(AwsError::from_sdk(e))
}

pub(crate) fn built<T>(r: Result<T, aws_sdk_dynamodb::error::BuildError>) -> Result<T, StoreError> {
    r.map_err(|e| StoreError::Service(format!("request could not be built: {e}")))
}

/// Turns a cancelled transaction into ConditionFailed (with the reasons), anything else into Service.
pub(super) fn transaction_error(
    e: SdkError<aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError>,
) -> StoreError {
    use aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError;
    match e.as_service_error() {
        Some(TransactWriteItemsError::TransactionCanceledException(c)) => {
            let reasons: Vec<String> = c
                .cancellation_reasons()
                .iter()
                .map(|r| r.code().unwrap_or("None").to_owned())
                .collect();
            if reasons.iter().any(|r| r == "ConditionalCheckFailed") {
                StoreError::ConditionFailed(reasons.join(","))
            } else {
                StoreError::Service(format!("transaction cancelled: {}", reasons.join(",")))
            }
        }
        _ => service(e),
    }
}
