//! Cancel and redrive through the flow the CLI uses, against moto with the real handlers around them: a
//! cancelled run launches nothing more (TTL, sweep, a launch in flight), a redriven run runs attempt n+1 with
//! a fresh budget and keeps its story.

use crate::handlers::{at, started, started_by, waiting, T_STOP};
use crate::stack::{sweep_event, ttl_batch, Stack};
use reactor_aws::flow::{Cancel, ClaimOf, Launch, Redrive};
use reactor_aws::records::{AttemptItem, DelayItem};
use reactor_aws::store::prelude::*;
use reactor_aws::store::Claimed;
use reactor_core::run::RunStatus;
use reactor_core::JobRequest;
use reactor_testkit::utc;
use serde_json::json;

#[tokio::test]
async fn a_cancel_during_a_pending_delay_leaves_nothing_for_ttl_or_the_sweep() {
    let stack = Stack::new().await;
    let reactor = stack.reactor();
    let (run_id, due) = waiting(&stack, &reactor, "cancel-waiting").await;
    let _ = stack.notifications().await;
    let delay = DelayItem::new(&run_id, 2, due, reactor.settings.sweep_shards);

    let cancelled = reactor
        .cancel(&run_id, "alice (test)", false, at(due - 30))
        .await
        .unwrap();
    assert_eq!(
        cancelled,
        Cancel::Cancelled {
            was: RunStatus::RetryScheduled,
            attempt: 1,
            stopped_task: None
        }
    );
    assert!(
        stack.row(&run_id, "DELAY#0002").await.is_none(),
        "the delay item goes in the same write"
    );
    let run = stack.row(&run_id, "RUN").await.unwrap();
    assert_eq!(
        (&run["status"], &run["cancelledBy"], run.get("nextRetryAt")),
        (&json!("CANCELLED"), &json!("alice (test)"), None)
    );

    // TTL had deleted the item just before the cancel: its stream record still arrives. Then the sweep runs.
    let ttl = scheduler::handle(
        &reactor,
        ttl_batch(&stack.table, serde_dynamo::to_item(&delay).unwrap()),
        at(due + 600),
    )
    .await
    .unwrap();
    assert_eq!(ttl, json!({"batchItemFailures": []}));
    let swept = scheduler::handle(&reactor, sweep_event(), at(due + 600))
        .await
        .unwrap();
    assert_eq!(
        (&swept["sweep"]["due"], &swept["sweep"]["launched"]),
        (&json!(0), &json!(0)),
        "{swept}"
    );
    assert!(stack.tasks(&started_by(&run_id, 2)).await.is_empty());
    assert!(stack.row(&run_id, "ATTEMPT#0002").await.is_none());
    assert_eq!(
        stack.row(&run_id, "RUN").await.unwrap()["status"],
        "CANCELLED"
    );

    // Announced once; a repeated cancel says so and announces nothing more.
    let again = reactor
        .cancel(&run_id, "alice (test)", false, at(due + 700))
        .await
        .unwrap();
    assert_eq!(
        again,
        Cancel::AlreadyCancelled {
            attempt: 1,
            stopped_task: None
        }
    );
    let notes = stack.notifications().await;
    assert_eq!(notes.len(), 1, "{notes:?}");
    assert_eq!(
        (&notes[0]["status"], &notes[0]["reason"]),
        (&json!("CANCELLED"), &json!("cancelled by alice (test)"))
    );
}

