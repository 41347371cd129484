//! The SNS notifier against moto, observed for real through SQS queues subscribed to the topic: the message
//! (subject, schema, attributes, body), and subscription filter policies on its attributes choosing what each
//! subscriber receives. The README's notification sample and filter policies are checked against the code.

use crate::cli::root;
use crate::moto::{moto, unique};
use reactor_aws::notifier::{Event, Notifier, Outcome, SnsNotifier, SCHEMA};
use serde_json::{json, Value};
use std::collections::BTreeSet;

fn outcome(job: &str, event: Event, status: &str, attempts: u32) -> Outcome {
    Outcome {
        event,
        run_id: format!("{job}-20261121T023000Z"),
        job: job.into(),
        status: status.into(),
        attempts,
        rule_id: "image-not-found".into(),
        rule: "the image or tag does not exist".into(),
        reason: format!("attempt {attempts} failed; not retried"),
        task_arn: Some("arn:aws:ecs:us-east-1:123456789012:task/jobs/0123".into()),
        hint: Some(
            "check the image URI and tag in the task definition; was the tag pushed?".into(),
        ),
        next_retry_at: None,
        memory_mib: None,
    }
}

/// Every SNS envelope waiting in the queue (moto delivers SNS to SQS during the publish call).
async fn received(sqs: &aws_sdk_sqs::Client, queue_url: &str) -> Vec<Value> {
    let mut out = Vec::new();
    loop {
        let batch = sqs
            .receive_message()
            .queue_url(queue_url)
            .max_number_of_messages(10)
            .send()
            .await
            .unwrap();
        if batch.messages().is_empty() {
            return out;
        }
        for m in batch.messages() {
            out.push(serde_json::from_str(m.body().unwrap()).unwrap());
            sqs.delete_message()
                .queue_url(queue_url)
                .receipt_handle(m.receipt_handle().unwrap())
                .send()
                .await
                .unwrap();
        }
    }
}

async fn topic(sns: &aws_sdk_sns::Client) -> String {
    sns.create_topic()
        .name(unique("outcomes"))
        .send()
        .await
        .unwrap()
        .topic_arn
        .unwrap()
}

#[tokio::test]
async fn a_notification_reaches_subscribers_with_its_subject_schema_attributes_and_body() {
    let config = moto().sdk_config().await;
    let (sns, sqs) = (
        aws_sdk_sns::Client::new(&config),
        aws_sdk_sqs::Client::new(&config),
    );
    let topic = topic(&sns).await;
    let inbox = crate::stack::subscriber(&sns, &sqs, &topic, None).await;
    let notifier = SnsNotifier::new(sns, &topic);

    let failed = outcome("nightly-report", Event::RunFailed, "FAILED", 3);
    let mut retrying = outcome(
        "nightly-report",
        Event::AttemptRetrying,
        "RETRY_SCHEDULED",
        1,
    );
    (retrying.rule_id, retrying.rule) = (
        "out-of-memory".into(),
        // What ECS wrote, newline and all: the subject must still be one clean line under 100 characters.
        "OutOfMemoryError: Container killed due to memory usage\nExit Code 137 \u{1b}[0m after a very long run of a very long job".into(),
    );
    (retrying.next_retry_at, retrying.memory_mib) =
        (Some("2026-11-21T02:31:04Z".into()), Some(2048));
    for o in [&failed, &retrying] {
        notifier.notify(o).await.unwrap();
    }

    let got = received(&sqs, &inbox).await;
    assert_eq!(got.len(), 2, "{got:#?}");
    for (envelope, sent) in got.iter().zip([&failed, &retrying]) {
        assert_eq!(envelope["Subject"], sent.subject());
        // Map equality ignores order: SNS does not keep the attributes' order.
        let expected: serde_json::Map<String, Value> = sent
            .message_attributes()
            .iter()
            .map(|(k, v)| (k.to_string(), json!({"Type": "String", "Value": v})))
            .collect();
        assert_eq!(envelope["MessageAttributes"], Value::Object(expected));
        let body: Value = serde_json::from_str(envelope["Message"].as_str().unwrap()).unwrap();
        assert_eq!(body["schema"], SCHEMA);
        assert_eq!(body, json!(sent), "the body parses back to what was sent");
    }
    assert_eq!(
        got[0]["Subject"],
        "FAILED nightly-report after 3 attempts: the image or tag does not exist"
    );
    assert_eq!(
        got[1]["Subject"],
        "RETRYING nightly-report: attempt 1 failed (OutOfMemoryError...), next at 02:31:04Z with 2048 MiB"
    );
    let body: Value = serde_json::from_str(got[1]["Message"].as_str().unwrap()).unwrap();
    assert_eq!(
        (
            &body["event"],
            &body["severity"],
            &body["nextRetryAt"],
            &body["memoryMib"]
        ),
        (
            &json!("ATTEMPT_RETRYING"),
            &json!("WARNING"),
            &json!("2026-11-21T02:31:04Z"),
            &json!(2048)
        )
    );
}

