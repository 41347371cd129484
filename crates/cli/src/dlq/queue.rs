//! The failure queues over SQS. A queue is read without taking its messages from anyone: each receive hides
//! what it returned for a while (so the next receive brings the next messages), and once the command is done
//! with them they are made visible again; deleting is the only lasting change.

use crate::aws::aws_failure;
use crate::failure::Failure;
use aws_sdk_sqs::error::SdkError;
use aws_sdk_sqs::types::{ChangeMessageVisibilityBatchRequestEntry, MessageSystemAttributeName};
use reactor_aws::aws_error::AwsError;
use std::collections::{BTreeMap, HashSet};
use time::OffsetDateTime;

/// How long `list` and `show` hide what they read from other readers, should the command die before it
/// shows them again.
pub const LOOK_SECONDS: i32 = 30;

/// How long `replay` and `purge` hold what they read: long enough for a replay of every message read (each
/// a few DynamoDB calls and a RunTask), so that a message is not handed to someone else mid-replay.
pub const ACT_SECONDS: i32 = 600;

/// The most messages read from one queue by one command.
pub const MAX_PER_QUEUE: usize = 1000;

#[derive(Debug, Clone)]
pub struct Queue {
    pub url: String,
    /// The queue's name (the URL's last part), as the console and the alarms name it.
    pub name: String,
}

impl Queue {
    pub fn new(url: &str) -> Queue {
        let trimmed = url.trim().trim_end_matches('/');
        let name = trimmed.rsplit('/').next().unwrap_or(trimmed).to_owned();
        Queue {
            url: trimmed.to_owned(),
            name,
        }
    }
}

/// A message as received.
#[derive(Debug, Clone)]
pub struct Received {
    pub message_id: String,
    /// The latest receive's handle: the one SQS takes to delete the message or change its visibility.
    pub receipt: String,
    pub body: String,
    /// The message attributes with a string value (an EventBridge rule's dead letter has its words there).
    pub attributes: BTreeMap<String, String>,
    pub sent_at: Option<OffsetDateTime>,
}

/// The queue's messages, each once, at most `cap`; stops early once every id of `wanted` is among them.
/// Returns them and whether the cap stopped the reading (more may be left).
pub async fn browse(
    sqs: &aws_sdk_sqs::Client,
    queue: &Queue,
    cap: usize,
    hide_seconds: i32,
    wanted: Option<&HashSet<String>>,
) -> Result<(Vec<Received>, bool), Failure> {
    let mut out: Vec<Received> = Vec::new();
    let mut seen: HashSet<String> = HashSet::new();
    loop {
        if out.len() >= cap {
            return Ok((out, true));
        }
        if wanted.is_some_and(|w| w.iter().all(|id| seen.contains(id))) {
            return Ok((out, false));
        }
        let answer = sqs
            .receive_message()
            .queue_url(&queue.url)
            .max_number_of_messages(10.min(cap - out.len()).max(1) as i32)
            .visibility_timeout(hide_seconds)
            // Long polling asks every SQS server, so an empty answer means the queue has no visible message
            // left (a short poll samples some servers and can answer empty while messages wait).
            .wait_time_seconds(1)
            .message_attribute_names("All")
            .message_system_attribute_names(MessageSystemAttributeName::All)
            .send()
            .await
            .map_err(|e| match &e {
                SdkError::ServiceError(s) if s.err().is_queue_does_not_exist() => {
                    no_such_queue(queue)
                }
                _ => aws_failure(&queue.url, &AwsError::from_sdk(e)),
            })?;
        let messages = answer.messages.unwrap_or_default();
        if messages.is_empty() {
            return Ok((out, false));
        }
        for m in messages {
            let (Some(id), Some(receipt)) = (m.message_id, m.receipt_handle) else {
                continue;
            };
            let system = m.attributes.unwrap_or_default();
            let sent_at = system
                .get(&MessageSystemAttributeName::SentTimestamp)
                .and_then(|ms| ms.parse::<i128>().ok())
                .and_then(|ms| OffsetDateTime::from_unix_timestamp_nanos(ms * 1_000_000).ok());
            let attributes = m
                .message_attributes
                .unwrap_or_default()
                .into_iter()
                .filter_map(|(k, v)| Some((k, v.string_value?)))
                .collect();
            let received = Received {
                message_id: id.clone(),
                receipt,
                body: m.body.unwrap_or_default(),
                attributes,
                sent_at,
            };
            // A standard queue may hand a message out twice; only the latest receipt handle is sure to work.
            if seen.insert(id.clone()) {
                out.push(received);
            } else if let Some(earlier) = out.iter_mut().find(|r| r.message_id == id) {
                earlier.receipt = received.receipt;
            }
        }
    }
}

/// Makes `messages` visible again at once. A failure is returned for the caller to mention: the messages
/// come back by themselves when their hiding time ends.
pub async fn release(
    sqs: &aws_sdk_sqs::Client,
    queue: &Queue,
    messages: &[&Received],
) -> Result<(), Failure> {
    // ChangeMessageVisibilityBatch takes at most ten entries.
    for chunk in messages.chunks(10) {
        let entries = chunk
            .iter()
            .enumerate()
            .map(|(i, m)| {
                ChangeMessageVisibilityBatchRequestEntry::builder()
                    .id(i.to_string())
                    .receipt_handle(&m.receipt)
                    .visibility_timeout(0)
                    .build()
                    .map_err(|e| Failure::Aws(format!("cannot build the request: {e}")))
            })
            .collect::<Result<Vec<_>, Failure>>()?;
        sqs.change_message_visibility_batch()
            .queue_url(&queue.url)
            .set_entries(Some(entries))
            .send()
            .await
            .map_err(|e| aws_failure(&queue.url, &AwsError::from_sdk(e)))?;
    }
    Ok(())
}

/// Deletes one message for good.
pub async fn delete(
    sqs: &aws_sdk_sqs::Client,
    queue: &Queue,
    message: &Received,
) -> Result<(), Failure> {
    sqs.delete_message()
        .queue_url(&queue.url)
        .receipt_handle(&message.receipt)
        .send()
        .await
        .map(|_| ())
        .map_err(|e| match &e {
            SdkError::ServiceError(s) if s.err().is_queue_does_not_exist() => no_such_queue(queue),
            _ => aws_failure(&queue.url, &AwsError::from_sdk(e)),
        })
}

fn no_such_queue(queue: &Queue) -> Failure {
    Failure::Aws(format!(
        "queue {} does not exist in this account and region: check --queue, or --stack / REACTOR_STACK and \
         --region",
        queue.url
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_queue_is_named_by_its_urls_last_part() {
        let q = Queue::new(
            "https://sqs.us-east-1.amazonaws.com/111122223333/ecs-reactor-InvokeFailureQueue-1A2B/",
        );
        assert_eq!(q.name, "ecs-reactor-InvokeFailureQueue-1A2B");
        assert!(!q.url.ends_with('/'));
    }
}
