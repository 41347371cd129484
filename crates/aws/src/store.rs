//! The attempts table: every state change is a conditional write keyed on run, attempt and expected state,
//! so that at-least-once delivery cannot apply a change twice.

use crate::aws_error::AwsError;
use crate::records::{
    attempt_sk, deadline_sk, delay_sk, due_shard_key, lock_pk, run_pk, status_key, AttemptItem,
    AttemptState, ContainerEnd, DeadlineItem, DelayItem, DueItem, LockItem, RunItem,
    DEADLINE_PREFIX, LOCK_SK, RUN_SK,
};
use aws_sdk_dynamodb::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_dynamodb::types::{AttributeValue, Delete, Put, TransactWriteItem, Update};
use aws_sdk_dynamodb::Client;
use reactor_core::memory::TaskSize;
use reactor_core::run::RunStatus;
use reactor_core::transition::{AttemptEvent, RunEvent};
use reactor_core::Decision;
use std::collections::HashMap;
use std::future::Future;

/// What the store can fail with; the questions a handler asks are methods.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// A condition did not hold: someone else changed the item first.
    #[error("conditional write refused: {0}")]
    ConditionFailed(String),
    /// DynamoDB or the network failed; a retry may help. The kind says which (throttled, no credentials …).
    #[error("DynamoDB: {0}")]
    Aws(#[source] AwsError),
    /// A request that could not be made as written, or a transaction cancelled for another reason than a
    /// condition; a retry may help.
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
        matches!(self, StoreError::Service(_) | StoreError::Aws(_))
    }

    /// The AWS failure underneath, with its kind, if DynamoDB (or the way to it) failed.
    pub fn aws(&self) -> Option<&AwsError> {
        match self {
            StoreError::Aws(e) => Some(e),
            _ => None,
        }
    }
}

/// The outcome of creating a run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Created {
    New,
    /// The run existed already: a duplicate delivery of the same tick or request.
    AlreadyExists,
    /// The job's lock no longer names the run the caller expected (another run took it meanwhile).
    LockTaken,
}

/// What is written with a launch, besides the task.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct LaunchFacts {
    /// The size ecs-reactor asked for (after an OutOfMemoryError), shown per attempt by `show`.
    pub size: Option<TaskSize>,
    /// When the task must be stopped (`timeoutSeconds` / `runTimeoutSeconds`).
    pub deadline: Option<DeadlineItem>,
}

/// What happened to an attempt, as the event (or the failed launch) told it.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct StopFacts {
    pub task_arn: Option<String>,
    pub started_at: Option<String>,
    pub stopped_at: Option<String>,
    pub stop_code: Option<String>,
    pub stopped_reason: Option<String>,
    pub containers: Vec<ContainerEnd>,
    pub event_version: Option<u64>,
    /// The task's size as ECS reported it.
    pub size: Option<TaskSize>,
    /// The attempt ran under a deadline: its deadline item goes with the decision.
    pub had_deadline: bool,
}

/// What follows a decision, prepared by the caller so that the store writes it in the same transaction.
#[derive(Debug, Clone, PartialEq)]
pub enum Next {
    /// SUCCEED or FAIL: the run ends in this status; with `notify_lease_until`, the decider takes the right to
    /// publish the outcome (until then, epoch seconds) in the same write.
    Close {
        status: RunStatus,
        notify_lease_until: Option<i64>,
    },
    /// RETRY_NOW: the next attempt, claimed.
    RetryNow(Box<AttemptItem>),
    /// RETRY_LATER: the delay item whose TTL is the due time.
    RetryLater(DelayItem),
}

/// How applying a decision went.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Applied {
    Applied,
    /// The attempt was judged already: a duplicate event or a redelivery.
    Duplicate,
    /// The run has moved on (cancelled, finished, or another attempt is current): nothing to do.
    Stale,
}

/// How recording a launch went.
#[derive(Debug, Clone, PartialEq)]
pub enum Recorded {
    /// The run is RUNNING the attempt's task (now, or already: a redelivery).
    Recorded,
    /// The run was cancelled (or otherwise moved on) while the task was being launched: the task is an orphan.
    RunMovedOn(Box<RunItem>),
}