/// The README's example filter policies, each with what it lets through of the events published below
/// (job, event).
#[rustfmt::skip]
fn filter_policies() -> Vec<(Value, Vec<(&'static str, Event)>)> {
    use Event::*;
    vec![
        (json!({"severity": ["ERROR"]}),
         vec![("nightly-report", RunFailed), ("billing-export", RunFailed)]),
        (json!({"job": ["nightly-report"], "event": ["RUN_FAILED"]}),
         vec![("nightly-report", RunFailed)]),
        (json!({"job": ["billing-export"]}),
         vec![("billing-export", RunSucceeded), ("billing-export", RunFailed), ("billing-export", AttemptRetrying),
              ("billing-export", RunCancelled)]),
        (json!({"event": [{"anything-but": ["ATTEMPT_RETRYING"]}]}),
         vec![("nightly-report", RunFailed), ("nightly-report", RunSkipped), ("billing-export", RunSucceeded),
              ("billing-export", RunFailed), ("billing-export", RunCancelled)]),
        (json!({"severity": ["WARNING", "ERROR"], "job": [{"prefix": "billing-"}]}),
         vec![("billing-export", RunFailed), ("billing-export", AttemptRetrying)]),
    ]
}

#[tokio::test]
async fn filter_policies_on_the_attributes_choose_what_each_subscriber_receives() {
    let config = moto().sdk_config().await;
    let (sns, sqs) = (
        aws_sdk_sns::Client::new(&config),
        aws_sdk_sqs::Client::new(&config),
    );
    let topic = topic(&sns).await;
    let everything = crate::stack::subscriber(&sns, &sqs, &topic, None).await;
    let mut filtered = Vec::new();
    for (policy, expected) in filter_policies() {
        filtered.push((
            crate::stack::subscriber(&sns, &sqs, &topic, Some(&policy)).await,
            policy,
            expected,
        ));
    }

    #[rustfmt::skip]
    let published = [
        outcome("nightly-report", Event::AttemptRetrying, "RETRY_SCHEDULED", 1),
        outcome("nightly-report", Event::RunFailed, "FAILED", 2),
        outcome("nightly-report", Event::RunSkipped, "SKIPPED", 0),
        outcome("billing-export", Event::RunSucceeded, "SUCCEEDED", 1),
        outcome("billing-export", Event::AttemptRetrying, "RETRY_SCHEDULED", 1),
        outcome("billing-export", Event::RunFailed, "FAILED", 4),
        outcome("billing-export", Event::RunCancelled, "CANCELLED", 1),
    ];
    let notifier = SnsNotifier::new(sns, &topic);
    for o in &published {
        notifier.notify(o).await.unwrap();
    }

    let events = |envelopes: Vec<Value>| -> Vec<(String, String)> {
        envelopes
            .iter()
            .map(|e| {
                let body: Value = serde_json::from_str(e["Message"].as_str().unwrap()).unwrap();
                (
                    body["job"].as_str().unwrap().to_owned(),
                    body["event"].as_str().unwrap().to_owned(),
                )
            })
            .collect::<BTreeSet<_>>()
            .into_iter()
            .collect()
    };
    let mut wrong = Vec::new();
    let all = events(received(&sqs, &everything).await);
    assert_eq!(
        all.len(),
        published.len(),
        "the unfiltered subscriber gets everything: {all:?}"
    );
    for (queue, policy, expected) in filtered {
        let got = events(received(&sqs, &queue).await);
        let expected: Vec<(String, String)> = expected
            .iter()
            .map(|(job, event)| (job.to_string(), event.as_str().to_owned()))
            .collect::<BTreeSet<_>>()
            .into_iter()
            .collect();
        if got != expected {
            wrong.push(format!(
                "{policy}\n  got      {got:?}\n  expected {expected:?}"
            ));
        }
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}

/// The README text between `<!-- NAME:begin -->` and `<!-- NAME:end -->`.
fn readme_part(name: &str) -> String {
    let readme = std::fs::read_to_string(root().join("README.md")).unwrap();
    let begin = format!("<!-- {name}:begin -->\n");
    let start = readme
        .find(&begin)
        .unwrap_or_else(|| panic!("README has the {name}:begin marker"))
        + begin.len();
    let stop = readme[start..]
        .find(&format!("<!-- {name}:end -->"))
        .unwrap_or_else(|| panic!("README has the {name}:end marker"))
        + start;
    readme[start..stop].to_owned()
}

/// The first cell of each table row whose first cell is code (`| `x` | …`), without the backticks.
fn first_cells(part: &str) -> Vec<String> {
    part.lines()
        .filter(|l| l.starts_with("| `"))
        .map(|l| {
            l.split('|')
                .nth(1)
                .unwrap()
                .trim()
                .trim_matches('`')
                .to_owned()
        })
        .collect()
}

/// The README's sample, the way it documents the schema.
fn readme_sample() -> Outcome {
    Outcome {
        event: Event::AttemptRetrying,
        run_id: "nightly-report-20261121T023000Z".into(),
        job: "nightly-report".into(),
        status: "RETRY_SCHEDULED".into(),
        attempts: 1,
        rule_id: "image-pull-rate-limited".into(),
        rule: "the registry or an AWS API refused the call: rate limit (toomanyrequests, Rate exceeded)".into(),
        reason: "retrying in 64 s: attempt 1 of 4 used".into(),
        task_arn: Some("arn:aws:ecs:us-east-1:111122223333:task/jobs/a1f0c0de00000000000000000000004d".into()),
        hint: Some("pull from ECR (pull-through cache) instead of Docker Hub, or authenticate the pulls".into()),
        next_retry_at: Some("2026-11-21T02:31:04Z".into()),
        memory_mib: None,
    }
}

#[test]
fn the_readme_sample_is_what_the_notifier_publishes() {
    let part = readme_part("notification");
    let sample = readme_sample();
    let block = part
        .split("```json\n")
        .nth(1)
        .and_then(|rest| rest.split("\n```").next())
        .expect("a ```json block between the notification markers");
    assert_eq!(
        block,
        sample.body().unwrap(),
        "README's sample message differs from what Outcome serializes to; paste the new one"
    );
    assert!(
        part.contains(&format!("Subject: `{}`", sample.subject())),
        "README's sample subject differs; it is now `{}`",
        sample.subject()
    );
}

#[test]
fn the_readme_schema_table_lists_every_field_and_the_attributes_table_every_attribute() {
    let mut full = readme_sample();
    full.memory_mib = Some(2048);
    let fields: Vec<String> = json!(full).as_object().unwrap().keys().cloned().collect();
    assert_eq!(
        first_cells(&readme_part("notification-fields")),
        fields,
        "README's schema table (between the notification-fields markers) must list the message's fields in order"
    );
    let attributes: Vec<String> = full
        .message_attributes()
        .iter()
        .map(|(k, _)| k.to_string())
        .collect();
    assert_eq!(
        first_cells(&readme_part("notification-attributes")),
        attributes
    );
    let policies: Vec<Value> = first_cells(&readme_part("notification-filter-policies"))
        .iter()
        .map(|p| serde_json::from_str(p).unwrap_or_else(|e| panic!("{p}: {e}")))
        .collect();
    assert_eq!(
        policies,
        filter_policies()
            .into_iter()
            .map(|(p, _)| p)
            .collect::<Vec<_>>(),
        "README's example filter policies are the ones filter_policies_on_the_attributes_… proves against moto"
    );
}
