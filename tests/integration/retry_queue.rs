//! The retry queue: a retry scheduled for later is sent to SQS with its delay (moto honours `DelaySeconds`) and
//! fired when the queue delivers it, once however often it is delivered, never before its due second; a
//! message that cannot be read is refused without its content, a fire that fails fails the invocation, and a retry
//! the queue never took is the sweep's.

use crate::faults::{json_error, Faults};
use crate::handlers::{started_by, T0, T_STOP};
use crate::stack::{sqs_event, sweep_event, Stack};
use reactor_aws::edge::HandlerError;
use serde_json::{json, Value};
use time::OffsetDateTime;

const TICK: &str = "2026-11-21T02:30:00Z";

/// Starts a run of a job retrying `interval` seconds after a failure (no jitter), stops attempt 1 with a
/// registry's rate limit (RETRY_LATER) and returns (run id, the retry's due second, the STOPPED event).
async fn waiting_for_retry(
    stack: &Stack,
    reactor: &crate::stack::LocalReactor,
    interval: u32,
) -> (String, OffsetDateTime, Value) {
    let mut tick = stack.tick("queued", TICK);
    tick["detail"]["retry"]["intervalSeconds"] = json!(interval);
    tick["detail"]["retry"]["maxDelaySeconds"] = json!(interval.max(900));
    let started = starter::handle(reactor, tick, "req-1", T0).await.unwrap();
    assert_eq!(started.outcome, "STARTED", "{started:?}");
    let run_id = started.run_id.clone();
    let stopped = stack
        .stop(
            &started.task_arn.unwrap(),
            &started_by(&run_id, 1),
            "stopped-pull-rate-limit.json",
            3,
        )
        .await;
    let judged = classifier::handle(reactor, stopped.clone(), T_STOP)
        .await
        .unwrap();
    assert_eq!(
        (judged.action, judged.delay_seconds),
        (Some("RETRY_LATER"), Some(interval)),
        "{judged:?}"
    );
    let due = stack.row(&run_id, "DELAY#0002").await.unwrap()["dueAt"]
        .as_i64()
        .unwrap();
    (
        run_id,
        OffsetDateTime::from_unix_timestamp(due).unwrap(),
        stopped,
    )
}

fn no_failures() -> Value {
    json!({"batchItemFailures": []})
}

#[tokio::test]
async fn a_retry_for_later_is_queued_with_its_delay_and_fired_once_never_before_its_due_second() {
    let stack = Stack::new().await;
    let reactor = stack.reactor();
    let (run_id, due, _) = waiting_for_retry(&stack, &reactor, 1).await;

    // moto shows the message once its DelaySeconds (1) has passed.
    let delivery = stack.queued_retries(10).await;
    let records = delivery["Records"].as_array().unwrap();
    assert_eq!(records.len(), 1, "{delivery}");
    let body = records[0]["body"].as_str().unwrap();
    assert_eq!(
        serde_json::from_str::<Value>(body).unwrap(),
        json!({"runId": run_id, "attempt": 2, "dueAt": due.unix_timestamp()}),
    );
    // The job's environment value (testkit's job sets REPORT_FORMAT=csv) is not in the message.
    assert!(
        !body.contains("csv") && !body.contains("REPORT_FORMAT"),
        "{body}"
    );

    // Delivered a second early (a replayed message, a clock ahead): nothing fired, the delay item kept.
    let early = scheduler::handle(&reactor, delivery.clone(), due - time::Duration::seconds(1))
        .await
        .unwrap();
    assert_eq!(early, no_failures());
    assert!(stack.row(&run_id, "ATTEMPT#0002").await.is_none());
    assert!(stack.row(&run_id, "DELAY#0002").await.is_some());

    // At its due second, twice (SQS delivers at least once): one launch.
    for delivery_n in 0..2 {
        let answer = scheduler::handle(&reactor, delivery.clone(), due)
            .await
            .unwrap();
        assert_eq!(answer, no_failures(), "delivery {delivery_n}");
    }
    assert_eq!(stack.tasks(&started_by(&run_id, 2)).await.len(), 1);
    let second = stack.row(&run_id, "ATTEMPT#0002").await.unwrap();
    assert_eq!(second["state"], "LAUNCHED", "{second}");
    assert!(stack.row(&run_id, "DELAY#0002").await.is_none());

    // The sweep after finds nothing left to fire.
    let swept = scheduler::handle(&reactor, sweep_event(), due + time::Duration::minutes(1))
        .await
        .unwrap();
    assert_eq!(
        (
            swept["sweep"]["due"].as_u64(),
            swept["sweep"]["launched"].as_u64()
        ),
        (Some(0), Some(0)),
        "{swept}"
    );
}

