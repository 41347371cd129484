//! `ecs-reactor dlq` against moto's SQS: the three shapes the stack's failure queues hold (an EventBridge rule's
//! dead letter, a Lambda on-failure destination record, the stream's on-failure record) listed and explained;
//! replays through the flow that judge or start exactly once, delete only after success and keep what failed;
//! purge behind --yes; and a secret in a job's environment (or command) printed nowhere.

use crate::oncall::{assert_mentions, output, shell, Out};
use crate::stack::Stack;
use aws_sdk_sqs::types::{MessageAttributeValue, QueueAttributeName};
use reactor_core::run::delay_shard;
use serde_json::{json, Map, Value};
use time::OffsetDateTime;

/// A value that must never be printed: it sits in the job's environment and command overrides.
const MARKER: &str = "s3cr3t-dlq-marker-7f3a";

/// What an EventBridge rule's dead letter carries in its message attributes.
const RULE_ARN: &str =
    "arn:aws:events:us-east-1:123456789012:rule/ecs-reactor-ClassifierFunctionTaskStopped-1A2B3C";
const CLASSIFIER_ARN: &str =
    "arn:aws:lambda:us-east-1:123456789012:function:ecs-reactor-ClassifierFunction-4D5E6F";
const STARTER_ARN: &str =
    "arn:aws:lambda:us-east-1:123456789012:function:ecs-reactor-StarterFunction-7A8B9C:$LATEST";
const SCHEDULER_ARN: &str =
    "arn:aws:lambda:us-east-1:123456789012:function:ecs-reactor-SchedulerFunction-0D1E2F";

/// The stack's three failure queues, as template.yml names their outputs.
struct Queues {
    invoke: String,
    rule: String,
    stream: String,
}

async fn queues(stack: &Stack) -> Queues {
    let make = |name: &'static str| async move {
        stack
            .sqs
            .create_queue()
            .queue_name(crate::moto::unique(name))
            .send()
            .await
            .unwrap()
            .queue_url
            .unwrap()
    };
    Queues {
        invoke: make("InvokeFailureQueue").await,
        rule: make("RuleDeliveryFailureQueue").await,
        stream: make("StreamFailureQueue").await,
    }
}

/// A CloudFormation stack in moto whose outputs name this stack's queues, table, topic and retry queue, and
/// `more` (moto cannot run template.yml's SAM transform; the output names are template.yml's, checked here).
async fn cfn_stack(stack: &Stack, q: &Queues, more: &[(&str, &str)]) -> String {
    let template = std::fs::read_to_string(crate::cli::root().join("template.yml")).unwrap();
    let outputs: Vec<(&str, &str)> = [
        ("InvokeFailureQueueUrl", q.invoke.as_str()),
        ("RuleDeliveryFailureQueueUrl", q.rule.as_str()),
        ("StreamFailureQueueUrl", q.stream.as_str()),
        ("AttemptsTableName", stack.table.as_str()),
        ("OutcomesTopicArn", stack.topic_arn.as_str()),
        ("RetryQueueUrl", stack.retry_queue_url.as_str()),
    ]
    .into_iter()
    .chain(more.iter().copied())
    .collect();
    for (name, _) in &outputs {
        assert!(
            template.contains(&format!("\n  {name}:\n")),
            "template.yml has no output {name}"
        );
    }
    let outputs: Map<String, Value> = outputs
        .iter()
        .map(|(k, v)| ((*k).to_owned(), json!({ "Value": v })))
        .collect();
    let name = crate::moto::unique("ecs-reactor-dlq");
    aws_sdk_cloudformation::Client::new(&stack.config)
        .create_stack()
        .stack_name(&name)
        .template_body(
            json!({"Resources": {"Placeholder": {"Type": "AWS::SNS::Topic"}}, "Outputs": outputs})
                .to_string(),
        )
        .send()
        .await
        .unwrap();
    name
}

/// This stack's job, with a secret in its container's environment and command.
fn secret_job(stack: &Stack) -> Value {
    let mut job = stack.job("nightly-report");
    job["runTask"]["overrides"] = json!({"containerOverrides": [
        {"name": "app", "command": ["report", "--token", MARKER], "environment": [{"name": "DB_PASSWORD", "value": MARKER}]}
    ]});
    job
}