#[tokio::test]
async fn a_cancel_with_stop_task_stops_the_running_task_and_its_stop_is_not_judged() {
    let stack = Stack::new().await;
    let reactor = stack.reactor();
    let (run_id, task) = started(&stack, &reactor, "cancel-running").await;
    let cancelled = reactor
        .cancel(&run_id, "bob (test): wrong input", true, T_STOP)
        .await
        .unwrap();
    assert_eq!(
        cancelled,
        Cancel::Cancelled {
            was: RunStatus::Running,
            attempt: 1,
            stopped_task: Some(task.clone())
        }
    );
    let described = stack.task(&task).await;
    let reason = described.stopped_reason().unwrap_or_default();
    assert_eq!(described.desired_status(), Some("STOPPED"));
    assert_eq!(
        reason,
        format!("ecs-reactor: run {run_id} cancelled by bob (test): wrong input")
    );

    // The STOPPED event the stop causes: recorded nowhere as a decision, the run stays cancelled.
    let event = stack
        .stop(&task, &started_by(&run_id, 1), "stopped-user-stop.json", 4)
        .await;
    let judged = classifier::handle(&reactor, event, T_STOP).await.unwrap();
    assert_eq!(judged.outcome, "STALE");
    assert_eq!(
        stack.row(&run_id, "RUN").await.unwrap()["status"],
        "CANCELLED"
    );
    assert!(stack.row(&run_id, "ATTEMPT#0001").await.unwrap()["action"].is_null());

    // A finished run cannot be cancelled; an unknown one is not found.
    let (done, done_task) = started(&stack, &reactor, "cancel-finished").await;
    let event = stack
        .stop(&done_task, &started_by(&done, 1), "stopped-success.json", 3)
        .await;
    classifier::handle(&reactor, event, T_STOP).await.unwrap();
    #[rustfmt::skip]
    let cases: &[(&str, Cancel)] = &[
        (&done, Cancel::Finished(RunStatus::Succeeded)),
        ("no-such-run-20261121T000000Z", Cancel::Unknown),
    ];
    for (run, expected) in cases {
        let got = reactor.cancel(run, "carol", true, T_STOP).await.unwrap();
        assert_eq!(&got, expected, "{run}");
    }
}

#[tokio::test]
async fn a_launch_that_races_a_cancel_stops_the_task_it_started() {
    let stack = Stack::new().await;
    let reactor = stack.reactor();
    let (run_id, due) = waiting(&stack, &reactor, "cancel-race").await;
    let now = at(due + 5);
    // The scheduler claims the retry (TTL fired) …
    let claim = AttemptItem::claim(
        &reactor_core::Namespace::default(),
        &run_id,
        2,
        utc("2026-11-21T02:42:46Z"),
        due + 125,
    );
    assert_eq!(
        reactor
            .store
            .claim_retry(&claim, utc("2026-11-21T02:42:46Z"))
            .await
            .unwrap(),
        Claimed::Claimed
    );
    // … on-call cancels before its RunTask returns …
    let cancelled = reactor
        .cancel(&run_id, "dave (test)", false, now)
        .await
        .unwrap();
    assert_eq!(
        cancelled,
        Cancel::Cancelled {
            was: RunStatus::Launching,
            attempt: 2,
            stopped_task: None
        }
    );
    // … and the launch goes on: it finds the run cancelled when it records the task, and stops it.
    let run = reactor.store.run(&run_id).await.unwrap().unwrap();
    let job = JobRequest::from_json(&run.request).unwrap();
    let launch = reactor
        .launch(&run, &job, 2, ClaimOf::New, now)
        .await
        .unwrap();
    let Launch::Overtaken {
        attempt: 2,
        task_arn,
        status: RunStatus::Cancelled,
    } = launch
    else {
        panic!("expected the launch to be overtaken: {launch:?}");
    };
    let described = stack.task(&task_arn).await;
    assert_eq!(described.desired_status(), Some("STOPPED"));
    assert!(described
        .stopped_reason()
        .unwrap_or_default()
        .contains("was cancelled while attempt 2 was being launched"));
    let attempt = stack.row(&run_id, "ATTEMPT#0002").await.unwrap();
    assert_eq!(
        (&attempt["state"], &attempt["taskArn"]),
        (&json!("LAUNCHED"), &json!(task_arn)),
        "the story shows the task"
    );
    assert_eq!(
        stack.row(&run_id, "RUN").await.unwrap()["status"],
        "CANCELLED"
    );
    assert_eq!(stack.tasks(&started_by(&run_id, 2)).await.len(), 1);
}

