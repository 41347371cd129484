//! The attempts table: every state change is a conditional write keyed on run, attempt and expected state,
//! so that at-least-once delivery cannot apply a change twice.

use crate::records::{attempt_sk, run_pk, status_key, AttemptItem, AttemptState, RunItem, RUN_SK};
use aws_sdk_dynamodb::error::SdkError;
use aws_sdk_dynamodb::types::{AttributeValue, Put, TransactWriteItem, Update};
use aws_sdk_dynamodb::Client;
use reactor_core::run::RunStatus;
use std::future::Future;

/// What the store can fail with; the questions a handler asks are methods.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// A condition did not hold: someone else changed the item first.
    #[error("conditional write refused: {0}")]
    ConditionFailed(String),
    /// DynamoDB or the network failed; a retry may help.
    #[error("DynamoDB: {0}")]
    Service(String),
    /// An item could not be read back as a record: the table holds something this version does not understand.
    #[error("unreadable item {key}: {message}")]
    Corrupt { key: String, message: String },
}

impl StoreError {
    pub fn is_conditional_check_failed(&self) -> bool {
        matches!(self, StoreError::ConditionFailed(_))
    }

    /// Worth retrying the whole invocation.
    pub fn is_retryable(&self) -> bool {
        matches!(self, StoreError::Service(_))
    }
}

/// The outcome of creating a run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Created {
    New,
    /// The run existed already: a duplicate delivery of the same tick or request.
    AlreadyExists,
}

/// The table operations the handlers need.
pub trait Store: Send + Sync {
    /// Creates the run and claims its first attempt, both or neither.
    fn create_run(
        &self,
        run: &RunItem,
        first: &AttemptItem,
    ) -> impl Future<Output = Result<Created, StoreError>> + Send;
    fn run(&self, run_id: &str)
        -> impl Future<Output = Result<Option<RunItem>, StoreError>> + Send;
    fn attempt(
        &self,
        run_id: &str,
        attempt: u32,
    ) -> impl Future<Output = Result<Option<AttemptItem>, StoreError>> + Send;
    /// Records the task of a claimed attempt, and the run as RUNNING. Idempotent: recording the same task
    /// again, or after the attempt was already judged, is not an error.
    fn record_launch(
        &self,
        run_id: &str,
        attempt: u32,
        task_arn: &str,
        at: &str,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;
}

/// The store on DynamoDB.
#[derive(Clone)]
pub struct DynamoStore {
    client: Client,
    table: String,
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