#[tokio::test]
async fn a_redelivered_stop_sends_the_retry_an_interrupted_invocation_did_not() {
    let stack = Stack::new().await;
    let reactor = stack.reactor();
    let (run_id, due, stopped) = waiting_for_retry(&stack, &reactor, 1).await;
    // The invocation that judged it stopped after its transaction, before its message was sent: none queued.
    stack
        .sqs
        .purge_queue()
        .queue_url(&stack.retry_queue_url)
        .send()
        .await
        .unwrap();

    // EventBridge delivers the event again: judged already, and the retry is sent again with its due second.
    let again = classifier::handle(&reactor, stopped.clone(), T_STOP)
        .await
        .unwrap();
    assert_eq!(again.outcome, "DUPLICATE", "{again:?}");
    let delivery = stack.queued_retries(10).await;
    let records = delivery["Records"].as_array().unwrap();
    assert_eq!(records.len(), 1, "{delivery}");
    assert_eq!(
        serde_json::from_str::<Value>(records[0]["body"].as_str().unwrap()).unwrap(),
        json!({"runId": run_id, "attempt": 2, "dueAt": due.unix_timestamp()}),
    );
    let answer = scheduler::handle(&reactor, delivery, due).await.unwrap();
    assert_eq!(answer, no_failures());
    assert_eq!(stack.tasks(&started_by(&run_id, 2)).await.len(), 1);

    // Once the retry has fired, a delivery of the old event again sends nothing.
    let late = classifier::handle(&reactor, stopped, T_STOP).await.unwrap();
    assert_eq!(late.outcome, "DUPLICATE", "{late:?}");
    assert_eq!(stack.queued_retries(2).await["Records"], json!([]));
}

#[tokio::test]
async fn an_unreadable_message_is_refused_without_its_content_and_a_failed_fire_fails_the_invocation(
) {
    let stack = Stack::new().await;
    let reactor = stack.reactor();
    let (run_id, due, _) = waiting_for_retry(&stack, &reactor, 1).await;
    let good = json!({"runId": run_id, "attempt": 2, "dueAt": due.unix_timestamp()}).to_string();
    let batch = sqs_event(&[
        ("m-unreadable", "MARKER-queue-5d1 {not json"),
        (
            "m-typed-wrong",
            r#"{"runId":"MARKER-queue-5d1","attempt":"two","dueAt":1}"#,
        ),
        ("m-good", &good),
    ]);

    // DynamoDB failing every claim: the good message's fire fails, which fails the invocation (the scheduler's
    // errors alarm counts it; SQS delivers the batch again); the unreadable ones are refused (delivering them
    // again cannot make them readable), and neither the error nor anything else quotes them.
    let failing = Faults::answer(
        "dynamodb:TransactWriteItems",
        usize::MAX,
        json_error(500, "InternalServerError"),
    )
    .reactor(&stack);
    let e = scheduler::handle(&failing, batch.clone(), due)
        .await
        .unwrap_err();
    assert_eq!(e.error_type(), "RetryQueueBatchFailed", "{e}");
    assert!(e.to_string().starts_with("1 of 3 due retries"), "{e}");
    assert!(!e.to_string().contains("MARKER"), "{e}");
    assert!(stack.row(&run_id, "ATTEMPT#0002").await.is_none());

    // The unreadable ones alone: refused, acknowledged, nothing written.
    let unreadable = sqs_event(&[("m-unreadable", "MARKER-queue-5d1 {not json")]);
    let answer = scheduler::handle(&reactor, unreadable, due).await.unwrap();
    assert_eq!(answer, no_failures());
    assert!(stack.row(&run_id, "ATTEMPT#0002").await.is_none());

    // Delivered again, with DynamoDB answering: launched.
    let again = scheduler::handle(&reactor, batch, due).await.unwrap();
    assert_eq!(again, no_failures());
    assert_eq!(stack.tasks(&started_by(&run_id, 2)).await.len(), 1);
}

#[tokio::test]
async fn a_retry_the_queue_did_not_take_is_fired_by_the_sweep() {
    let stack = Stack::new().await;
    // The queue refuses (it does not exist): the decision stands, the sweep fires the retry.
    let mut reactor = stack.reactor();
    reactor.retry_queue = Some(reactor_aws::retry_queue::RetryQueue::new(
        stack.sqs.clone(),
        &format!("{}-deleted", stack.retry_queue_url),
    ));
    let (refused_run, due, _) = waiting_for_retry(&stack, &reactor, 1).await;
    assert_eq!(
        stack.row(&refused_run, "RUN").await.unwrap()["status"],
        "RETRY_SCHEDULED"
    );

    // Beyond SQS's 15 minutes, nothing is sent: TTL and the sweep fire it.
    let far = Stack::new().await;
    let far_reactor = far.reactor();
    let (far_run, far_due, _) = waiting_for_retry(&far, &far_reactor, 1200).await;
    assert_eq!(far.queued_retries(2).await["Records"], json!([]));

    for (stack, reactor, run, due) in [
        (&stack, &reactor, &refused_run, due),
        (&far, &far_reactor, &far_run, far_due),
    ] {
        let swept = scheduler::handle(reactor, sweep_event(), due)
            .await
            .unwrap();
        assert_eq!(swept["sweep"]["launched"], 1, "{swept}");
        assert_eq!(stack.tasks(&started_by(run, 2)).await.len(), 1);
    }
}
