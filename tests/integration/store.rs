//! The attempts table against moto: conditional writes hold under duplicates and races.

use crate::moto::{moto, unique};
use reactor_aws::records::{
    attempt_sk, job_key, run_pk, status_key, AttemptItem, AttemptState, RunItem, RUN_SK,
};
use reactor_aws::store::{Created, DynamoStore, Store};
use reactor_core::run::{client_token, RunStatus};
use reactor_core::AttemptRef;

async fn store() -> DynamoStore {
    let config = moto().sdk_config().await;
    let client = aws_sdk_dynamodb::Client::new(&config);
    let table = unique("attempts");
    reactor_aws::provision::create_table(&client, &table)
        .await
        .unwrap();
    DynamoStore::new(client, table)
}

fn run_item(run_id: &str) -> (RunItem, AttemptItem) {
    let at = "2026-11-21T02:30:00Z";
    let run = RunItem {
        pk: run_pk(run_id),
        sk: RUN_SK.into(),
        run_id: run_id.into(),
        job: "nightly-report".into(),
        status: RunStatus::Launching,
        attempt: 1,
        disruptions: 0,
        created_at: at.into(),
        updated_at: at.into(),
        request: "{}".into(),
        essential_containers: None,
        last_action: None,
        last_rule: None,
        next_retry_at: None,
        by_job_pk: job_key("nightly-report"),
        by_job_sk: format!("{at}#{run_id}"),
        by_status_pk: status_key(RunStatus::Launching),
        by_status_sk: format!("{at}#{run_id}"),
    };
    let attempt_ref = AttemptRef {
        run_id: run_id.into(),
        attempt: 1,
    };
    let attempt = AttemptItem {
        pk: run_pk(run_id),
        sk: attempt_sk(1),
        run_id: run_id.into(),
        attempt: 1,
        state: AttemptState::Claimed,
        started_by: attempt_ref.to_string(),
        client_token: client_token(&attempt_ref),
        claimed_at: at.into(),
        task_arn: None,
        launched_at: None,
        started_at: None,
        stopped_at: None,
        stop_code: None,
        stopped_reason: None,
        containers: vec![],
        event_version: None,
        action: None,
        rule_id: None,
        rule: None,
        reason: None,
        counts_as_attempt: None,
        delay_seconds: None,
        next_retry_at: None,
    };
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
        run.updated_at = format!("2026-11-21T02:30:0{i}Z");
        first.claimed_at = run.updated_at.clone();
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
        (stored.updated_at.as_str(), attempt.claimed_at.as_str()),
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
        .record_launch(&run.run_id, 1, arn, "2026-11-21T02:30:05Z")
        .await
        .unwrap();
    // A redelivery records the same task again: fine, nothing changes.
    store
        .record_launch(&run.run_id, 1, arn, "2026-11-21T02:30:09Z")
        .await
        .unwrap();
    let attempt = store.attempt(&run.run_id, 1).await.unwrap().unwrap();
    assert_eq!(
        (
            attempt.state,
            attempt.task_arn.as_deref(),
            attempt.launched_at.as_deref()
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
            "2026-11-21T02:31:00Z",
        )
        .await
        .unwrap_err();
    assert!(err.is_conditional_check_failed(), "{err}");
    // An attempt that was never claimed cannot be launched.
    let err = store
        .record_launch(&run.run_id, 2, arn, "2026-11-21T02:31:00Z")
        .await
        .unwrap_err();
    assert!(err.is_conditional_check_failed(), "{err}");
}
