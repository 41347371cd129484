//! The attempts table against moto: conditional writes hold under duplicates and races.

use crate::moto::{moto, unique};
use reactor_aws::records::stamp;
use reactor_aws::records::{attempt_sk, run_pk, AttemptItem, AttemptState, RunItem};
use reactor_aws::records::{delay_sk, due_shard_key, ContainerEnd, DelayItem, DueItem};
use reactor_aws::store::prelude::*;
use reactor_aws::store::{Applied, Claimed, Created, DynamoStore, LaunchFacts, Next, StopFacts};
use reactor_core::run::{client_token, RunStatus};
use reactor_core::AttemptRef;
use reactor_testkit::utc;

async fn store() -> DynamoStore {
    let config = moto().sdk_config().await;
    let client = aws_sdk_dynamodb::Client::new(&config);
    let table = unique("attempts");
    reactor_testkit::provision::create_table(&client, &table)
        .await
        .unwrap();
    DynamoStore::new(client, table)
}

fn run_item(run_id: &str) -> (RunItem, AttemptItem) {
    let at = utc("2026-11-21T02:30:00Z");
    let run = RunItem::new(run_id, "nightly-report", "{}".into(), None, at);
    let attempt = AttemptItem::claim(
        &reactor_core::Namespace::default(),
        run_id,
        1,
        at,
        1_795_000_000,
    );
    (run, attempt)
}

#[tokio::test]
async fn a_run_is_created_once_however_often_the_tick_is_delivered() {
    let store = store().await;
    let (run, first) = run_item("nightly-report-20261121T023000Z");
    // Five deliveries of the same tick, each stamped with its own arrival time: the first wins, whole (run
    // and first attempt together); the others see AlreadyExists and change nothing.
    //
    // Sequential on purpose: moto applies a TransactWriteItems item by item and, when one fails, restores a
    // snapshot of the table, which also undoes a concurrent transaction's writes. Run concurrently, this test
    // would measure that, not DynamoDB (whose transactions are serialisable) nor this code.
    let mut outcomes = Vec::new();
    for i in 0..5 {
        let (mut run, mut first) = (run.clone(), first.clone());
        run.updated_at = utc(&format!("2026-11-21T02:30:0{i}Z"));
        first.claimed_at = run.updated_at;
        outcomes.push(store.create_run(&run, &first).await.unwrap());
    }
    assert_eq!(
        outcomes,
        [
            Created::New,
            Created::AlreadyExists,
            Created::AlreadyExists,
            Created::AlreadyExists,
            Created::AlreadyExists
        ]
    );
    let stored = store.run(&run.run_id).await.unwrap().unwrap();
    let attempt = store.attempt(&run.run_id, 1).await.unwrap().unwrap();
    assert_eq!(
        (
            stamp(stored.updated_at).as_str(),
            stamp(attempt.claimed_at).as_str()
        ),
        ("2026-11-21T02:30:00Z", "2026-11-21T02:30:00Z")
    );
    assert_eq!(store.attempt(&run.run_id, 2).await.unwrap(), None);
}

