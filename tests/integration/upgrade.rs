//! Runs in flight across a deploy. Items the previous release wrote (item schema 1: what this release writes
//! without `schemaVersion` and `scheduledAt`, the only differences in `crates/aws/src/records` since then) are
//! finished by this release's handlers: a RUNNING run judged from its STOPPED event, a run waiting for its
//! delayed retry fired by the sweep, a run under a deadline stopped by the sweep. And an item a newer release
//! wrote (a higher `schemaVersion`) is refused by its key, never half-read.

use crate::faults::runs_without_a_next_step;
use crate::handlers::started_by;
use crate::stack::{sweep_event, Stack};
use aws_sdk_dynamodb::types::AttributeValue;
use reactor_aws::records::{SCHEMA_VERSION, SCHEMA_VERSION_ATTRIBUTE};
use reactor_testkit::utc;
use serde_json::{json, Value};
use std::collections::HashMap;

/// Rewrites every item of the table as the previous release wrote it.
async fn as_written_by_the_previous_release(stack: &Stack) {
    let out = stack
        .dynamodb
        .scan()
        .table_name(&stack.table)
        .consistent_read(true)
        .send()
        .await
        .unwrap();
    for mut item in out.items().iter().cloned() {
        let had =
            item.remove(SCHEMA_VERSION_ATTRIBUTE).is_some() | item.remove("scheduledAt").is_some();
        if had {
            stack
                .dynamodb
                .put_item()
                .table_name(&stack.table)
                .set_item(Some(item))
                .send()
                .await
                .unwrap();
        }
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn runs_started_by_the_previous_release_finish_under_this_one() {
    let stack = Stack::new().await;
    let reactor = stack.reactor();
    let t0 = utc("2026-11-21T02:30:02Z");
    let tick = "2026-11-21T02:30:00Z";
    let start = |name: &str, edit: &dyn Fn(&mut Value)| {
        let mut tick = stack.tick(name, tick);
        edit(&mut tick["detail"]);
        tick
    };
    let running = starter::handle(&reactor, start("old-running", &|_| {}), "r1", t0)
        .await
        .unwrap();
    let waiting = starter::handle(&reactor, start("old-waiting", &|_| {}), "r2", t0)
        .await
        .unwrap();
    let deadline = starter::handle(
        &reactor,
        start("old-deadline", &|j| j["timeoutSeconds"] = json!(600)),
        "r3",
        t0,
    )
    .await
    .unwrap();
    // The waiting run's first attempt hit Docker Hub's rate limit: its retry waits in a delay item.
    let event = stack
        .stop(
            waiting.task_arn.as_deref().unwrap(),
            &started_by(&waiting.run_id, 1),
            "stopped-pull-rate-limit.json",
            3,
        )
        .await;
    let judged = classifier::handle(&reactor, event, t0).await.unwrap();
    assert_eq!(judged.action, Some("RETRY_LATER"));
    let items = stack.scan().await;
    assert!(
        items
            .iter()
            .all(|i| i[SCHEMA_VERSION_ATTRIBUTE]
                == json!(if i.get("sealedOverrides").is_some() { 3 } else { 2 })),
        "this release stamps every item it writes, version 3 only where sealed values are: {items:#?}"
    );

    // The deploy: what is in the table now is what the previous release left.
    as_written_by_the_previous_release(&stack).await;
    assert!(stack
        .scan()
        .await
        .iter()
        .all(|i| i.get(SCHEMA_VERSION_ATTRIBUTE).is_none()));

    // This release finishes them: the running one from its STOPPED event, the waiting one from the sweep, the
    // one past its deadline stopped by the sweep and closed from its STOPPED event.
    let later = utc("2026-11-21T02:45:00Z");
    let event = stack
        .stop(
            running.task_arn.as_deref().unwrap(),
            &started_by(&running.run_id, 1),
            "stopped-success.json",
            3,
        )
        .await;
    let done = classifier::handle(&reactor, event, later).await.unwrap();
    assert_eq!(done.action, Some("SUCCEED"), "{done:?}");
    let swept = scheduler::handle(&reactor, sweep_event(), later)
        .await
        .unwrap();
    assert_eq!(swept["sweep"]["launched"], 1, "{swept}");
    let second = stack.tasks(&started_by(&waiting.run_id, 2)).await;
    assert_eq!(second.len(), 1, "the delayed retry launched once");
    let event = stack
        .stop(
            &second[0],
            &started_by(&waiting.run_id, 2),
            "stopped-success.json",
            3,
        )
        .await;
    let done = classifier::handle(&reactor, event, later).await.unwrap();
    assert_eq!(done.action, Some("SUCCEED"), "{done:?}");
    let stopped = stack.task(deadline.task_arn.as_deref().unwrap()).await;
    assert_eq!(
        stopped.last_status(),
        Some("STOPPED"),
        "the sweep stopped the task past its deadline"
    );

    let status = |run: &str| {
        let run = run.to_owned();
        let stack = &stack;
        async move { stack.row(&run, "RUN").await.unwrap()["status"].clone() }
    };
    assert_eq!(status(&running.run_id).await, "SUCCEEDED");
    assert_eq!(status(&waiting.run_id).await, "SUCCEEDED");
    assert_eq!(runs_without_a_next_step(&stack).await, Vec::<String>::new());
}

#[tokio::test(flavor = "multi_thread")]
async fn an_item_a_newer_release_wrote_is_refused_by_its_key() {
    let stack = Stack::new().await;
    let reactor = stack.reactor();
    let started = starter::handle(
        &reactor,
        stack.tick("from-the-future", "2026-11-21T02:30:00Z"),
        "r1",
        utc("2026-11-21T02:30:02Z"),
    )
    .await
    .unwrap();
    let mut item: HashMap<String, AttributeValue> = stack
        .dynamodb
        .get_item()
        .table_name(&stack.table)
        .key("pk", AttributeValue::S(format!("RUN#{}", started.run_id)))
        .key("sk", AttributeValue::S("RUN".into()))
        .send()
        .await
        .unwrap()
        .item()
        .cloned()
        .unwrap();
    item.insert(
        SCHEMA_VERSION_ATTRIBUTE.into(),
        AttributeValue::N((SCHEMA_VERSION + 1).to_string()),
    );
    stack
        .dynamodb
        .put_item()
        .table_name(&stack.table)
        .set_item(Some(item))
        .send()
        .await
        .unwrap();
    let event = stack
        .stop(
            started.task_arn.as_deref().unwrap(),
            &started_by(&started.run_id, 1),
            "stopped-success.json",
            3,
        )
        .await;
    let refused = classifier::handle(&reactor, event, utc("2026-11-21T02:40:00Z"))
        .await
        .unwrap_err()
        .to_string();
    assert!(
        refused.contains(&format!("RUN#{}/RUN", started.run_id))
            && refused.contains(&format!(
                "written by a newer ecs-reactor (item schema {}; this release reads up to {SCHEMA_VERSION})",
                SCHEMA_VERSION + 1
            )),
        "{refused}"
    );
}

/// Lowering `SweepShards` strands no retry: delays written under 8 shards are all fired by a sweep deployed
/// with 2 (besides its own shards the sweep reads one of the others a minute, in turn): within 62 minutes,
/// each once.
#[tokio::test(flavor = "multi_thread")]
async fn lowering_sweep_shards_leaves_no_retry_behind() {
    let stack = Stack::new().await;
    let mut before = stack.reactor();
    before.settings.sweep_shards = 8;
    let t0 = utc("2026-11-21T02:30:02Z");
    let mut runs = Vec::new();
    for i in 0..12 {
        let started = starter::handle(
            &before,
            stack.tick(&format!("sharded-{i}"), "2026-11-21T02:30:00Z"),
            "r",
            t0,
        )
        .await
        .unwrap();
        let event = stack
            .stop(
                started.task_arn.as_deref().unwrap(),
                &started_by(&started.run_id, 1),
                "stopped-pull-rate-limit.json",
                3,
            )
            .await;
        let judged = classifier::handle(&before, event, t0).await.unwrap();
        assert_eq!(judged.action, Some("RETRY_LATER"));
        runs.push(started.run_id);
    }
    let shards: std::collections::BTreeSet<String> = stack
        .scan()
        .await
        .iter()
        .filter_map(|i| i["dueShard"].as_str().map(str::to_owned))
        .collect();
    assert!(
        shards
            .iter()
            .any(|s| s.as_str() >= "DUE#2" && s.as_str() != "DUE#NOTIFY"),
        "some delays sit in shards the smaller count has no more: {shards:?}"
    );

    let mut after = stack.reactor();
    after.settings.sweep_shards = 2;
    let first = scheduler::handle(&after, sweep_event(), utc("2026-11-21T02:45:00Z"))
        .await
        .unwrap();
    let mut launched = first["sweep"]["launched"].as_u64().unwrap();
    for minute in 1..62 {
        let at = utc("2026-11-21T02:45:00Z") + time::Duration::minutes(minute);
        let swept = scheduler::handle(&after, sweep_event(), at).await.unwrap();
        launched += swept["sweep"]["launched"].as_u64().unwrap();
    }
    assert_eq!(launched, runs.len() as u64, "every retry fired, once");
    for run in &runs {
        assert_eq!(stack.tasks(&started_by(run, 2)).await.len(), 1, "{run}");
    }
}