/// How a cancel or redrive request went.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Changed {
    Changed,
    /// The run was not in a state that allows it (or changed under the caller): nothing was written.
    Refused,
}

/// How claiming a due retry went.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Claimed {
    /// This caller claimed the attempt: it launches it.
    Claimed,
    /// The attempt was claimed already (TTL and sweep both fired, or a redelivery): nothing to do.
    AlreadyClaimed,
    /// The run is no longer waiting for this retry (cancelled, or it moved on): nothing to do.
    Stale,
}

/// The table operations the handlers need.
pub trait Store: Send + Sync {
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
    /// Records the task of a claimed attempt, and the run as RUNNING. Idempotent: recording the same task
    /// again, or after the attempt was already judged, is not an error. If the run moved on while the task
    /// was launched (it was cancelled), the task is still written on the attempt and the run is returned.
    fn record_launch(
        &self,
        run_id: &str,
        attempt: u32,
        task_arn: &str,
        at: &str,
        facts: &LaunchFacts,
    ) -> impl Future<Output = Result<Recorded, StoreError>> + Send;
    /// Records the judgement of attempt `attempt` and its consequence in one transaction: the attempt is
    /// DECIDED (only once), the run moves on (only from LAUNCHING/RUNNING on this attempt), and the next
    /// attempt is claimed or the delay item written (only if not there yet).
    fn apply_decision(
        &self,
        run_id: &str,
        attempt: u32,
        facts: &StopFacts,
        decision: &Decision,
        next: &Next,
        at: &str,
    ) -> impl Future<Output = Result<Applied, StoreError>> + Send;
    /// Claims the retry a delay item stood for: the run goes from RETRY_SCHEDULED on the previous attempt to
    /// LAUNCHING on `claim.attempt`, the attempt is created, and the delay item removed — all or nothing, so
    /// that of TTL, sweep and their redeliveries exactly one launches.
    fn claim_retry(
        &self,
        claim: &AttemptItem,
        at: &str,
    ) -> impl Future<Output = Result<Claimed, StoreError>> + Send;
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
    /// Records that a retry decision of attempt `attempt` was published (`notify.on` RETRYING).
    fn mark_attempt_notified(
        &self,
        run_id: &str,
        attempt: u32,
        at: &str,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;
    /// Takes over the launch of a CLAIMED attempt whose launch lease has run out (its claimer crashed or
    /// timed out): `true` if this caller now holds the lease until `until`.
    fn take_launch(
        &self,
        run_id: &str,
        attempt: u32,
        now: i64,
        until: i64,
    ) -> impl Future<Output = Result<bool, StoreError>> + Send;
    /// Ids of runs that have been LAUNCHING since before `before` (RFC 3339), oldest first: launches that an
    /// interrupted invocation left behind, for the sweep to resume.
    fn stuck_launches(
        &self,
        before: &str,
        limit: i32,
    ) -> impl Future<Output = Result<Vec<String>, StoreError>> + Send;
    /// The right to publish a finished run's outcome: `true` if the run is not notified yet and nobody else
    /// holds the right (or their lease ran out); this caller then holds it until `until`.
    fn claim_notification(
        &self,
        run_id: &str,
        now: i64,
        until: i64,
    ) -> impl Future<Output = Result<bool, StoreError>> + Send;
    /// Deletes a delay item that no longer stands for a retry (its run was cancelled or moved on), so the
    /// sweep stops finding it.
    fn discard_delay(
        &self,
        run_id: &str,
        attempt: u32,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;
    /// Cancels a run that is LAUNCHING, RUNNING or waiting for a retry on attempt `attempt`, and removes the
    /// pending delay item in the same transaction, so neither the TTL path nor the sweep launches again.
    fn cancel_run(
        &self,
        run_id: &str,
        attempt: u32,
        by: &str,
        at: &str,
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
        at: &str,
        lock: Option<(&LockItem, Option<&str>)>,
    ) -> impl Future<Output = Result<Changed, StoreError>> + Send;
    /// Records that the outcome was published.
    fn mark_notified(
        &self,
        run_id: &str,
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

    pub fn client(&self) -> &Client {
        &self.client
    }

    /// A transaction item that creates `value`, refused if an item with its key exists.
    fn put_new<T: serde::Serialize>(&self, value: &T) -> Result<TransactWriteItem, StoreError> {
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
    fn put_lock(
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
    fn conditional_update(
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
    fn delete(&self, run_id: &str, sk: &str) -> Result<TransactWriteItem, StoreError> {
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
    async fn delete_now(&self, run_id: &str, sk: &str) -> Result<(), StoreError> {
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
    async fn change(&self, items: Vec<TransactWriteItem>) -> Result<Changed, StoreError> {
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

/// Reads a table item as a record; an item this version cannot read is named by its key.
pub(crate) fn read_item<T: serde::de::DeserializeOwned>(
    item: &HashMap<String, AttributeValue>,
) -> Result<T, StoreError> {
    serde_dynamo::from_item(item.clone()).map_err(|e| {
        let key = |k: &str| {
            item.get(k)
                .and_then(|v| v.as_s().ok())
                .cloned()
                .unwrap_or_default()
        };
        StoreError::Corrupt {
            key: format!("{}/{}", key("pk"), key("sk")),
            message: e.to_string(),
        }
    })
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
    E: std::error::Error + ProvideErrorMetadata + Send + Sync + 'static,
    R: std::fmt::Debug + Send + Sync + 'static,
{
    StoreError::Aws(AwsError::from_sdk(e))
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
        let (put_run, put_attempt) = (self.put_new(run)?, self.put_new(first)?);
        let result = self
            .client
            .transact_write_items()
            // DynamoDB makes a retried transaction with the same token a no-op for 10 minutes, so a lost
            // response does not turn into "already exists" (local emulators ignore it; callers cope either way).
            .client_request_token(reactor_core::run::client_token(&reactor_core::AttemptRef {
                run_id: run.run_id.clone(),
                attempt: 1,
            }))
            .transact_items(put_run)
            .transact_items(put_attempt)
            .send()
            .await;
        match result.map_err(transaction_error) {
            Ok(_) => Ok(Created::New),
            Err(e) if e.is_conditional_check_failed() => Ok(Created::AlreadyExists),
            Err(e) => Err(e),
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

    async fn record_launch(
        &self,
        run_id: &str,
        attempt: u32,
        task_arn: &str,
        at: &str,
        facts: &LaunchFacts,
    ) -> Result<Recorded, StoreError> {
        let s = |v: &str| AttributeValue::S(v.to_owned());
        let n = |v: u32| AttributeValue::N(v.to_string());
        let mut set = vec![
            ("state", s(AttemptEvent::TaskRecorded.to().as_str())),
            ("taskArn", s(task_arn)),
            ("launchedAt", s(at)),
        ];
        if let Some(size) = facts.size {
            set.push(("memoryMiB", n(size.memory_mib)));
            if let Some(cpu) = size.cpu {
                set.push(("cpu", n(cpu)));
            }
        }
        if let Some(deadline) = &facts.deadline {
            let due = time::OffsetDateTime::from_unix_timestamp(deadline.due_at)
                .ok()
                .and_then(|t| {
                    t.format(&time::format_description::well_known::Rfc3339)
                        .ok()
                })
                .unwrap_or_default();
            set.push(("deadlineAt", s(&due)));
        }
        let (expression, mut names, mut values) = set_clause(set);
        names.insert("#cond_state".into(), "state".into());
        let condition = state_condition("#cond_state", AttemptEvent::TaskRecorded, &mut values);
        let update_attempt = built(
            Update::builder()
                .table_name(&self.table)
                .key("pk", s(&run_pk(run_id)))
                .key("sk", s(&attempt_sk(attempt)))
                .update_expression(expression)
                .condition_expression(condition)
                .set_expression_attribute_names(Some(names))
                .set_expression_attribute_values(Some(values))
                .build(),
        )?;
        let recorded = RunEvent::TaskRecorded;
        let mut values = HashMap::from([
            (":running".to_owned(), s(recorded.to().as_str())),
            (":n".to_owned(), AttributeValue::N(attempt.to_string())),
            (":at".to_owned(), s(at)),
            (":statusKey".to_owned(), s(&status_key(recorded.to()))),
            (":statusSort".to_owned(), s(&format!("{at}#{run_id}"))),
        ]);
        let condition = format!(
            "{} AND attempt = :n",
            status_condition("#status", recorded, &mut values)
        );
        let update_run = built(
            Update::builder()
                .table_name(&self.table)
                .key("pk", s(&run_pk(run_id)))
                .key("sk", s(RUN_SK))
                .update_expression(
                    "SET #status = :running, updatedAt = :at, byStatusPk = :statusKey, byStatusSk = :statusSort",
                )
                .condition_expression(condition)
                .expression_attribute_names("#status", "status")
                .set_expression_attribute_values(Some(values))
                .build(),
        )?;
        let mut items = vec![
            TransactWriteItem::builder()
                .update(update_attempt.clone())
                .build(),
            TransactWriteItem::builder().update(update_run).build(),
        ];
        if let Some(deadline) = &facts.deadline {
            // No condition: a redelivered launch writes the same item again.
            let put = Put::builder()
                .table_name(&self.table)
                .set_item(Some(item(deadline)?));
            items.push(
                TransactWriteItem::builder()
                    .put(built(put.build())?)
                    .build(),
            );
        }
        let result = self
            .client
            .transact_write_items()
            .set_transact_items(Some(items))
            .send()
            .await
            .map_err(transaction_error);
        match result {
            Ok(_) => Ok(Recorded::Recorded),
            Err(e) if e.is_conditional_check_failed() => {
                // Already recorded (a redelivery), or the task stopped and was judged before we got here:
                // both leave nothing to do.
                match self.attempt(run_id, attempt).await? {
                    Some(a) if a.task_arn.as_deref() == Some(task_arn) => {
                        return Ok(Recorded::Recorded)
                    }
                    Some(a) if a.state == AttemptState::Decided => return Ok(Recorded::Recorded),
                    _ => {}
                }
                // The run moved on while the task was launched (cancelled): keep the task on the attempt so
                // the story shows it, and let the caller stop it.
                match self.run(run_id).await? {
                    Some(run) if run.attempt != attempt || run.status.is_terminal() => {
                        let single = self
                            .client
                            .update_item()
                            .table_name(&self.table)
                            .key("pk", s(&run_pk(run_id)))
                            .key("sk", s(&attempt_sk(attempt)))
                            .update_expression(update_attempt.update_expression())
                            .condition_expression(
                                update_attempt.condition_expression().unwrap_or_default(),
                            )
                            .set_expression_attribute_names(
                                update_attempt.expression_attribute_names().cloned(),
                            )
                            .set_expression_attribute_values(
                                update_attempt.expression_attribute_values().cloned(),
                            )
                            .send()
                            .await;
                        if conditional(single)? {
                            Ok(Recorded::RunMovedOn(Box::new(run)))
                        } else {
                            // Not a claimed attempt of this run: nothing of ours was launched.
                            Err(e)
                        }
                    }
                    _ => Err(e),
                }
            }
            Err(e) => Err(e),
        }
    }

    async fn apply_decision(
        &self,
        run_id: &str,
        attempt: u32,
        facts: &StopFacts,
        decision: &Decision,
        next: &Next,
        at: &str,
    ) -> Result<Applied, StoreError> {
        let s = |v: &str| AttributeValue::S(v.to_owned());
        let n = |v: u64| AttributeValue::N(v.to_string());
        let value = |v: &serde_json::Value| {
            serde_dynamo::to_attribute_value(v).map_err(|e| StoreError::Corrupt {
                key: "(decision)".into(),
                message: e.to_string(),
            })
        };

        // The attempt: its facts and its judgement, once. Attribute names go through placeholders: several
        // (`action`, `state`, `reason`, …) are DynamoDB reserved words.
        let mut fields: Vec<(&str, AttributeValue)> = vec![
            ("state", s(AttemptEvent::Decided.to().as_str())),
            ("action", s(decision.action.as_str())),
            ("ruleId", s(&decision.rule_id)),
            ("rule", s(&decision.rule)),
            ("reason", s(&decision.reason)),
            (
                "countsAsAttempt",
                AttributeValue::Bool(decision.counts_as_attempt),
            ),
        ];
        let optional = [
            ("taskArn", facts.task_arn.as_deref().map(s)),
            ("startedAt", facts.started_at.as_deref().map(s)),
            ("stoppedAt", facts.stopped_at.as_deref().map(s)),
            ("stopCode", facts.stop_code.as_deref().map(s)),
            ("stoppedReason", facts.stopped_reason.as_deref().map(s)),
            ("eventVersion", facts.event_version.map(n)),
            ("memoryMiB", facts.size.map(|z| n(u64::from(z.memory_mib)))),
            (
                "cpu",
                facts.size.and_then(|z| z.cpu).map(|c| n(u64::from(c))),
            ),
            (
                "delaySeconds",
                decision.delay_seconds.map(|d| n(u64::from(d))),
            ),
            // Kept so that an outcome published again (its first publish interrupted) is the same message.
            ("hint", decision.verdict.hint.as_deref().map(s)),
        ];
        fields.extend(
            optional
                .into_iter()
                .filter_map(|(name, v)| v.map(|v| (name, v))),
        );
        if !facts.containers.is_empty() {
            let list =
                serde_json::to_value(&facts.containers).map_err(|e| StoreError::Corrupt {
                    key: "(containers)".into(),
                    message: e.to_string(),
                })?;
            fields.push(("containers", value(&list)?));
        }
        let next_retry_at = match next {
            Next::RetryLater(delay) => time::OffsetDateTime::from_unix_timestamp(delay.due_at)
                .ok()
                .and_then(|t| {
                    t.format(&time::format_description::well_known::Rfc3339)
                        .ok()
                }),
            _ => None,
        };
        if let Some(t) = &next_retry_at {
            fields.push(("nextRetryAt", s(t)));
        }
        let (set, mut names, mut values) = set_clause(fields);
        names.insert("#cond_state".into(), "state".into());
        let condition = format!(
            "attribute_exists(pk) AND {}",
            state_condition("#cond_state", AttemptEvent::Decided, &mut values)
        );
        let update_attempt = self.conditional_update(
            (run_pk(run_id), attempt_sk(attempt)),
            set,
            &condition,
            names,
            values,
        )?;

        // The run: moves on from this attempt only.
        let (status, current) = match next {
            Next::Close { status, .. } => (*status, attempt),
            Next::RetryNow(claim) => (RunStatus::Launching, claim.attempt),
            Next::RetryLater(_) => (RunStatus::RetryScheduled, attempt),
        };
        debug_assert_eq!(
            status,
            RunEvent::Decided(decision.action).to(),
            "the step's next move and the core's transition table agree"
        );
        let free = decision.action == reactor_core::Action::RetryNow && !decision.counts_as_attempt;
        let mut fields: Vec<(&str, AttributeValue)> = vec![
            ("status", s(status.as_str())),
            ("attempt", n(u64::from(current))),
            ("lastAction", s(decision.action.as_str())),
            ("lastRule", s(&decision.rule)),
            ("lastRuleId", s(&decision.rule_id)),
            ("updatedAt", s(at)),
            ("byStatusPk", s(&status_key(status))),
            ("byStatusSk", s(&format!("{at}#{run_id}"))),
        ];
        if let Some(t) = &next_retry_at {
            fields.push(("nextRetryAt", s(t)));
        }
        if let Next::Close {
            notify_lease_until: Some(until),
            ..
        } = next
        {
            fields.push(("notifyLeaseUntil", n(*until as u64)));
        }
        // After an OutOfMemoryError under retry.onOutOfMemory, every later attempt launches at the new size.
        if let (true, Some(size)) = (decision.action.is_retry(), decision.verdict.memory) {
            let size = serde_json::to_value(size).map_err(|e| StoreError::Corrupt {
                key: "(taskSize)".into(),
                message: e.to_string(),
            })?;
            fields.push(("taskSize", value(&size)?));
        }
        let (mut expression, mut names, mut values) = set_clause(fields);
        if free {
            expression.push_str(", #disruptions = #disruptions + :one");
            names.insert("#disruptions".into(), "disruptions".into());
            values.insert(":one".into(), n(1));
        }
        if next_retry_at.is_none() {
            expression.push_str(" REMOVE #nextRetryAt");
            names.insert("#nextRetryAt".into(), "nextRetryAt".into());
        }
        names.insert("#cond_attempt".into(), "attempt".into());
        names.insert("#cond_status".into(), "status".into());
        values.insert(":cond_n".into(), n(u64::from(attempt)));
        let condition = format!(
            "#cond_attempt = :cond_n AND {}",
            status_condition(
                "#cond_status",
                RunEvent::Decided(decision.action),
                &mut values
            )
        );
        let update_run = self.conditional_update(
            (run_pk(run_id), RUN_SK.to_owned()),
            expression,
            &condition,
            names,
            values,
        )?;

        let mut transaction = self
            .client
            .transact_write_items()
            .transact_items(update_attempt)
            .transact_items(update_run);
        match next {
            Next::Close { .. } => {}
            Next::RetryNow(claim) => {
                transaction = transaction.transact_items(self.put_new(claim.as_ref())?)
            }
            Next::RetryLater(delay) => {
                transaction = transaction.transact_items(self.put_new(delay)?)
            }
        }
        if facts.had_deadline {
            transaction = transaction.transact_items(self.delete(run_id, &deadline_sk(attempt))?);
        }
        match transaction.send().await.map_err(transaction_error) {
            Ok(_) => Ok(Applied::Applied),
            Err(e) if e.is_conditional_check_failed() => {
                if self
                    .attempt(run_id, attempt)
                    .await?
                    .is_some_and(|a| a.state == AttemptState::Decided)
                {
                    return Ok(Applied::Duplicate);
                }
                match self.run(run_id).await? {
                    Some(run) if run.attempt != attempt || !run.status.accepts_stop() => {
                        Ok(Applied::Stale)
                    }
                    _ => Err(e),
                }
            }
            Err(e) => Err(e),
        }
    }

    async fn claim_retry(&self, claim: &AttemptItem, at: &str) -> Result<Claimed, StoreError> {
        let s = |v: &str| AttributeValue::S(v.to_owned());
        let n = |v: u32| AttributeValue::N(v.to_string());
        let run_id = claim.run_id.as_str();
        let previous = claim.attempt.saturating_sub(1);
        let (mut expression, mut names, mut values) = set_clause(vec![
            ("status", s(RunEvent::RetryFired.to().as_str())),
            ("attempt", n(claim.attempt)),
            ("updatedAt", s(at)),
            ("byStatusPk", s(&status_key(RunEvent::RetryFired.to()))),
            ("byStatusSk", s(&format!("{at}#{run_id}"))),
        ]);
        expression.push_str(" REMOVE #nextRetryAt");
        names.insert("#nextRetryAt".into(), "nextRetryAt".into());
        names.insert("#cond_status".into(), "status".into());
        names.insert("#cond_attempt".into(), "attempt".into());
        values.insert(":cond_previous".into(), n(previous));
        let condition = format!(
            "{} AND #cond_attempt = :cond_previous",
            status_condition("#cond_status", RunEvent::RetryFired, &mut values)
        );
        let update_run = self.conditional_update(
            (run_pk(run_id), RUN_SK.to_owned()),
            expression,
            &condition,
            names,
            values,
        )?;
        let items = vec![
            update_run,
            self.put_new(claim)?,
            // No condition: on the TTL path the item is already gone.
            self.delete(run_id, &delay_sk(claim.attempt))?,
        ];
        match self.change(items).await? {
            Changed::Changed => Ok(Claimed::Claimed),
            Changed::Refused if self.attempt(run_id, claim.attempt).await?.is_some() => {
                Ok(Claimed::AlreadyClaimed)
            }
            Changed::Refused => Ok(Claimed::Stale),
        }
    }

    async fn due_items(
        &self,
        shard: u32,
        now: i64,
        limit: i32,
    ) -> Result<Vec<DueItem>, StoreError> {
        let out = self
            .client
            .query()
            .table_name(&self.table)
            .index_name("byDue")
            .key_condition_expression("dueShard = :shard AND dueAt <= :now")
            .expression_attribute_values(":shard", AttributeValue::S(due_shard_key(shard)))
            .expression_attribute_values(":now", AttributeValue::N(now.to_string()))
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

    async fn mark_attempt_notified(
        &self,
        run_id: &str,
        attempt: u32,
        at: &str,
    ) -> Result<(), StoreError> {
        self.client
            .update_item()
            .table_name(&self.table)
            .key("pk", AttributeValue::S(run_pk(run_id)))
            .key("sk", AttributeValue::S(attempt_sk(attempt)))
            .update_expression("SET #notified = :at")
            .condition_expression("attribute_exists(pk)")
            .expression_attribute_names("#notified", "notifiedAt")
            .expression_attribute_values(":at", AttributeValue::S(at.to_owned()))
            .send()
            .await
            .map_err(service)?;
        Ok(())
    }

    async fn take_launch(
        &self,
        run_id: &str,
        attempt: u32,
        now: i64,
        until: i64,
    ) -> Result<bool, StoreError> {
        let mut values = HashMap::from([
            (":now".to_owned(), AttributeValue::N(now.to_string())),
            (":until".to_owned(), AttributeValue::N(until.to_string())),
        ]);
        let condition = format!(
            "{} AND (attribute_not_exists(#lease) OR #lease < :now)",
            state_condition("#state", AttemptEvent::LaunchTakenOver, &mut values)
        );
        let result = self
            .client
            .update_item()
            .table_name(&self.table)
            .key("pk", AttributeValue::S(run_pk(run_id)))
            .key("sk", AttributeValue::S(attempt_sk(attempt)))
            .update_expression("SET #lease = :until")
            .condition_expression(condition)
            .expression_attribute_names("#lease", "launchLeaseUntil")
            .expression_attribute_names("#state", "state")
            .set_expression_attribute_values(Some(values))
            .send()
            .await;
        conditional(result)
    }

    async fn stuck_launches(&self, before: &str, limit: i32) -> Result<Vec<String>, StoreError> {
        let out = self
            .client
            .query()
            .table_name(&self.table)
            .index_name("byStatus")
            .key_condition_expression("byStatusPk = :status AND byStatusSk < :before")
            .expression_attribute_values(
                ":status",
                AttributeValue::S(status_key(RunStatus::Launching)),
            )
            .expression_attribute_values(":before", AttributeValue::S(before.to_owned()))
            .limit(limit)
            .send()
            .await
            .map_err(service)?;
        // A keys-only index: the run id is in the key; `resume` reads the run itself.
        Ok(out
            .items()
            .iter()
            .filter_map(|i| i.get("pk").and_then(|v| v.as_s().ok()))
            .filter_map(|pk| crate::records::run_id_of_pk(pk).map(str::to_owned))
            .collect())
    }

    async fn claim_notification(
        &self,
        run_id: &str,
        now: i64,
        until: i64,
    ) -> Result<bool, StoreError> {
        let result = self
            .client
            .update_item()
            .table_name(&self.table)
            .key("pk", AttributeValue::S(run_pk(run_id)))
            .key("sk", AttributeValue::S(RUN_SK.into()))
            .update_expression("SET #lease = :until")
            .condition_expression(
                "attribute_exists(pk) AND attribute_not_exists(#notified) AND (attribute_not_exists(#lease) OR #lease < :now)",
            )
            .expression_attribute_names("#lease", "notifyLeaseUntil")
            .expression_attribute_names("#notified", "notifiedAt")
            .expression_attribute_values(":now", AttributeValue::N(now.to_string()))
            .expression_attribute_values(":until", AttributeValue::N(until.to_string()))
            .send()
            .await;
        conditional(result)
    }

    async fn discard_delay(&self, run_id: &str, attempt: u32) -> Result<(), StoreError> {
        self.delete_now(run_id, &delay_sk(attempt)).await
    }

    async fn cancel_run(
        &self,
        run_id: &str,
        attempt: u32,
        by: &str,
        at: &str,
    ) -> Result<Changed, StoreError> {
        let s = |v: &str| AttributeValue::S(v.to_owned());
        let (mut expression, mut names, mut values) = set_clause(vec![
            ("status", s(RunEvent::Cancelled.to().as_str())),
            ("cancelledBy", s(by)),
            ("cancelledAt", s(at)),
            ("updatedAt", s(at)),
            ("byStatusPk", s(&status_key(RunEvent::Cancelled.to()))),
            ("byStatusSk", s(&format!("{at}#{run_id}"))),
        ]);
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
        at: &str,
        lock: Option<(&LockItem, Option<&str>)>,
    ) -> Result<Changed, StoreError> {
        let s = |v: &str| AttributeValue::S(v.to_owned());
        let n = |v: u32| AttributeValue::N(v.to_string());
        let run_id = claim.run_id.as_str();
        let (mut expression, mut names, mut values) = set_clause(vec![
            ("status", s(RunEvent::Redriven.to().as_str())),
            ("attempt", n(claim.attempt)),
            ("countsFrom", n(claim.attempt)),
            ("disruptions", n(0)),
            ("redrivenBy", s(by)),
            ("redrivenAt", s(at)),
            ("updatedAt", s(at)),
            ("byStatusPk", s(&status_key(RunEvent::Redriven.to()))),
            ("byStatusSk", s(&format!("{at}#{run_id}"))),
        ]);
        expression.push_str(
            ", #redrives = if_not_exists(#redrives, :zero) + :one REMOVE #notified, #lease, #nextRetryAt",
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

    async fn mark_notified(&self, run_id: &str, at: &str) -> Result<(), StoreError> {
        self.client
            .update_item()
            .table_name(&self.table)
            .key("pk", AttributeValue::S(run_pk(run_id)))
            .key("sk", AttributeValue::S(RUN_SK.into()))
            .update_expression("SET #notified = :at REMOVE #lease")
            .expression_attribute_names("#notified", "notifiedAt")
            .expression_attribute_names("#lease", "notifyLeaseUntil")
            .expression_attribute_values(":at", AttributeValue::S(at.to_owned()))
            .send()
            .await
            .map_err(service)?;
        Ok(())
    }
}

/// `<name> IN (:cond_status0, …)`: the statuses `event` may move a run from, as the core's transition table
/// says; their values are added to `values`. Every status condition on a run is written by this function.
fn status_condition(
    name: &str,
    event: RunEvent,
    values: &mut HashMap<String, AttributeValue>,
) -> String {
    one_of(
        name,
        ":cond_status",
        event.from().iter().map(|s| s.as_str()),
        values,
    )
}

/// `<name> IN (:cond_state0, …)`: the states `event` may move an attempt from, as the core's table says.
fn state_condition(
    name: &str,
    event: AttemptEvent,
    values: &mut HashMap<String, AttributeValue>,
) -> String {
    one_of(
        name,
        ":cond_state",
        event.from().iter().map(|s| s.as_str()),
        values,
    )
}

/// `<name> IN (<placeholder>0, …)` for `allowed`, their values added to `values`.
fn one_of(
    name: &str,
    placeholder: &str,
    allowed: impl Iterator<Item = &'static str>,
    values: &mut HashMap<String, AttributeValue>,
) -> String {
    let placeholders: Vec<String> = allowed
        .enumerate()
        .map(|(i, value)| {
            let key = format!("{placeholder}{i}");
            values.insert(key.clone(), AttributeValue::S(value.to_owned()));
            key
        })
        .collect();
    format!("{name} IN ({})", placeholders.join(", "))
}

/// A conditional UpdateItem's result as "did the condition hold".
fn conditional<O, R: std::fmt::Debug + Send + Sync + 'static>(
    result: Result<O, SdkError<aws_sdk_dynamodb::operation::update_item::UpdateItemError, R>>,
) -> Result<bool, StoreError> {
    match result {
        Ok(_) => Ok(true),
        Err(e)
            if e.as_service_error()
                .is_some_and(|s| s.is_conditional_check_failed_exception()) =>
        {
            Ok(false)
        }
        Err(e) => Err(service(e)),
    }
}

/// `SET #f0 = :v0, #f1 = :v1, …` with its name and value maps: every attribute through a placeholder, so
/// reserved words (`action`, `state`, `status`, `reason`, …) need no special care.
fn set_clause(
    fields: Vec<(&str, AttributeValue)>,
) -> (
    String,
    HashMap<String, String>,
    HashMap<String, AttributeValue>,
) {
    let mut names = HashMap::new();
    let mut values = HashMap::new();
    let parts: Vec<String> = fields
        .into_iter()
        .enumerate()
        .map(|(i, (name, value))| {
            names.insert(format!("#f{i}"), name.to_owned());
            values.insert(format!(":v{i}"), value);
            format!("#f{i} = :v{i}")
        })
        .collect();
    (format!("SET {}", parts.join(", ")), names, values)
}
