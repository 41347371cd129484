//! The SNS notifier against moto, observed for real through an SQS queue subscribed to the topic.

use crate::moto::moto;
use reactor_aws::notifier::{Notifier, Outcome, SnsNotifier};

#[tokio::test]
async fn a_finished_run_reaches_the_topics_subscribers() {
    let config = moto().sdk_config().await;
    let (sns, sqs) = (
        aws_sdk_sns::Client::new(&config),
        aws_sdk_sqs::Client::new(&config),
    );
    let (topic, queue_url) = crate::stack::topic_with_inbox(&sns, &sqs).await;

    let outcome = Outcome {
        event: reactor_aws::notifier::Event::RunFailed,
        rule_id: "image-not-found".into(),
        next_retry_at: None,
        memory_mib: None,
        run_id: "nightly-report-20261121T023000Z".into(),
        job: "nightly-report".into(),
        status: "FAILED".into(),
        attempts: 1,
        rule: "the image or tag does not exist".into(),
        reason: "attempt 1 failed; not retried".into(),
        task_arn: Some("arn:aws:ecs:us-east-1:123456789012:task/jobs/0123".into()),
        hint: Some(
            "check the image URI and tag in the task definition; was the tag pushed?".into(),
        ),
    };
    SnsNotifier::new(sns, &topic)
        .notify(&outcome)
        .await
        .unwrap();

    let received = sqs
        .receive_message()
        .queue_url(&queue_url)
        .wait_time_seconds(5)
        .send()
        .await
        .unwrap();
    let messages = received.messages();
    assert_eq!(messages.len(), 1);
    let envelope: serde_json::Value = serde_json::from_str(messages[0].body().unwrap()).unwrap();
    assert_eq!(
        envelope["Subject"],
        "ecs-reactor: nightly-report FAILED after 1 attempt(s)"
    );
    assert_eq!(envelope["MessageAttributes"]["status"]["Value"], "FAILED");
    assert_eq!(
        envelope["MessageAttributes"]["job"]["Value"],
        "nightly-report"
    );
    let body: serde_json::Value =
        serde_json::from_str(envelope["Message"].as_str().unwrap()).unwrap();
    assert_eq!(body["runId"], "nightly-report-20261121T023000Z");
    assert_eq!(body["rule"], "the image or tag does not exist");
}