#[tokio::test]
async fn recording_a_launch_is_idempotent_and_guarded() {
    let store = store().await;
    let (run, first) = run_item("r-20261121T023000Z");
    store.create_run(&run, &first).await.unwrap();
    let arn = "arn:aws:ecs:us-east-1:123456789012:task/jobs/0123";
    store
        .record_launch(
            &run.run_id,
            1,
            arn,
            utc("2026-11-21T02:30:05Z"),
            &LaunchFacts::default(),
        )
        .await
        .unwrap();
    // A redelivery records the same task again: fine, nothing changes.
    store
        .record_launch(
            &run.run_id,
            1,
            arn,
            utc("2026-11-21T02:30:09Z"),
            &LaunchFacts::default(),
        )
        .await
        .unwrap();
    let attempt = store.attempt(&run.run_id, 1).await.unwrap().unwrap();
    assert_eq!(
        (
            attempt.state,
            attempt.task_arn.as_deref(),
            attempt.launched_at.map(stamp).as_deref()
        ),
        (
            AttemptState::Launched,
            Some(arn),
            Some("2026-11-21T02:30:05Z")
        )
    );
    let stored = store.run(&run.run_id).await.unwrap().unwrap();
    assert_eq!(
        (stored.status, stored.by_status_pk.as_str()),
        (RunStatus::Running, "STATUS#RUNNING")
    );
    // A second, different task for the same attempt is refused: one task per attempt.
    let err = store
        .record_launch(
            &run.run_id,
            1,
            "arn:aws:ecs:us-east-1:123456789012:task/jobs/9999",
            utc("2026-11-21T02:31:00Z"),
            &LaunchFacts::default(),
        )
        .await
        .unwrap_err();
    assert!(err.is_conditional_check_failed(), "{err}");
    // An attempt that was never claimed cannot be launched.
    let err = store
        .record_launch(
            &run.run_id,
            2,
            arn,
            utc("2026-11-21T02:31:00Z"),
            &LaunchFacts::default(),
        )
        .await
        .unwrap_err();
    assert!(err.is_conditional_check_failed(), "{err}");
}

/// A decision as the classifier would make it, from a real verdict.
fn decision(action: reactor_core::Action, disruption: bool) -> reactor_core::Decision {
    let verdict = reactor_core::Verdict {
        action,
        rule_id: "rule-id".into(),
        rule: "the rule".into(),
        evidence: "evidence".into(),
        disruption,
        hint: None,
        memory: None,
    };
    let policy = reactor_core::RetryPolicy::default();
    reactor_core::decide(
        verdict,
        reactor_core::History::FIRST,
        &policy,
        &mut reactor_core::UpperBound,
    )
}

fn facts() -> StopFacts {
    StopFacts {
        task_arn: Some("arn:aws:ecs:us-east-1:123456789012:task/jobs/0123".into()),
        stopped_at: Some(utc("2026-11-21T02:41:40.733Z")),
        stop_code: Some("EssentialContainerExited".into()),
        stopped_reason: Some("Essential container in task exited".into()),
        containers: vec![ContainerEnd {
            name: "app".into(),
            exit_code: Some(1),
            reason: None,
        }],
        event_version: Some(5),
        ..Default::default()
    }
}

async fn launched(store: &DynamoStore, run_id: &str) {
    let (run, first) = run_item(run_id);
    store.create_run(&run, &first).await.unwrap();
    store
        .record_launch(
            run_id,
            1,
            "arn:aws:ecs:us-east-1:123456789012:task/jobs/0123",
            utc("2026-11-21T02:30:05Z"),
            &LaunchFacts::default(),
        )
        .await
        .unwrap();
}

async fn raw(
    store: &DynamoStore,
    pk: &str,
    sk: &str,
) -> Option<std::collections::HashMap<String, aws_sdk_dynamodb::types::AttributeValue>> {
    let config = moto().sdk_config().await;
    let client = aws_sdk_dynamodb::Client::new(&config);
    client
        .get_item()
        .table_name(store.table())
        .key("pk", aws_sdk_dynamodb::types::AttributeValue::S(pk.into()))
        .key("sk", aws_sdk_dynamodb::types::AttributeValue::S(sk.into()))
        .send()
        .await
        .unwrap()
        .item
}

