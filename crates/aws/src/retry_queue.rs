//! Retries fired at their due second: a delayed retry due within SQS's longest delay (15 minutes) is also sent
//! to the retry queue with that delay, and the queue delivers it to the scheduler when it falls due.
//!
//! Why a queue as well as the table: a retry is written as a delay item, and the one-minute sweep only sees an
//! item written before it reads. A retry judged just after a sweep read waits for the next one (up to a
//! minute), and a burst of retries falling due within a minute waits for the sweep to drain them all at
//! ECS's launch rate. Through the queue each fires as it falls due, spread over the minute the way it was
//! scheduled. The delay item stays the source of truth: firing is the same conditional claim whoever fires
//! (queue, sweep, TTL), so a message that is lost, late, delivered twice or never sent changes nothing but
//! the lateness; the sweep fires what the queue did not.
//!
//! The message names the run, the attempt and the due time: no request, no override value.

use crate::aws_error::AwsError;
use crate::records::DelayItem;
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

/// SQS's longest `DelaySeconds`: retries due later are TTL's and the sweep's alone.
pub const MAX_DELAY_SECONDS: i64 = 900;

#[derive(Debug, thiserror::Error)]
pub enum QueueError {
    #[error("SQS (SendMessage to the retry queue): {0}")]
    Send(#[source] AwsError),
    #[error("a retry message could not be written: {0}")]
    Encode(#[source] serde_json::Error),
}

/// A retry queue's message body.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct QueuedRetry {
    pub run_id: String,
    pub attempt: u32,
    /// Epoch seconds, the delay item's `dueAt`.
    pub due_at: i64,
}

impl QueuedRetry {
    /// Reads a message body. The error names what is wrong without repeating the body.
    pub fn from_body(body: &str) -> Result<QueuedRetry, String> {
        serde_json::from_str::<QueuedRetry>(body).map_err(|e| {
            format!(
                "not a retry message (expected {{\"runId\", \"attempt\", \"dueAt\"}}): {:?} at line {} column {}",
                e.classify(),
                e.line(),
                e.column()
            )
        })
    }

    /// The delay item it stands for (its sweep partition as `shards` writers spread items now; firing does
    /// not read it).
    pub fn delay(&self, shards: u32) -> DelayItem {
        DelayItem::new(&self.run_id, self.attempt, self.due_at, shards)
    }
}

/// The `DelaySeconds` that delivers a retry due at `due_at` (epoch seconds) no earlier than its due second,
/// sent at `now`: rounded up, 0 when overdue; `None` beyond SQS's 15 minutes.
pub fn delay_seconds(due_at: i64, now: OffsetDateTime) -> Option<i32> {
    let ahead_nanos = i128::from(due_at) * 1_000_000_000 - now.unix_timestamp_nanos();
    let ahead = ahead_nanos.div_euclid(1_000_000_000)
        + i128::from(ahead_nanos.rem_euclid(1_000_000_000) > 0);
    let ahead = ahead.max(0);
    (ahead <= i128::from(MAX_DELAY_SECONDS)).then_some(ahead as i32)
}

/// The stack's retry queue (`REACTOR_RETRY_QUEUE_URL`).
#[derive(Clone, Debug)]
pub struct RetryQueue {
    sqs: aws_sdk_sqs::Client,
    url: String,
}

impl RetryQueue {
    pub fn new(sqs: aws_sdk_sqs::Client, url: &str) -> RetryQueue {
        RetryQueue {
            sqs,
            url: url.to_owned(),
        }
    }

    /// On a client of `sdk`.
    pub fn on(sdk: &aws_config::SdkConfig, url: &str) -> RetryQueue {
        RetryQueue::new(aws_sdk_sqs::Client::new(sdk), url)
    }

    /// Sends `delay` to fall due at its second. `Ok(false)`: due beyond SQS's delay, not sent.
    pub async fn send(&self, delay: &DelayItem, now: OffsetDateTime) -> Result<bool, QueueError> {
        let Some(seconds) = delay_seconds(delay.due_at, now) else {
            return Ok(false);
        };
        let body = serde_json::to_string(&QueuedRetry {
            run_id: delay.run_id.clone(),
            attempt: delay.attempt,
            due_at: delay.due_at,
        })
        .map_err(QueueError::Encode)?;
        self.sqs
            .send_message()
            .queue_url(&self.url)
            .message_body(body)
            .delay_seconds(seconds)
            .send()
            .await
            .map_err(|e| QueueError::Send(AwsError::from_sdk(e)))?;
        Ok(true)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_retry_is_delivered_no_earlier_than_its_due_second() {
        let at = |secs: i64, millis: i64| {
            OffsetDateTime::from_unix_timestamp(secs).unwrap()
                + time::Duration::milliseconds(millis)
        };
        #[rustfmt::skip]
        let cases: &[(i64, OffsetDateTime, Option<i32>)] = &[
            // due_at,  sent at,             DelaySeconds
            (1_000,     at(1_000, 0),        Some(0)),
            (1_000,     at(1_010, 0),        Some(0)),     // overdue: at once
            (1_000,     at(999, 0),          Some(1)),
            (1_000,     at(999, 1),          Some(1)),     // 0.999 s ahead: rounded up, never early
            (1_000,     at(940, 500),        Some(60)),
            (1_900,     at(1_000, 0),        Some(900)),   // SQS's longest delay
            (1_901,     at(1_000, 0),        None),        // beyond it: TTL and the sweep
            (1_900,     at(1_000, 1),        Some(900)),   // 899.999 s ahead
        ];
        for (due, now, want) in cases {
            assert_eq!(delay_seconds(*due, *now), *want, "due {due} at {now}");
        }
    }

    #[test]
    fn a_message_body_reads_back_and_a_wrong_one_is_named_without_its_content() {
        let sent = QueuedRetry {
            run_id: "nightly-1".into(),
            attempt: 2,
            due_at: 1_800_000_000,
        };
        let body = serde_json::to_string(&sent).unwrap();
        assert_eq!(
            body,
            r#"{"runId":"nightly-1","attempt":2,"dueAt":1800000000}"#
        );
        assert_eq!(QueuedRetry::from_body(&body).unwrap(), sent);
        for bad in [
            "MARKER-not-json",
            r#"{"runId":"MARKER","attempt":"two","dueAt":1}"#,
            r#"{"runId":"MARKER","attempt":2}"#,
            r#"{"runId":"r","attempt":2,"dueAt":1,"secret":"MARKER"}"#,
        ] {
            let e = QueuedRetry::from_body(bad).unwrap_err();
            assert!(e.starts_with("not a retry message"), "{e}");
            assert!(!e.contains("MARKER"), "{e}");
        }
    }
}