/// A run of the secret job started by the starter for the tick at `tick`, and its task stopped by a pull
/// rate limit: the STOPPED event (ECS repeats the task's overrides in it, the secret included), the run id.
async fn stopped_run(stack: &Stack, tick: &str) -> (Value, String) {
    let mut event = stack.tick("nightly-report", tick);
    event["detail"] = secret_job(stack);
    // The tick's own time, not the clock: a tick is refused when it is from the future, whatever day the suite runs.
    let at = OffsetDateTime::parse(tick, &time::format_description::well_known::Rfc3339).unwrap()
        + time::Duration::seconds(5);
    let started = starter::handle(&stack.reactor(), event, "r", at)
        .await
        .unwrap();
    let task = started.task_arn.unwrap();
    let started_by = format!("ecs-reactor/{}/1", started.run_id);
    let mut stopped = stack
        .stop(&task, &started_by, "stopped-pull-rate-limit.json", 3)
        .await;
    stopped["detail"]["overrides"] = secret_job(stack)["runTask"]["overrides"].clone();
    (stopped, started.run_id)
}

/// The messages in the stack's retry queue, delayed or visible (a retry's message is delayed until it is due).
async fn retry_queue_messages(stack: &Stack) -> u64 {
    let attributes = stack
        .sqs
        .get_queue_attributes()
        .queue_url(&stack.retry_queue_url)
        .attribute_names(QueueAttributeName::ApproximateNumberOfMessages)
        .attribute_names(QueueAttributeName::ApproximateNumberOfMessagesDelayed)
        .send()
        .await
        .unwrap()
        .attributes
        .unwrap_or_default();
    attributes
        .values()
        .map(|count| count.parse::<u64>().unwrap())
        .sum()
}

/// Sends `body` to `queue` with string message attributes; returns the message id.
async fn send(stack: &Stack, queue: &str, body: &Value, attributes: &[(&str, &str)]) -> String {
    let mut message = stack
        .sqs
        .send_message()
        .queue_url(queue)
        .message_body(body.to_string());
    for (name, value) in attributes {
        message = message.message_attributes(
            *name,
            MessageAttributeValue::builder()
                .data_type("String")
                .string_value(*value)
                .build()
                .unwrap(),
        );
    }
    message.send().await.unwrap().message_id.unwrap()
}

/// What EventBridge attaches to a dead letter of the TaskStopped rule whose function was throttled.
const RULE_ATTRIBUTES: [(&str, &str); 6] = [
    ("RULE_ARN", RULE_ARN),
    ("TARGET_ARN", CLASSIFIER_ARN),
    ("ERROR_CODE", "THROTTLING"),
    ("ERROR_MESSAGE", "Rate Exceeded."),
    ("EXHAUSTED_RETRY_CONDITION", "MaximumRetryAttempts"),
    ("RETRY_ATTEMPTS", "24"),
];

/// Lambda's on-failure destination record of the starter for `payload`.
fn invoke_record(payload: &Value, request_id: &str) -> Value {
    json!({
        "version": "1.0", "timestamp": "2026-11-21T03:01:02.345Z",
        "requestContext": {"requestId": request_id, "functionArn": STARTER_ARN, "condition": "RetriesExhausted",
                           "approximateInvokeCount": 3},
        "requestPayload": payload,
        "responseContext": {"statusCode": 200, "executedVersion": "$LATEST", "functionError": "Unhandled"},
        "responsePayload": {"errorType": "RetryableError", "errorMessage": "the attempts table did not answer in time"}
    })
}

/// The stream's on-failure record of a batch the scheduler gave up on.
fn stream_record(table: &str) -> Value {
    json!({
        "requestContext": {"requestId": "5b3e1c2d-0000-4000-8000-000000000001", "functionArn": SCHEDULER_ARN,
                           "condition": "RetryAttemptsExhausted", "approximateInvokeCount": 6},
        "responseContext": {"statusCode": 200, "executedVersion": "$LATEST", "functionError": "Unhandled"},
        "version": "1.0", "timestamp": "2026-11-21T03:05:00.000Z",
        "DDBStreamBatchInfo": {
            "shardId": "shardId-00000001795000000000-0a1b2c3d",
            "startSequenceNumber": "400000000000000000001", "endSequenceNumber": "400000000000000000001",
            "approximateArrivalOfFirstRecord": "2026-11-21T03:00:00Z", "approximateArrivalOfLastRecord": "2026-11-21T03:00:00Z",
            "batchSize": 1,
            "streamArn": format!("arn:aws:dynamodb:us-east-1:123456789012:table/{table}/stream/2026-11-21T00:00:00.000")
        }
    })
}

/// When the commands run (`--now`): after every tick the messages carry, whatever day the suite runs (a tick
/// from the future is not one, and would be read as refused).
const NOW: &str = "2026-11-21T06:00:00Z";