#[tokio::test]
async fn a_decision_is_applied_once_with_its_consequence() {
    use reactor_core::Action::*;
    let store = store().await;
    let at = utc("2026-11-21T02:41:41Z");

    // SUCCEED closes the run; the stopped facts are kept on the attempt; a duplicate changes nothing.
    launched(&store, "ok-20261121T023000Z").await;
    let d = decision(Succeed, false);
    let close = Next::Close {
        status: RunStatus::Succeeded,
        notify_lease_until: None,
    };
    assert_eq!(
        store
            .apply_decision("ok-20261121T023000Z", 1, &facts(), &d, &close, at)
            .await
            .unwrap(),
        Applied::Applied
    );
    assert_eq!(
        store
            .apply_decision(
                "ok-20261121T023000Z",
                1,
                &facts(),
                &d,
                &close,
                utc("2026-11-21T02:50:00Z")
            )
            .await
            .unwrap(),
        Applied::Duplicate
    );
    let run = store.run("ok-20261121T023000Z").await.unwrap().unwrap();
    assert_eq!(
        (
            run.status,
            run.by_status_pk.as_str(),
            stamp(run.updated_at).as_str(),
            run.last_action
        ),
        (
            RunStatus::Succeeded,
            "STATUS#SUCCEEDED",
            stamp(at).as_str(),
            Some(Succeed)
        )
    );
    let attempt = store
        .attempt("ok-20261121T023000Z", 1)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        (
            attempt.state,
            attempt.stop_code.as_deref(),
            attempt.event_version,
            attempt.containers.len()
        ),
        (
            AttemptState::Decided,
            Some("EssentialContainerExited"),
            Some(5),
            1
        )
    );
    assert_eq!(attempt.rule_id.as_deref(), Some("rule-id"));

    // RETRY_LATER writes the delay item (TTL = due time, epoch seconds) and schedules the run.
    launched(&store, "later-20261121T023000Z").await;
    let d = decision(RetryLater, false);
    let due = 1_795_055_000;
    let delay = DelayItem {
        pk: run_pk("later-20261121T023000Z"),
        sk: delay_sk(2),
        run_id: "later-20261121T023000Z".into(),
        attempt: 2,
        due_at: due,
        ttl: due,
        due_shard: due_shard_key(3),
    };
    assert_eq!(
        store
            .apply_decision(
                "later-20261121T023000Z",
                1,
                &facts(),
                &d,
                &Next::RetryLater(delay),
                at
            )
            .await
            .unwrap(),
        Applied::Applied
    );
    let item = raw(&store, &run_pk("later-20261121T023000Z"), &delay_sk(2))
        .await
        .unwrap();
    assert_eq!(
        item["ttl"],
        aws_sdk_dynamodb::types::AttributeValue::N(due.to_string()),
        "TTL is a Number of epoch seconds"
    );
    let run = store.run("later-20261121T023000Z").await.unwrap().unwrap();
    assert_eq!(
        (
            run.status,
            run.attempt,
            run.next_retry_at.map(stamp).as_deref()
        ),
        (RunStatus::RetryScheduled, 1, Some("2026-11-19T02:23:20Z"))
    );

    // RETRY_NOW after a disruption claims attempt 2 at once and counts a free relaunch.
    launched(&store, "now-20261121T023000Z").await;
    let d = decision(RetryNow, true);
    let (_, mut second) = run_item("now-20261121T023000Z");
    second.sk = attempt_sk(2);
    second.attempt = 2;
    assert_eq!(
        store
            .apply_decision(
                "now-20261121T023000Z",
                1,
                &facts(),
                &d,
                &Next::RetryNow(Box::new(second)),
                at
            )
            .await
            .unwrap(),
        Applied::Applied
    );
    let run = store.run("now-20261121T023000Z").await.unwrap().unwrap();
    assert_eq!(
        (run.status, run.attempt, run.disruptions),
        (RunStatus::Launching, 2, 1)
    );
    assert_eq!(
        store
            .attempt("now-20261121T023000Z", 2)
            .await
            .unwrap()
            .unwrap()
            .state,
        AttemptState::Claimed
    );

    // A late event for an attempt the run has left behind is stale, not an error.
    let d = decision(Fail, false);
    assert_eq!(
        store
            .apply_decision(
                "ok-20261121T023000Z",
                2,
                &facts(),
                &d,
                &Next::Close {
                    status: RunStatus::Failed,
                    notify_lease_until: None,
                },
                at
            )
            .await
            .unwrap(),
        Applied::Stale
    );
}

