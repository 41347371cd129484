//! The scheduler Lambda: fires delayed retries.
//!
//! Three inputs, three paths to the same step ([`reactor_aws::flow::Reactor::fire`]):
//! - **retry queue batches** (SQS): a retry due within 15 minutes was sent with its delay and is delivered
//!   at its due second (`reactor_aws::retry_queue`). Fired concurrently (a batch is at most 10); a fire that
//!   failed fails the invocation (`RetryQueueBatchFailed`), and SQS delivers the batch again.
//! - **DynamoDB stream batches**: DynamoDB's TTL deleted a delay item (a REMOVE record whose `userIdentity` is
//!   the DynamoDB service). Any other record (inserts, updates, deletes by the reactor itself) is skipped. The
//!   response lists the records to retry (`batchItemFailures`), so one bad record does not replay the batch.
//! - **the sweep** (an EventBridge `Scheduled Event`, every minute): TTL is late by minutes to hours, so the
//!   sweep queries the overdue delays of every `byDue` shard and fires them, and resumes launches that an
//!   interrupted invocation left behind.
//!
//! Queue, TTL and sweep may all fire one delay: claiming the retry is a conditional write, exactly one launches.

use aws_lambda_events::event::dynamodb::EventRecord;
use futures_util::future::join_all;
use reactor_aws::edge::HandlerError;
use reactor_aws::flow::{Fired, FlowError, Reactor, Swept};
use reactor_aws::launcher::Launcher;
use reactor_aws::notifier::Notifier;
use reactor_aws::records::{delay_of_image, DelayItem};
use reactor_aws::retry_queue::QueuedRetry;
use reactor_aws::store::Store;
use serde::Serialize;
use serde_json::{json, Value};
use time::OffsetDateTime;

#[derive(Debug, thiserror::Error)]
pub enum SchedulerError {
    #[error("{0}")]
    Unrecognised(String),
    #[error("sweep incomplete: {0}")]
    SweepIncomplete(Swept),
    #[error("{failed} of {of} due retries from the retry queue failed to fire; the batch is delivered again (the fired ones are then already claimed) and the sweep fires them meanwhile")]
    QueueBatchFailed { failed: usize, of: usize },
    #[error(transparent)]
    Flow(#[from] FlowError),
}

impl HandlerError for SchedulerError {
    fn error_type(&self) -> &'static str {
        match self {
            SchedulerError::Unrecognised(_) => "UnrecognisedEvent",
            SchedulerError::SweepIncomplete(_) => "SweepIncomplete",
            SchedulerError::QueueBatchFailed { .. } => "RetryQueueBatchFailed",
            SchedulerError::Flow(e) if e.is_retryable() => "RetryableError",
            SchedulerError::Flow(_) => "SchedulerFailed",
        }
    }
}

