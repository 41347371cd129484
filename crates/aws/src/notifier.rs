//! Outcomes to SNS: one message per finished run, with attributes subscribers can filter on.

use aws_sdk_sns::error::DisplayErrorContext;
use aws_sdk_sns::types::MessageAttributeValue;
use aws_sdk_sns::Client;
use serde::Serialize;
use std::future::Future;

/// What happened.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum Event {
    RunSucceeded,
    RunFailed,
    RunCancelled,
    RunSkipped,
    AttemptRetrying,
}

/// What a finished run tells its subscribers.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Outcome {
    pub event: Event,
    pub run_id: String,
    pub job: String,
    /// SUCCEEDED, FAILED or CANCELLED.
    pub status: String,
    /// Attempts made, free relaunches included.
    pub attempts: u32,
    pub rule_id: String,
    /// The rule of the last decision, in words.
    pub rule: String,
    /// The last decision's reason.
    pub reason: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub task_arn: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub hint: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_retry_at: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub memory_mib: Option<u32>,
}

impl Outcome {
    /// The subject line (SNS allows 100 characters).
    pub fn subject(&self) -> String {
        let subject = format!(
            "ecs-reactor: {} {} after {} attempt(s)",
            self.job, self.status, self.attempts
        );
        subject.chars().take(100).collect()
    }
}

#[derive(Debug, thiserror::Error)]
#[error("SNS publish failed: {0}")]
pub struct NotifyError(pub String);

pub trait Notifier: Send + Sync {
    fn notify(&self, outcome: &Outcome) -> impl Future<Output = Result<(), NotifyError>> + Send;
}

pub struct SnsNotifier {
    client: Client,
    topic_arn: String,
}

impl SnsNotifier {
    pub fn new(client: Client, topic_arn: impl Into<String>) -> Self {
        SnsNotifier {
            client,
            topic_arn: topic_arn.into(),
        }
    }
}

fn attribute(value: &str) -> Result<MessageAttributeValue, NotifyError> {
    MessageAttributeValue::builder()
        .data_type("String")
        .string_value(value)
        .build()
        .map_err(|e| NotifyError(e.to_string()))
}

impl Notifier for SnsNotifier {
    async fn notify(&self, outcome: &Outcome) -> Result<(), NotifyError> {
        let body = serde_json::to_string_pretty(outcome).map_err(|e| NotifyError(e.to_string()))?;
        self.client
            .publish()
            .topic_arn(&self.topic_arn)
            .subject(outcome.subject())
            .message(body)
            .message_attributes("job", attribute(&outcome.job)?)
            .message_attributes("status", attribute(&outcome.status)?)
            .message_attributes("runId", attribute(&outcome.run_id)?)
            .send()
            .await
            .map_err(|e| NotifyError(DisplayErrorContext(&e).to_string()))?;
        Ok(())
    }
}