/// A run waiting for attempt 2, due at `due`, in sweep shard 3.
async fn scheduled(store: &DynamoStore, run_id: &str, due: i64) -> AttemptItem {
    launched(store, run_id).await;
    let delay = DelayItem {
        pk: run_pk(run_id),
        sk: delay_sk(2),
        run_id: run_id.into(),
        attempt: 2,
        due_at: due,
        ttl: due,
        due_shard: due_shard_key(3),
    };
    let applied = store
        .apply_decision(
            run_id,
            1,
            &facts(),
            &decision(reactor_core::Action::RetryLater, false),
            &Next::RetryLater(delay),
            utc("2026-11-21T02:41:41Z"),
        )
        .await
        .unwrap();
    assert_eq!(applied, Applied::Applied);
    let (_, mut second) = run_item(run_id);
    let attempt_ref = AttemptRef {
        run_id: run_id.into(),
        attempt: 2,
    };
    (
        second.sk,
        second.attempt,
        second.started_by,
        second.client_token,
    ) = (
        attempt_sk(2),
        2,
        reactor_core::Namespace::default().started_by(&attempt_ref),
        client_token(&reactor_core::Namespace::default(), &attempt_ref),
    );
    second
}

#[tokio::test]
async fn ttl_and_sweep_on_one_delay_launch_once() {
    let store = store().await;
    let now = 1_795_055_000;
    let claim = scheduled(&store, "race-20261121T023000Z", now - 60).await;
    scheduled(&store, "future-20261121T023000Z", now + 600).await;

    // The sweep finds the overdue delay, and only it.
    let due = store.due_items(3, now, 100).await.unwrap();
    assert_eq!(
        due.iter()
            .map(|d| match d {
                DueItem::Retry(d) => (d.run_id.as_str(), d.attempt),
                DueItem::Deadline(d) => (d.run_id.as_str(), 0),
            })
            .collect::<Vec<_>>(),
        [("race-20261121T023000Z", 2)]
    );
    assert!(
        store.due_items(4, now, 100).await.unwrap().is_empty(),
        "other shards are empty"
    );

    // TTL's stream record and the sweep both try: one claim wins, the other sees it done.
    assert_eq!(
        store
            .claim_retry(&claim, utc("2026-11-21T03:00:00Z"))
            .await
            .unwrap(),
        Claimed::Claimed
    );
    assert_eq!(
        store
            .claim_retry(&claim, utc("2026-11-21T03:00:01Z"))
            .await
            .unwrap(),
        Claimed::AlreadyClaimed
    );
    let run = store.run("race-20261121T023000Z").await.unwrap().unwrap();
    assert_eq!(
        (run.status, run.attempt, run.next_retry_at),
        (RunStatus::Launching, 2, None)
    );
    assert_eq!(
        store
            .attempt("race-20261121T023000Z", 2)
            .await
            .unwrap()
            .unwrap()
            .claimed_at,
        claim.claimed_at
    );
    // The delay item is gone, so the next sweep does not find it again.
    assert!(store.due_items(3, now, 100).await.unwrap().is_empty());
}

#[tokio::test]
async fn a_retry_for_a_run_that_moved_on_is_stale() {
    let store = store().await;
    let claim = scheduled(&store, "gone-20261121T023000Z", 1_795_055_000).await;
    // The run ends some other way first (here: its next attempt claimed under another number).
    let mut other = claim.clone();
    (other.attempt, other.sk) = (3, attempt_sk(3));
    assert_eq!(
        store
            .claim_retry(&other, utc("2026-11-21T03:00:00Z"))
            .await
            .unwrap(),
        Claimed::Stale
    );
    assert_eq!(
        store
            .run("gone-20261121T023000Z")
            .await
            .unwrap()
            .unwrap()
            .status,
        RunStatus::RetryScheduled,
        "nothing changed"
    );
}