/// A stream batch's answer: the records Lambda must hand back (by sequence number).
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct BatchResponse {
    pub batch_item_failures: Vec<BatchItemFailure>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct BatchItemFailure {
    pub item_identifier: String,
}

/// What a stream record is to the scheduler.
#[derive(Debug, Clone, PartialEq)]
pub enum StreamRecord {
    /// DynamoDB's TTL deleted this delay item: its retry is due.
    TtlExpiredDelay(DelayItem),
    /// Not a TTL delete of a delay item (an insert, an update, a delete by the reactor): nothing to do.
    Other(&'static str),
}

/// Reads one stream record. `Err` names what is wrong with it.
pub fn classify_record(record: &Value) -> Result<StreamRecord, String> {
    let record: EventRecord = serde_json::from_value(record.clone())
        .map_err(|e| format!("not a DynamoDB stream record: {e}"))?;
    if record.event_name != "REMOVE" {
        return Ok(StreamRecord::Other("not a delete"));
    }
    let by_ttl = record
        .user_identity
        .as_ref()
        .is_some_and(|u| u.type_ == "Service" && u.principal_id == "dynamodb.amazonaws.com");
    if !by_ttl {
        return Ok(StreamRecord::Other("deleted by a caller, not by TTL"));
    }
    match delay_of_image(record.change.old_image) {
        Ok(Some(delay)) => Ok(StreamRecord::TtlExpiredDelay(delay)),
        Ok(None) => Ok(StreamRecord::Other(
            "TTL delete of an item that is not a delay",
        )),
        Err(e) => Err(format!("delay item unreadable: {e}")),
    }
}

/// The handler: a stream batch or the sweep.
pub async fn handle<S: Store, L: Launcher, N: Notifier>(
    reactor: &Reactor<S, L, N>,
    payload: Value,
    now: OffsetDateTime,
) -> Result<Value, SchedulerError> {
    if let Some(records) = payload.get("Records").and_then(Value::as_array) {
        let from_queue = records
            .first()
            .and_then(|r| r.get("eventSource"))
            .and_then(Value::as_str)
            == Some("aws:sqs");
        if from_queue {
            handle_queue(reactor, records, now).await?;
            return Ok(json!(BatchResponse::default()));
        }
        let response = handle_stream(reactor, records, now).await?;
        return Ok(json!(response));
    }
    let is_schedule = payload.get("detail-type").and_then(Value::as_str) == Some("Scheduled Event");
    if is_schedule {
        let swept = reactor.sweep(now).await?;
        if swept.failed > 0 {
            return Err(SchedulerError::SweepIncomplete(swept));
        }
        return Ok(json!({
            "sweep": {"due": swept.due, "launched": swept.launched, "alreadyClaimed": swept.already_claimed,
                      "stale": swept.stale, "resumed": swept.resumed, "timedOut": swept.timed_out,
                      "reconciled": swept.reconciled, "republished": swept.republished,
                      "deferred": swept.deferred, "missed": swept.missed}
        }));
    }
    let e = SchedulerError::Unrecognised(
        "expected a retry queue batch, a DynamoDB stream batch (Records) or the sweep's Scheduled Event".into(),
    );
    tracing::error!(error = %e, "unrecognised event");
    Err(e)
}

/// A retry queue batch: each message's retry fired, all at once. A fire that failed fails the invocation (after
/// the others were fired), so that it counts in the scheduler's errors alarm: a partial batch response would
/// not. SQS then delivers the whole batch again, where the retries already fired are answered already claimed;
/// the delay items stay in the table either way, so the sweep fires a retry the queue never does.
async fn handle_queue<S: Store, L: Launcher, N: Notifier>(
    reactor: &Reactor<S, L, N>,
    records: &[Value],
    now: OffsetDateTime,
) -> Result<(), SchedulerError> {
    let shards = reactor.settings.sweep_shards;
    let read: Vec<(String, Result<DelayItem, String>)> = records
        .iter()
        .map(|record| {
            let id = record
                .get("messageId")
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_owned();
            let body = record
                .get("body")
                .and_then(Value::as_str)
                .unwrap_or_default();
            (id, QueuedRetry::from_body(body).map(|q| q.delay(shards)))
        })
        .collect();
    let fired = join_all(read.iter().map(|(_, delay)| async move {
        match delay {
            Ok(delay) => Some(reactor.fire(delay, now).await),
            Err(_) => None,
        }
    }))
    .await;
    let mut failed = 0;
    for ((id, delay), fired) in read.into_iter().zip(fired) {
        match (delay, fired) {
            // Delivering it again cannot make it readable, and it stands for no delay item the sweep would
            // not fire anyway (the table is the record of every retry): refused with an error line, not kept.
            (Err(why), _) => {
                tracing::error!(message = id.as_str(), why = why.as_str(), "unreadable retry message refused; the sweep fires every due retry from the table");
            }
            (Ok(_), Some(Ok(_))) | (Ok(_), None) => {}
            (Ok(delay), Some(Err(e))) => {
                failed += 1;
                tracing::error!(message = id.as_str(), run = delay.run_id.as_str(), attempt = delay.attempt, retryable = e.is_retryable(), error = %e, "due retry from the retry queue failed");
            }
        }
    }
    if failed > 0 {
        return Err(SchedulerError::QueueBatchFailed {
            failed,
            of: records.len(),
        });
    }
    Ok(())
}

async fn handle_stream<S: Store, L: Launcher, N: Notifier>(
    reactor: &Reactor<S, L, N>,
    records: &[Value],
    now: OffsetDateTime,
) -> Result<BatchResponse, SchedulerError> {
    let mut response = BatchResponse::default();
    for record in records {
        let sequence = record
            .pointer("/dynamodb/SequenceNumber")
            .and_then(Value::as_str)
            .map(str::to_owned);
        let failed = match classify_record(record) {
            Ok(StreamRecord::Other(why)) => {
                tracing::debug!(sequence = sequence.as_deref(), why, "stream record skipped");
                false
            }
            Ok(StreamRecord::TtlExpiredDelay(delay)) => match reactor.fire(&delay, now).await {
                Ok(Fired::Launched(_) | Fired::AlreadyClaimed | Fired::Stale | Fired::NotDue) => {
                    false
                }
                Err(e) => {
                    tracing::error!(run = delay.run_id.as_str(), attempt = delay.attempt, retryable = e.is_retryable(), error = %e, "due retry failed; record handed back");
                    true
                }
            },
            Err(why) => {
                // Retrying cannot fix it, but handing it back keeps it: after the bounded retries the stream's
                // on-failure destination records it.
                tracing::error!(
                    sequence = sequence.as_deref(),
                    why = why.as_str(),
                    "unreadable stream record"
                );
                true
            }
        };
        if failed {
            match sequence {
                Some(id) => response.batch_item_failures.push(BatchItemFailure { item_identifier: id }),
                None => {
                    return Err(SchedulerError::Unrecognised(
                        "a failed stream record has no dynamodb.SequenceNumber; the whole batch is retried".into(),
                    ))
                }
            }
        }
    }
    Ok(response)
}