#[tokio::test]
async fn a_redriven_run_runs_attempt_n_plus_1_with_a_fresh_budget_and_keeps_its_story() {
    let stack = Stack::new().await;
    let reactor = stack.reactor();
    // maxAttempts 2: attempt 1 exits 1 (retry later), attempt 2 exits 1 (attempts exhausted: FAILED).
    let mut tick = stack.tick("redrive", "2026-11-21T02:30:00Z");
    tick["detail"]["retry"]["maxAttempts"] = json!(2);
    let response = starter::handle(&reactor, tick, "r", T_STOP).await.unwrap();
    let run_id = response.run_id;
    let stop = |attempt: u32, task: String, version: u64| {
        let (stack, run_id) = (&stack, run_id.clone());
        async move {
            stack
                .stop(
                    &task,
                    &started_by(&run_id, attempt),
                    "stopped-app-exit-1.json",
                    version,
                )
                .await
        }
    };
    let first = classifier::handle(
        &reactor,
        stop(1, response.task_arn.unwrap(), 3).await,
        T_STOP,
    )
    .await
    .unwrap();
    assert_eq!(first.action, Some("RETRY_LATER"));
    let due = stack.row(&run_id, "DELAY#0002").await.unwrap()["dueAt"]
        .as_i64()
        .unwrap();
    scheduler::handle(
        &reactor,
        stack.expire(&run_id, "DELAY#0002").await,
        at(due + 60),
    )
    .await
    .unwrap();
    let second_task = stack.tasks(&started_by(&run_id, 2)).await.remove(0);
    let second = classifier::handle(&reactor, stop(2, second_task, 3).await, at(due + 90))
        .await
        .unwrap();
    assert_eq!(
        (second.action, second.rule_id.as_deref()),
        (Some("FAIL"), Some("attempts-exhausted"))
    );
    assert_eq!(stack.notifications().await.len(), 1, "FAILED announced");

    let redriven = reactor
        .redrive(&run_id, "erin (test)", at(due + 300))
        .await
        .unwrap();
    let Redrive::Redriven {
        attempt: 3,
        launch: Launch::Started { task_arn, .. },
    } = redriven
    else {
        panic!("expected attempt 3 to start: {redriven:?}");
    };
    let run = stack.row(&run_id, "RUN").await.unwrap();
    assert_eq!(
        (
            &run["status"],
            &run["attempt"],
            &run["countsFrom"],
            &run["redrives"],
            &run["redrivenBy"]
        ),
        (
            &json!("RUNNING"),
            &json!(3),
            &json!(3),
            &json!(1),
            &json!("erin (test)")
        )
    );
    assert!(
        run.get("notifiedAt").is_none(),
        "the new outcome will be announced"
    );
    // A second redrive (another engineer, a retried command) starts nothing.
    assert_eq!(
        reactor
            .redrive(&run_id, "frank (test)", at(due + 301))
            .await
            .unwrap(),
        Redrive::NotRedrivable(RunStatus::Running)
    );
    assert_eq!(
        stack.tasks(&started_by(&run_id, 3)).await,
        vec![task_arn.clone()]
    );

    // The same failure again is retried: the budget counts from attempt 3, not from 1.
    let third = classifier::handle(&reactor, stop(3, task_arn, 3).await, at(due + 400))
        .await
        .unwrap();
    assert_eq!(
        (third.action, third.rule_id.as_deref()),
        (Some("RETRY_LATER"), Some("application-exit-nonzero"))
    );
    let actions: Vec<(String, String)> = stack
        .rows(&run_id)
        .await
        .iter()
        .filter(|r| r["sk"].as_str().unwrap().starts_with("ATTEMPT#"))
        .map(|r| {
            (
                r["sk"].as_str().unwrap().to_owned(),
                r["action"].as_str().unwrap_or("-").to_owned(),
            )
        })
        .collect();
    assert_eq!(
        actions,
        [
            ("ATTEMPT#0001".into(), "RETRY_LATER".into()),
            ("ATTEMPT#0002".into(), "FAIL".into()),
            ("ATTEMPT#0003".into(), "RETRY_LATER".into())
        ]
    );
    // Only FAILED and CANCELLED runs can be redriven.
    assert_eq!(
        reactor
            .redrive(&run_id, "erin", at(due + 500))
            .await
            .unwrap(),
        Redrive::NotRedrivable(RunStatus::RetryScheduled)
    );
    assert_eq!(
        reactor
            .redrive("no-such-run-20261121T000000Z", "erin", at(due))
            .await
            .unwrap(),
        Redrive::Unknown
    );
}