    async fn get<T: serde::de::DeserializeOwned>(
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
        out.item
            .map(|item| {
                serde_dynamo::from_item(item).map_err(|e| StoreError::Corrupt {
                    key: format!("{pk}/{sk}"),
                    message: e.to_string(),
                })
            })
            .transpose()
    }
}

fn item<T: serde::Serialize>(
    value: &T,
) -> Result<std::collections::HashMap<String, AttributeValue>, StoreError> {
    serde_dynamo::to_item(value).map_err(|e| StoreError::Corrupt {
        key: "(new item)".into(),
        message: e.to_string(),
    })
}

pub(crate) fn service<E, R>(e: SdkError<E, R>) -> StoreError
where
    E: std::error::Error + 'static,
    R: std::fmt::Debug,
{
    StoreError::Service(aws_sdk_dynamodb::error::DisplayErrorContext(&e).to_string())
}

pub(crate) fn built<T>(r: Result<T, aws_sdk_dynamodb::error::BuildError>) -> Result<T, StoreError> {
    r.map_err(|e| StoreError::Service(format!("request could not be built: {e}")))
}

/// Turns a cancelled transaction into ConditionFailed (with the reasons), anything else into Service.
fn transaction_error(
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

impl Store for DynamoStore {
    async fn create_run(&self, run: &RunItem, first: &AttemptItem) -> Result<Created, StoreError> {
        let put_run = built(
            Put::builder()
                .table_name(&self.table)
                .set_item(Some(item(run)?))
                .condition_expression("attribute_not_exists(pk)")
                .build(),
        )?;
        let put_attempt = built(
            Put::builder()
                .table_name(&self.table)
                .set_item(Some(item(first)?))
                .condition_expression("attribute_not_exists(pk)")
                .build(),
        )?;
        let result = self
            .client
            .transact_write_items()
            // DynamoDB makes a retried transaction with the same token a no-op for 10 minutes, so a lost
            // response does not turn into "already exists" (local emulators ignore it; callers cope either way).
            .client_request_token(reactor_core::run::client_token(&reactor_core::AttemptRef {
                run_id: run.run_id.clone(),
                attempt: 1,
            }))
            .transact_items(TransactWriteItem::builder().put(put_run).build())
            .transact_items(TransactWriteItem::builder().put(put_attempt).build())
            .send()
            .await;
        match result.map_err(transaction_error) {
            Ok(_) => Ok(Created::New),
            Err(e) if e.is_conditional_check_failed() => Ok(Created::AlreadyExists),
            Err(e) => Err(e),
        }
    }

    async fn run(&self, run_id: &str) -> Result<Option<RunItem>, StoreError> {
        self.get(run_pk(run_id), RUN_SK.to_owned()).await
    }

    async fn attempt(&self, run_id: &str, attempt: u32) -> Result<Option<AttemptItem>, StoreError> {
        self.get(run_pk(run_id), attempt_sk(attempt)).await
    }

    async fn record_launch(
        &self,
        run_id: &str,
        attempt: u32,
        task_arn: &str,
        at: &str,
    ) -> Result<(), StoreError> {
        let s = |v: &str| AttributeValue::S(v.to_owned());
        let update_attempt = built(
            Update::builder()
                .table_name(&self.table)
                .key("pk", s(&run_pk(run_id)))
                .key("sk", s(&attempt_sk(attempt)))
                .update_expression("SET #state = :launched, taskArn = :arn, launchedAt = :at")
                .condition_expression("#state = :claimed")
                .expression_attribute_names("#state", "state")
                .expression_attribute_values(":launched", s("LAUNCHED"))
                .expression_attribute_values(":claimed", s("CLAIMED"))
                .expression_attribute_values(":arn", s(task_arn))
                .expression_attribute_values(":at", s(at))
                .build(),
        )?;
        let update_run = built(
            Update::builder()
                .table_name(&self.table)
                .key("pk", s(&run_pk(run_id)))
                .key("sk", s(RUN_SK))
                .update_expression(
                    "SET #status = :running, updatedAt = :at, byStatusPk = :statusKey, byStatusSk = :statusSort",
                )
                .condition_expression("#status = :launching AND attempt = :n")
                .expression_attribute_names("#status", "status")
                .expression_attribute_values(":running", s(RunStatus::Running.as_str()))
                .expression_attribute_values(":launching", s(RunStatus::Launching.as_str()))
                .expression_attribute_values(":n", AttributeValue::N(attempt.to_string()))
                .expression_attribute_values(":at", s(at))
                .expression_attribute_values(":statusKey", s(&status_key(RunStatus::Running)))
                .expression_attribute_values(":statusSort", s(&format!("{at}#{run_id}")))
                .build(),
        )?;
        let result = self
            .client
            .transact_write_items()
            .transact_items(TransactWriteItem::builder().update(update_attempt).build())
            .transact_items(TransactWriteItem::builder().update(update_run).build())
            .send()
            .await
            .map_err(transaction_error);
        match result {
            Ok(_) => Ok(()),
            Err(e) if e.is_conditional_check_failed() => {
                // Already recorded (a redelivery), or the task stopped and was judged before we got here:
                // both leave nothing to do. Anything else is a real conflict.
                match self.attempt(run_id, attempt).await? {
                    Some(a) if a.task_arn.as_deref() == Some(task_arn) => Ok(()),
                    Some(a) if a.state == AttemptState::Decided => Ok(()),
                    _ => Err(e),
                }
            }
            Err(e) => Err(e),
        }
    }
}