/// `ecs-reactor ARGS --now NOW` pointed at moto, with `env` and nothing else naming a table, topic or stack;
/// every output is checked for the secret.
fn dlq(env: &[(&str, &str)], args: &[&str]) -> Out {
    let mut command = shell(env!("CARGO_BIN_EXE_ecs-reactor"), env);
    command
        .args(args)
        .args(["--now", NOW])
        .current_dir(std::env::temp_dir());
    let out = output(command);
    assert!(
        !out.stdout.contains(MARKER) && !out.stderr.contains(MARKER),
        "the secret was printed by {args:?}:\n{}\n{}",
        out.stdout,
        out.stderr
    );
    out
}

/// The table and topic of `stack`, for replays.
fn acting(stack: &Stack) -> [(&str, &str); 2] {
    [
        ("REACTOR_TABLE", stack.table.as_str()),
        ("REACTOR_TOPIC_ARN", stack.topic_arn.as_str()),
    ]
}

/// The message ids `dlq list --json` shows for `queue`.
fn listed(queue: &str) -> Vec<String> {
    let out = dlq(&[], &["dlq", "list", "--queue", queue, "--json"]).json();
    out.as_array()
        .unwrap()
        .iter()
        .map(|m| m["messageId"].as_str().unwrap().to_owned())
        .collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn list_and_show_explain_each_shape_and_never_print_a_secret() {
    let stack = Stack::new().await;
    let q = queues(&stack).await;
    let name = cfn_stack(&stack, &q, &[]).await;
    let (event, run) = stopped_run(&stack, "2026-11-21T02:30:00Z").await;
    let task = event["detail"]["taskArn"].as_str().unwrap().to_owned();
    let task_id = task.rsplit('/').next().unwrap();
    let rule_id = send(&stack, &q.rule, &event, &RULE_ATTRIBUTES).await;
    let mut tick = stack.tick("nightly-report", "2026-11-21T03:00:00Z");
    tick["detail"] = secret_job(&stack);
    let invoke_id = send(&stack, &q.invoke, &invoke_record(&tick, "c0ffee-1"), &[]).await;
    let stream_id = send(&stack, &q.stream, &stream_record(&stack.table), &[]).await;

    let stack_env = [("REACTOR_STACK", name.as_str())];
    let text = dlq(&stack_env, &["dlq", "list"]);
    assert_eq!(text.code, 0, "{}", text.stderr);
    let line = |id: &str| {
        text.stdout
            .lines()
            .find(|l| l.starts_with(id))
            .unwrap_or_else(|| panic!("no line for {id}:\n{}", text.stdout))
            .to_owned()
    };
    assert_mentions(
        &line(&rule_id),
        &[
            "RuleDeliveryFailureQueue".into(),
            "rule-delivery".into(),
            format!("run {run} attempt 1 task {task_id}"),
            "THROTTLING: Rate Exceeded.".into(),
        ],
    );
    assert_mentions(
        &line(&invoke_id),
        &[
            "InvokeFailureQueue".into(),
            "invoke-failure".into(),
            "2026-11-21 03:01:02Z".into(),
            "job nightly-report run nightly-report-20261121T030000Z".into(),
            "RetryableError: the attempts table did not answer in time".into(),
        ],
    );
    assert_mentions(
        &line(&stream_id),
        &[
            "StreamFailureQueue".into(),
            "stream-batch".into(),
            "2026-11-21 03:05:00Z".into(),
            format!("1 stream record(s) of table {}", stack.table),
            "Unhandled (RetryAttemptsExhausted)".into(),
        ],
    );
    assert!(text.stdout.starts_with("MESSAGE ID"), "{}", text.stdout);

    let all = dlq(&stack_env, &["dlq", "list", "--json"]).json();
    let by_id = |id: &str| {
        all.as_array()
            .unwrap()
            .iter()
            .find(|m| m["messageId"] == id)
            .unwrap()
            .clone()
    };
    let rule = by_id(&rule_id);
    assert_eq!(
        (
            &rule["kind"],
            &rule["failed"]["ruleName"],
            &rule["failed"]["functionName"]
        ),
        (
            &json!("rule-delivery"),
            &json!("ecs-reactor-ClassifierFunctionTaskStopped-1A2B3C"),
            &json!("ecs-reactor-ClassifierFunction-4D5E6F")
        )
    );
    assert_eq!(
        (
            &rule["about"]["runId"],
            &rule["about"]["attempt"],
            &rule["about"]["taskArn"]
        ),
        (&json!(run), &json!(1), &json!(task))
    );
    assert_eq!(rule["replay"]["possible"], true);
    let invoke = by_id(&invoke_id);
    assert_eq!(
        (
            &invoke["failed"]["condition"],
            &invoke["failed"]["tries"],
            &invoke["failed"]["errorType"]
        ),
        (
            &json!("RetriesExhausted"),
            &json!("3"),
            &json!("RetryableError")
        )
    );
    assert_eq!(
        (
            &invoke["about"]["job"],
            &invoke["about"]["runId"],
            &invoke["about"]["scheduledAt"]
        ),
        (
            &json!("nightly-report"),
            &json!("nightly-report-20261121T030000Z"),
            &json!("2026-11-21T03:00:00Z")
        )
    );
    let stream = by_id(&stream_id);
    assert_eq!(
        (
            &stream["kind"],
            &stream["about"]["shardId"],
            &stream["replay"]["possible"]
        ),
        (
            &json!("stream-batch"),
            &json!("shardId-00000001795000000000-0a1b2c3d"),
            &json!(false)
        )
    );

    // show: each question on its line.
    let shown = dlq(&stack_env, &["dlq", "show", &rule_id]);
    assert_eq!(shown.code, 0, "{}", shown.stderr);
    assert_mentions(
        &shown.stdout,
        &[
            format!("message {rule_id}\n"),
            "kind: rule-delivery: an EventBridge rule could not deliver the event to its function".into(),
            "failed: rule ecs-reactor-ClassifierFunctionTaskStopped-1A2B3C → function ecs-reactor-ClassifierFunction-4D5E6F (MaximumRetryAttempts; tried 24 times)".into(),
            "why: THROTTLING: Rate Exceeded.".into(),
            format!("about: the STOPPED event of task {task} (run {run} attempt 1)"),
            "stop: TaskFailedToStart: CannotPullContainerError".into(),
            format!("replay: `ecs-reactor dlq replay {rule_id}` runs the classifier's judge step: the stopped task of run {run} attempt 1 is judged"),
        ],
    );
    let shown = dlq(&stack_env, &["dlq", "show", &invoke_id]);
    assert_mentions(
        &shown.stdout,
        &[
            "kind: invoke-failure: Lambda gave up on an asynchronous invocation".into(),
            "failed: function ecs-reactor-StarterFunction-7A8B9C (RetriesExhausted; tried 3 times)".into(),
            "when: 2026-11-21 03:01:02Z (".into(),
            "why: RetryableError: the attempts table did not answer in time".into(),
            "about: job nightly-report, run nightly-report-20261121T030000Z (the schedule's tick of 2026-11-21 03:00:00Z)\n".into(),
            "runs the starter's start step: run nightly-report-20261121T030000Z is started under the run id its first try used".into(),
        ],
    );
    let shown = dlq(&stack_env, &["dlq", "show", &stream_id]);
    assert_mentions(
        &shown.stdout,
        &[
            "kind: stream-batch: Lambda gave up on a batch of the table's stream records".into(),
            "failed: function ecs-reactor-SchedulerFunction-0D1E2F (RetryAttemptsExhausted; tried 6 times)".into(),
            format!("about: stream records of table {}: shard shardId-00000001795000000000-0a1b2c3d, sequence numbers 400000000000000000001 to 400000000000000000001, 1 record(s)", stack.table),
            "replay: cannot be replayed: a stream batch cannot be replayed from its record".into(),
            "the stream's data is gone after 24 h".into(),
            "the sweep fires due delays by itself".into(),
            "ecs-reactor runs --stuck".into(),
        ],
    );
    // --json shows the payload, its secrets redacted (the names stay: they say which variable).
    for id in [&rule_id, &invoke_id] {
        let full = dlq(&stack_env, &["dlq", "show", id, "--json"]).json();
        let overrides = if full["kind"] == "rule-delivery" {
            &full["payload"]["detail"]["overrides"]
        } else {
            &full["payload"]["detail"]["runTask"]["overrides"]
        };
        assert_eq!(
            overrides["containerOverrides"][0],
            json!({"name": "app", "command": "<redacted>", "environment": [{"name": "DB_PASSWORD", "value": "<redacted>"}]}),
            "{full:#}"
        );
    }
    let full = dlq(&stack_env, &["dlq", "show", &rule_id, "--json"]).json();
    assert_eq!(full["attributes"]["ERROR_CODE"], "THROTTLING");

    // Reading took nothing: every message is still there, visible at once.
    let mut left = listed(&q.rule);
    left.extend(listed(&q.invoke));
    left.extend(listed(&q.stream));
    assert_eq!(left, vec![rule_id.clone(), invoke_id, stream_id]);
    let missing = dlq(
        &stack_env,
        &["dlq", "show", "00000000-0000-0000-0000-000000000000"],
    );
    assert_eq!(missing.code, 4, "{}", missing.stderr);
    assert!(
        missing
            .stderr
            .contains("no message 00000000-0000-0000-0000-000000000000 in"),
        "{}",
        missing.stderr
    );
    let gone = format!(
        "{}/123456789012/no-such-queue",
        crate::moto::moto().endpoint
    );
    let out = dlq(&[], &["dlq", "list", "--queue", &gone]);
    assert_eq!(
        (out.code, out.stderr.trim()),
        (
            5,
            format!(
                "ecs-reactor: queue {gone} does not exist in this account and region: check --queue, or \
                 --stack / REACTOR_STACK and --region"
            )
            .as_str()
        )
    );
    let unnamed = dlq(&[], &["dlq", "list"]);
    assert_eq!(
        (unnamed.code, unnamed.stderr.trim()),
        (
            3,
            "ecs-reactor: no failure queue: give --queue URL or --stack NAME, or set REACTOR_STACK"
        )
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn replaying_a_stopped_event_judges_the_run_once_and_deletes_the_message() {
    let stack = Stack::new().await;
    let q = queues(&stack).await;
    let (event, run) = stopped_run(&stack, "2026-11-21T02:30:00Z").await;
    let id = send(&stack, &q.rule, &event, &RULE_ATTRIBUTES).await;
    assert_eq!(
        stack.row(&run, "ATTEMPT#0001").await.unwrap()["state"],
        "LAUNCHED"
    );
    stack.notifications_now().await;

    // The table, topic, retry queue and byDue shards from the stack's outputs: a count of shards under which
    // this run's retry lands in another shard than under the default (4).
    let shards = (1..=64)
        .find(|n| delay_shard(&run, *n) != delay_shard(&run, 4))
        .unwrap();
    let name = cfn_stack(&stack, &q, &[("SweepShards", &shards.to_string())]).await;
    let replayed = dlq(
        &[("REACTOR_STACK", name.as_str())],
        &["dlq", "replay", &id, "--queue", &q.rule],
    );
    assert_eq!(replayed.code, 0, "{}", replayed.stderr);
    assert_mentions(
        &replayed.stdout,
        &[
            format!("{id} ("),
            format!("the classifier's judge step → APPLIED: run {run} attempt 1: judged: RETRY_LATER (image-pull-rate-limited); message deleted"),
        ],
    );
    let attempt = stack.row(&run, "ATTEMPT#0001").await.unwrap();
    assert_eq!(
        (&attempt["action"], &attempt["ruleId"]),
        (&json!("RETRY_LATER"), &json!("image-pull-rate-limited"))
    );
    assert_eq!(
        stack.row(&run, "RUN").await.unwrap()["status"],
        "RETRY_SCHEDULED"
    );
    let delay = stack.row(&run, "DELAY#0002").await.unwrap();
    assert_eq!(
        delay["dueShard"],
        format!("DUE#{}", delay_shard(&run, shards)),
        "the retry is written to a shard the stack's sweep reads every minute"
    );
    assert_eq!(
        retry_queue_messages(&stack).await,
        1,
        "the retry is sent to the stack's RetryQueueUrl, to fire at its due second"
    );
    assert!(listed(&q.rule).is_empty(), "deleted once replayed");
    let rows = stack.rows(&run).await;
    let notices = stack.notifications_now().await;

    // The same event again (EventBridge dead-letters a redelivery too): judged already, nothing changes.
    let again = send(&stack, &q.rule, &event, &RULE_ATTRIBUTES).await;
    let replayed = dlq(
        &[("REACTOR_STACK", name.as_str())],
        &["dlq", "replay", &again, "--queue", &q.rule, "--json"],
    )
    .json();
    assert_eq!(
        replayed,
        json!([{"messageId": again, "queue": q.rule.rsplit('/').next().unwrap(), "kind": "rule-delivery",
                "replayed": true, "outcome": "DUPLICATE", "runId": run, "attempt": 1, "deleted": true}])
    );
    assert_eq!(stack.rows(&run).await, rows, "one effect");
    assert_eq!(
        retry_queue_messages(&stack).await,
        2,
        "sent again while it waits (the first send may have been interrupted); a second message fires nothing more"
    );
    assert!(
        stack.notifications_now().await.is_empty(),
        "nothing announced twice (the first replay announced {} notice(s))",
        notices.len()
    );
    assert!(listed(&q.rule).is_empty());
}

#[tokio::test(flavor = "multi_thread")]
async fn a_retry_the_retry_queue_did_not_take_is_said_on_stderr_and_left_to_the_sweep() {
    let stack = Stack::new().await;
    let q = queues(&stack).await;
    let (event, run) = stopped_run(&stack, "2026-11-21T02:30:00Z").await;
    let id = send(&stack, &q.rule, &event, &RULE_ATTRIBUTES).await;
    let gone = format!(
        "{}/123456789012/no-such-retry-queue",
        crate::moto::moto().endpoint
    );
    let mut env = acting(&stack).to_vec();
    env.push(("REACTOR_RETRY_QUEUE_URL", gone.as_str()));

    let replayed = dlq(&env, &["dlq", "replay", &id, "--queue", &q.rule]);
    assert_eq!(replayed.code, 0, "{}", replayed.stderr);
    assert_mentions(
        &replayed.stderr,
        &[format!(
            "ecs-reactor: warning: the retry queue did not take the retry; the sweep fires it when due \
             (job=nightly-report, run={run}, attempt=2, due_at="
        )],
    );
    assert_eq!(
        replayed.stderr.lines().count(),
        1,
        "one line: {}",
        replayed.stderr
    );
    assert!(!replayed.stderr.contains(MARKER), "{}", replayed.stderr);
    assert!(
        stack.row(&run, "DELAY#0002").await.is_some(),
        "the retry is still scheduled, for the sweep"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_failed_or_impossible_replay_keeps_the_message() {
    let stack = Stack::new().await;
    let q = queues(&stack).await;
    let name = cfn_stack(&stack, &q, &[]).await;
    let (event, run) = stopped_run(&stack, "2026-11-21T02:30:00Z").await;
    let stopped_id = send(&stack, &q.rule, &event, &RULE_ATTRIBUTES).await;
    let stream_id = send(&stack, &q.stream, &stream_record(&stack.table), &[]).await;

    // The table cannot be read: nothing judged, the message kept.
    let failed = dlq(
        &[("REACTOR_STACK", &name), ("REACTOR_TABLE", "no-such-table")],
        &["dlq", "replay", &stopped_id],
    );
    assert_eq!(failed.code, 5, "{}\n{}", failed.stdout, failed.stderr);
    assert!(
        failed.stderr.contains("table \"no-such-table\" not found"),
        "{}",
        failed.stderr
    );
    assert!(
        failed.stdout.contains(&format!("{stopped_id} ("))
            && failed.stdout.contains("failed, message kept"),
        "{}",
        failed.stdout
    );
    assert_eq!(listed(&q.rule), vec![stopped_id.clone()]);
    assert_eq!(
        stack.row(&run, "ATTEMPT#0001").await.unwrap()["state"],
        "LAUNCHED",
        "not judged"
    );

    // A stream batch cannot be replayed from its record: said, and kept.
    let stream = dlq(&[("REACTOR_STACK", &name)], &["dlq", "replay", &stream_id]);
    assert_eq!(stream.code, 6, "{}", stream.stderr);
    assert_mentions(
        &stream.stdout,
        &[
            format!("{stream_id} ("),
            "not replayed, kept: a stream batch cannot be replayed from its record".into(),
            "the sweep fires due delays by itself".into(),
        ],
    );
    assert_eq!(listed(&q.stream), vec![stream_id.clone()]);

    // A STOPPED event of a run this table does not have (another stack's?): kept, exit 4.
    let mut foreign = event.clone();
    foreign["detail"]["startedBy"] = json!("ecs-reactor/other-job-20261121T023000Z/1");
    let unknown_id = send(&stack, &q.rule, &foreign, &RULE_ATTRIBUTES).await;
    let unknown = dlq(&[("REACTOR_STACK", &name)], &["dlq", "replay", &unknown_id]);
    assert_eq!(unknown.code, 4, "{}", unknown.stderr);
    assert!(
        unknown.stdout.contains(
            "UNKNOWN_RUN: run other-job-20261121T023000Z attempt 1: no such run or attempt"
        ),
        "{}",
        unknown.stdout
    );

    // Fixed: --all replays what can be replayed and keeps the rest, listed.
    let all = dlq(
        &[("REACTOR_STACK", &name)],
        &["dlq", "replay", "--all", "--json"],
    );
    assert_eq!(all.code, 4, "the unknown run is kept: {}", all.stderr);
    let all: Value = serde_json::from_str(&all.stdout).unwrap();
    let outcome = |id: &str| {
        all.as_array()
            .unwrap()
            .iter()
            .find(|m| m["messageId"] == id)
            .cloned()
            .unwrap_or_else(|| panic!("{id} not in {all:#}"))
    };
    assert_eq!(
        (
            &outcome(&stopped_id)["outcome"],
            &outcome(&stopped_id)["deleted"]
        ),
        (&json!("APPLIED"), &json!(true))
    );
    assert_eq!(
        (
            &outcome(&stream_id)["replayed"],
            &outcome(&stream_id)["deleted"]
        ),
        (&json!(false), &json!(false))
    );
    assert_eq!(
        (
            &outcome(&unknown_id)["outcome"],
            &outcome(&unknown_id)["deleted"]
        ),
        (&json!("UNKNOWN_RUN"), &json!(false))
    );
    assert_eq!(
        stack.row(&run, "ATTEMPT#0001").await.unwrap()["action"],
        "RETRY_LATER"
    );
    assert!(listed(&q.rule) == vec![unknown_id.clone()]);
    assert_eq!(listed(&q.stream), vec![stream_id]);
}

#[tokio::test(flavor = "multi_thread")]
async fn replaying_the_starters_failed_tick_starts_its_run_once() {
    let stack = Stack::new().await;
    let q = queues(&stack).await;
    let mut tick = stack.tick("nightly-report", "2026-11-21T04:00:00Z");
    tick["detail"] = secret_job(&stack);
    let record = invoke_record(&tick, "c0ffee-2");
    let id = send(&stack, &q.invoke, &record, &[]).await;
    let run = "nightly-report-20261121T040000Z";

    let replayed = dlq(
        &acting(&stack),
        &["dlq", "replay", &id, "--queue", &q.invoke],
    );
    assert_eq!(replayed.code, 0, "{}", replayed.stderr);
    assert_mentions(
        &replayed.stdout,
        &[
            format!("the starter's start step → STARTED: run {run} started: attempt 1 task arn:aws:ecs:"),
            "message deleted".into(),
        ],
    );
    let tasks = stack.tasks(&format!("ecs-reactor/{run}/1")).await;
    assert_eq!(tasks.len(), 1, "one task launched");
    assert!(listed(&q.invoke).is_empty());

    // Lambda's own retry of the same invocation would have named the same run: a second copy starts nothing.
    let again = send(&stack, &q.invoke, &record, &[]).await;
    let replayed = dlq(
        &acting(&stack),
        &["dlq", "replay", &again, "--queue", &q.invoke, "--json"],
    )
    .json();
    assert_eq!(
        (
            &replayed[0]["outcome"],
            &replayed[0]["runId"],
            &replayed[0]["deleted"]
        ),
        (&json!("DUPLICATE"), &json!(run), &json!(true))
    );
    assert_eq!(stack.tasks(&format!("ecs-reactor/{run}/1")).await, tasks);
    assert!(listed(&q.invoke).is_empty());
}

#[tokio::test(flavor = "multi_thread")]
async fn purge_lists_without_yes_and_deletes_with_it_and_the_sweeps_tick_is_not_replayed() {
    let stack = Stack::new().await;
    let q = queues(&stack).await;
    let first = send(&stack, &q.stream, &stream_record(&stack.table), &[]).await;
    let second = send(&stack, &q.stream, &stream_record(&stack.table), &[]).await;
    let queue = ["--queue", q.stream.as_str()];

    let asked = dlq(&[], &[&["dlq", "purge", &first][..], &queue].concat());
    assert_eq!(asked.code, 3, "{}", asked.stderr);
    assert!(
        asked.stdout.starts_with("would delete:\n"),
        "{}",
        asked.stdout
    );
    assert!(
        asked.stdout.contains(&format!("{first} (")),
        "{}",
        asked.stdout
    );
    assert!(
        asked
            .stderr
            .contains("nothing deleted: purge deletes for good; run it again with --yes"),
        "{}",
        asked.stderr
    );
    let typo = dlq(
        &[],
        &[
            &["dlq", "purge", &first, "no-such-message", "--yes"][..],
            &queue,
        ]
        .concat(),
    );
    assert_eq!(typo.code, 4, "{}", typo.stderr);
    assert_eq!(listed(&q.stream).len(), 2, "a mistyped id deletes nothing");

    let purged = dlq(
        &[],
        &[&["dlq", "purge", &first, "--yes"][..], &queue].concat(),
    );
    assert_eq!(purged.code, 0, "{}", purged.stderr);
    assert!(
        purged.stdout.contains(&format!("{first} (")) && purged.stdout.contains(": deleted ("),
        "{}",
        purged.stdout
    );
    assert_eq!(listed(&q.stream), vec![second]);
    let all = dlq(
        &[],
        &[&["dlq", "purge", "--all", "--yes", "--json"][..], &queue].concat(),
    )
    .json();
    assert_eq!(all[0]["deleted"], true);
    let none = dlq(&[], &[&["dlq", "list"][..], &queue].concat());
    assert!(
        none.stdout.starts_with("no messages in "),
        "{}",
        none.stdout
    );

    // The sweep's tick is not replayed (the next sweep does the same work): said, kept, then purged.
    let sweep = send(
        &stack,
        &q.rule,
        &crate::stack::sweep_event(),
        &[
            ("RULE_ARN", "arn:aws:events:us-east-1:123456789012:rule/ecs-reactor-SchedulerFunctionSweep-9Z8Y"),
            ("TARGET_ARN", SCHEDULER_ARN),
            ("ERROR_CODE", "NO_PERMISSIONS"),
            ("ERROR_MESSAGE", "Not authorized to invoke the function."),
        ],
    )
    .await;
    let replayed = dlq(&[], &["dlq", "replay", &sweep, "--queue", &q.rule]);
    assert_eq!(replayed.code, 6, "{}", replayed.stderr);
    assert!(
        replayed.stdout.contains(&format!(
            "{sweep} ({}): not replayed, kept: a Scheduled Event with no job in it: the sweep's tick",
            q.rule.rsplit('/').next().unwrap()
        )),
        "{}",
        replayed.stdout
    );
    assert_eq!(listed(&q.rule), vec![sweep.clone()]);
    let purged = dlq(&[], &["dlq", "purge", &sweep, "--yes", "--queue", &q.rule]);
    assert_eq!(purged.code, 0, "{}", purged.stderr);
    assert!(listed(&q.rule).is_empty());
}

/// A registered job's tick EventBridge Scheduler could not deliver (its dead letter in the rule-delivery queue,
/// with Scheduler's attributes) is explained with the run it names and replayed through the registry: the run
/// starts once, a second copy is a duplicate, and the spec's secret is printed nowhere.
#[tokio::test(flavor = "multi_thread")]
async fn a_registered_jobs_dead_tick_is_replayed_from_the_registry_once() {
    use reactor_aws::store::prelude::*;
    let stack = Stack::new().await;
    let q = queues(&stack).await;
    let job = crate::moto::unique("registered");
    let mut spec = secret_job(&stack);
    spec["job"] = json!(job);
    spec["schedule"] = json!({"expression": "cron(0 5 * * ? *)", "timezone": "Europe/Berlin"});
    let store = reactor_aws::store::DynamoStore::new(stack.dynamodb.clone(), &stack.table);
    let item = reactor_aws::records::JobItem::new(
        &job,
        spec.to_string(),
        1,
        "test",
        OffsetDateTime::now_utc(),
    );
    store.register_job(&item, None).await.unwrap();
    let tick = json!({"scheduledJob": job, "scheduledTime": "2026-11-21T04:00:00Z"});
    let scheduler_attributes = [
        ("ERROR_CODE", "AWS.Lambda.TooManyRequestsException"),
        ("ERROR_MESSAGE", "Rate Exceeded."),
        (
            "SCHEDULE_ARN",
            "arn:aws:scheduler:us-east-1:123456789012:schedule/jobs/registered",
        ),
        ("TARGET_ARN", STARTER_ARN),
        ("RETRY_ATTEMPTS", "20"),
    ];
    let id = send(&stack, &q.rule, &tick, &scheduler_attributes).await;
    let run = format!("{job}-20261121T040000Z");

    let shown = dlq(&[], &["dlq", "show", &id, "--queue", &q.rule]);
    assert_eq!(shown.code, 0, "{}", shown.stderr);
    assert_mentions(
        &shown.stdout,
        &[
            format!("about: registered job {job}, run {run} (its schedule's tick of 2026-11-21 04:00:00Z)"),
            "AWS.Lambda.TooManyRequestsException".into(),
            "the starter's start step".into(),
        ],
    );
    let replayed = dlq(&acting(&stack), &["dlq", "replay", &id, "--queue", &q.rule]);
    assert_eq!(replayed.code, 0, "{}", replayed.stderr);
    assert_mentions(
        &replayed.stdout,
        &[
            format!("→ STARTED: run {run} started"),
            "message deleted".into(),
        ],
    );
    let tasks = stack.tasks(&format!("ecs-reactor/{run}/1")).await;
    assert_eq!(tasks.len(), 1);
    let again = send(&stack, &q.rule, &tick, &scheduler_attributes).await;
    let replayed = dlq(
        &acting(&stack),
        &["dlq", "replay", &again, "--queue", &q.rule, "--json"],
    )
    .json();
    assert_eq!(
        (
            &replayed[0]["outcome"],
            &replayed[0]["runId"],
            &replayed[0]["deleted"]
        ),
        (&json!("DUPLICATE"), &json!(run), &json!(true))
    );
    assert_eq!(stack.tasks(&format!("ecs-reactor/{run}/1")).await, tasks);
}
