//! Nothing merged or dropped silently: a different request for an existing run is refused loudly, a tick from
//! the future is no tick, and a TTL record of a retry not yet due launches nothing early — against moto with
//! the real handlers.

use crate::handlers::{at, started_by, waiting, T0};
use crate::stack::{sweep_event, Stack};
use reactor_aws::edge::HandlerError;
use reactor_aws::metrics::Metric;
use reactor_testkit::recorded::RecordedMetrics;
use serde_json::{json, Value};
use std::sync::Arc;

fn tick(job: &Value, time: &str) -> Value {
    json!({
        "version": "0", "id": format!("tick-{time}"), "detail-type": "Scheduled Event", "source": "aws.events",
        "time": time, "detail": job
    })
}

#[tokio::test]
async fn a_different_request_for_an_existing_run_is_refused_loudly_and_writes_nothing() {
    let stack = Stack::new().await;
    let recorded = Arc::new(RecordedMetrics::new());
    let mut reactor = stack.reactor();
    reactor.metrics = recorded.clone();
    let job = stack.job("conflicted");
    let first = starter::handle(&reactor, tick(&job, "2026-11-21T02:30:00Z"), "r1", T0)
        .await
        .unwrap();
    assert_eq!(first.outcome, "STARTED", "{first:?}");
    let rows = stack.rows(&first.run_id).await;
    recorded.taken();

    // The same tick with another job request (a deploy changed the job between deliveries, or a forgery).
    let mut changed = job.clone();
    changed["retry"]["maxAttempts"] = json!(9);
    let refused = starter::handle(&reactor, tick(&changed, "2026-11-21T02:30:00Z"), "r2", T0)
        .await
        .unwrap_err();
    assert_eq!(refused.error_type(), "RunConflict", "{refused}");
    assert!(refused.to_string().contains(&first.run_id), "{refused}");
    assert_eq!(stack.rows(&first.run_id).await, rows, "nothing written");
    let counted: Vec<Metric> = recorded.taken().into_iter().map(|(_, m)| m).collect();
    assert_eq!(counted, vec![Metric::RequestConflict]);

    // The very same request again is a duplicate, as before.
    let again = starter::handle(&reactor, tick(&job, "2026-11-21T02:30:00Z"), "r3", T0)
        .await
        .unwrap();
    assert_eq!(again.outcome, "DUPLICATE", "{again:?}");
}

#[tokio::test]
async fn a_tick_from_the_future_is_refused_and_the_real_tick_still_runs() {
    let stack = Stack::new().await;
    let reactor = stack.reactor();
    let job = stack.job("forged");
    let forged = starter::handle(&reactor, tick(&job, "2026-11-21T03:30:00Z"), "r1", T0)
        .await
        .unwrap_err();
    assert_eq!(forged.error_type(), "InvalidScheduledEvent", "{forged}");
    assert!(forged.to_string().contains("in the future"), "{forged}");
    assert_eq!(
        stack.rows("forged-20261121T033000Z").await,
        Vec::<Value>::new()
    );
    let real = starter::handle(
        &reactor,
        tick(&job, "2026-11-21T03:30:00Z"),
        "r2",
        T0 + time::Duration::hours(1),
    )
    .await
    .unwrap();
    assert_eq!(
        (real.outcome, real.run_id.as_str()),
        ("STARTED", "forged-20261121T033000Z")
    );
}

#[tokio::test]
async fn a_ttl_record_of_a_retry_not_yet_due_launches_nothing_and_the_sweep_fires_it_when_due() {
    let stack = Stack::new().await;
    let reactor = stack.reactor();
    let (run_id, due) = waiting(&stack, &reactor, "replayed").await;
    // A REMOVE record for the delay, replayed (or forged) long before it is due; the item itself is still there.
    let item = stack.row(&run_id, "DELAY#0002").await.unwrap();
    let batch = stack.expire(&run_id, "DELAY#0002").await;
    stack
        .dynamodb
        .put_item()
        .table_name(&stack.table)
        .set_item(Some(serde_dynamo::to_item(&item).unwrap()))
        .send()
        .await
        .unwrap();
    let early = scheduler::handle(&reactor, batch, at(due - 899))
        .await
        .unwrap();
    assert_eq!(early, json!({"batchItemFailures": []}));
    assert_eq!(
        stack.tasks(&started_by(&run_id, 2)).await.len(),
        0,
        "not launched early"
    );
    assert_eq!(
        stack.row(&run_id, "RUN").await.unwrap()["status"],
        "RETRY_SCHEDULED"
    );
    let swept = scheduler::handle(&reactor, sweep_event(), at(due + 30))
        .await
        .unwrap();
    assert_eq!(swept["sweep"]["launched"], 1, "{swept}");
    assert_eq!(stack.tasks(&started_by(&run_id, 2)).await.len(), 1);
}

#[tokio::test]
async fn a_redelivered_tick_of_a_finished_forbid_run_is_a_duplicate_never_a_skipped_notice() {
    let stack = Stack::new().await;
    let reactor = stack.reactor();
    let mut job = stack.job("nightly-forbid");
    job["concurrency"] = json!("FORBID");
    job["notify"] = json!({"on": ["SKIPPED"]});
    // The 02:30 run ends (SUCCEEDED, not announced); the 02:31 run starts and holds the job.
    let first = starter::handle(&reactor, tick(&job, "2026-11-21T02:30:00Z"), "r1", T0)
        .await
        .unwrap();
    let task = first.task_arn.clone().unwrap();
    let done = stack
        .stop(
            &task,
            &started_by(&first.run_id, 1),
            "stopped-success.json",
            3,
        )
        .await;
    classifier::handle(&reactor, done, T0 + time::Duration::seconds(30))
        .await
        .unwrap();
    let second = starter::handle(
        &reactor,
        tick(&job, "2026-11-21T02:31:00Z"),
        "r2",
        T0 + time::Duration::minutes(1),
    )
    .await
    .unwrap();
    assert_eq!(second.outcome, "STARTED", "{second:?}");
    // The 02:30 tick again, late: its run exists and has ended; it is not skipped, and nothing is announced.
    let again = starter::handle(
        &reactor,
        tick(&job, "2026-11-21T02:30:00Z"),
        "r3",
        T0 + time::Duration::minutes(2),
    )
    .await
    .unwrap();
    assert_eq!(
        (again.outcome, again.run_id.as_str()),
        ("DUPLICATE", first.run_id.as_str()),
        "{again:?}"
    );
    assert_eq!(
        stack.row(&first.run_id, "RUN").await.unwrap()["status"],
        "SUCCEEDED"
    );
    assert_eq!(stack.notifications_now().await, Vec::<Value>::new());
}
