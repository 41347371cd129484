//! The three handlers against moto, called in-process with the real adapters: launch, each decision, the
//! delay item, TTL and sweep, and the races at-least-once delivery brings (played one delivery after the
//! other: moto's transactions are not safe under truly concurrent requests).

use crate::stack::{sweep_event, Stack};
use reactor_aws::edge::HandlerError;
use reactor_testkit::utc;
use serde_json::{json, Value};
use time::macros::datetime;
use time::OffsetDateTime;

const TICK: &str = "2026-11-21T02:30:00Z";
pub const T0: OffsetDateTime = datetime!(2026-11-21 02:30:02 UTC);
pub const T_STOP: OffsetDateTime = datetime!(2026-11-21 02:41:41 UTC);

/// Starts a run from a schedule tick and returns (run id, attempt 1's task).
pub async fn started(
    stack: &Stack,
    reactor: &crate::stack::LocalReactor,
    job: &str,
) -> (String, String) {
    let response = starter::handle(reactor, stack.tick(job, TICK), "req-1", T0)
        .await
        .unwrap();
    assert_eq!(response.outcome, "STARTED", "{response:?}");
    (response.run_id, response.task_arn.unwrap())
}

pub fn started_by(run_id: &str, attempt: u32) -> String {
    format!("ecs-reactor/{run_id}/{attempt}")
}

#[tokio::test]
async fn a_scheduled_tick_starts_one_run_however_often_it_is_delivered() {
    let stack = Stack::new().await;
    let reactor = stack.reactor();
    let (run_id, task) = started(&stack, &reactor, "nightly-report").await;
    assert_eq!(run_id, "nightly-report-20261121T023000Z");

    for (request_id, now) in [("req-2", T0), ("req-3", datetime!(2026-11-21 02:31:00 UTC))] {
        let again = starter::handle(
            &reactor,
            stack.tick("nightly-report", TICK),
            request_id,
            now,
        )
        .await
        .unwrap();
        assert_eq!(
            (again.outcome, again.run_id.as_str()),
            ("DUPLICATE", run_id.as_str())
        );
    }
    assert_eq!(
        stack.tasks(&started_by(&run_id, 1)).await,
        vec![task.clone()]
    );
    assert_eq!(stack.all_tasks().await.len(), 1, "one task in the cluster");

    let run = stack.row(&run_id, "RUN").await.unwrap();
    assert_eq!(
        (run["status"].as_str(), run["attempt"].as_u64()),
        (Some("RUNNING"), Some(1))
    );
    assert_eq!(
        run["essentialContainers"],
        json!(["app"]),
        "learned from the task definition"
    );
    let attempt = stack.row(&run_id, "ATTEMPT#0001").await.unwrap();
    assert_eq!(attempt["state"], "LAUNCHED");
    assert_eq!(attempt["taskArn"], task.as_str());
    assert_eq!(attempt["startedBy"], started_by(&run_id, 1));

    // The task carries the attempt's identity for on-call and for the EventBridge rule.
    let tags: Vec<(String, String)> = stack
        .task(&task)
        .await
        .tags()
        .iter()
        .map(|t| (t.key().unwrap().to_owned(), t.value().unwrap().to_owned()))
        .collect();
    assert!(
        tags.contains(&("ecs-reactor:run".into(), run_id.clone())),
        "{tags:?}"
    );
}

#[tokio::test]
async fn a_direct_request_retried_by_lambda_starts_one_run() {
    let stack = Stack::new().await;
    let reactor = stack.reactor();
    let first = starter::handle(&reactor, stack.job("adhoc"), "8f1c-request", T0)
        .await
        .unwrap();
    // Lambda retries a failed asynchronous invocation about a minute later, with the same request id.
    let retry = starter::handle(
        &reactor,
        stack.job("adhoc"),
        "8f1c-request",
        T0 + time::Duration::seconds(70),
    )
    .await
    .unwrap();
    let other = starter::handle(&reactor, stack.job("adhoc"), "another-request", T0)
        .await
        .unwrap();
    assert_eq!(
        (first.outcome, retry.outcome, other.outcome),
        ("STARTED", "DUPLICATE", "STARTED")
    );
    assert_eq!(first.run_id, retry.run_id);
    assert_ne!(first.run_id, other.run_id);
    assert_eq!(stack.all_tasks().await.len(), 2);
}

#[tokio::test]
async fn an_invalid_job_is_rejected_before_anything_is_written() {
    let stack = Stack::new().await;
    let reactor = stack.reactor();
    let mut typo = stack.job("nightly");
    typo["retry"] = json!({"maxAttempt": 3});
    let mut no_subnets = stack.job("nightly");
    no_subnets["runTask"]["networkConfiguration"]["awsvpcConfiguration"]["subnets"] = json!([]);
    #[rustfmt::skip]
    let cases: &[(Value, &str, &str)] = &[
        (typo, "InvalidJobRequest", "did you mean maxAttempts"),
        (no_subnets, "InvalidJobRequest", "subnets"),
        (json!({"detail-type": "Scheduled Event", "time": TICK, "detail": {}}), "InvalidScheduledEvent", "detail"),
    ];
    for (payload, error_type, needle) in cases {
        let e = starter::handle(&reactor, payload.clone(), "r", T0)
            .await
            .unwrap_err();
        assert_eq!(e.error_type(), *error_type);
        assert!(e.to_string().contains(needle), "{e}");
    }
    assert_eq!(stack.scan().await, Vec::<Value>::new(), "nothing written");
    assert!(stack.all_tasks().await.is_empty(), "nothing launched");
}

#[tokio::test]
async fn a_refused_launch_is_judged_and_the_run_is_never_lost() {
    let stack = Stack::new().await;
    let reactor = stack.reactor();
    let mut job = stack.job("missing-image");
    // An allowed family, a revision that does not exist: ECS refuses the launch.
    job["runTask"]["taskDefinition"] = json!(format!("{}:99", stack.family));
    let response = starter::handle(&reactor, job, "r", T0).await.unwrap();
    assert_eq!(response.outcome, "NOT_STARTED", "{response:?}");
    let run = stack.row(&response.run_id, "RUN").await.unwrap();
    let attempt = stack.row(&response.run_id, "ATTEMPT#0001").await.unwrap();
    // Whatever the verdict, the run has a next step: closed (and notified) or a retry scheduled.
    match response.action {
        Some("FAIL") => {
            assert_eq!(run["status"], "FAILED");
            let notes = stack.notifications().await;
            assert_eq!(notes.len(), 1, "{notes:?}");
            assert_eq!(notes[0]["status"], "FAILED");
        }
        Some("RETRY_LATER") => {
            assert_eq!(run["status"], "RETRY_SCHEDULED");
            assert!(stack.row(&response.run_id, "DELAY#0002").await.is_some());
        }
        other => panic!("unexpected action {other:?}: {response:?}"),
    }
    assert_eq!(attempt["state"], "DECIDED");
    assert!(
        attempt["stoppedReason"].is_string(),
        "what ECS said is kept: {attempt}"
    );
    assert!(stack.all_tasks().await.is_empty());
}

#[tokio::test]
async fn each_decision_is_applied_with_its_consequence() {
    // sample event → (action, run status, run's current attempt, notified status)
    #[rustfmt::skip]
    let cases: &[(&str, &str, &str, u64, Option<&str>)] = &[
        ("stopped-success.json",             "SUCCEED",     "SUCCEEDED",       1, Some("SUCCEEDED")),
        ("stopped-success-sidecar-137.json", "SUCCEED",     "SUCCEEDED",       1, Some("SUCCEEDED")),
        ("stopped-image-not-found.json",     "FAIL",        "FAILED",          1, Some("FAILED")),
        ("stopped-user-stop.json",           "FAIL",        "FAILED",          1, Some("FAILED")),
        ("stopped-pull-rate-limit.json",     "RETRY_LATER", "RETRY_SCHEDULED", 1, None),
        ("stopped-app-exit-1.json",          "RETRY_LATER", "RETRY_SCHEDULED", 1, None),
        ("stopped-spot-interruption.json",   "RETRY_NOW",   "RUNNING",         2, None),
    ];
    let stack = Stack::new().await;
    let reactor = stack.reactor();
    for (i, (sample, action, status, current, notified)) in cases.iter().enumerate() {
        let job = format!("case-{i}");
        let (run_id, task) = started(&stack, &reactor, &job).await;
        let event = stack.stop(&task, &started_by(&run_id, 1), sample, 3).await;
        let response = classifier::handle(&reactor, event, T_STOP).await.unwrap();
        assert_eq!(
            (response.outcome, response.action),
            ("APPLIED", Some(*action)),
            "{sample}: {response:?}"
        );

        let run = stack.row(&run_id, "RUN").await.unwrap();
        assert_eq!(
            (run["status"].as_str(), run["attempt"].as_u64()),
            (Some(*status), Some(*current)),
            "{sample}: {run}"
        );
        let first = stack.row(&run_id, "ATTEMPT#0001").await.unwrap();
        assert_eq!(
            (first["state"].as_str(), first["action"].as_str()),
            (Some("DECIDED"), Some(*action)),
            "{sample}"
        );
        assert_eq!(first["taskArn"], task.as_str());
        assert_eq!(first["eventVersion"], 3);
        assert!(
            first["ruleId"].is_string() && first["rule"].is_string() && first["reason"].is_string(),
            "{first}"
        );
        assert!(
            !first["containers"].as_array().unwrap().is_empty(),
            "the stop facts are kept: {first}"
        );

        let notes = stack.notifications().await;
        match notified {
            Some(s) => {
                assert_eq!(notes.len(), 1, "{sample}: {notes:?}");
                assert_eq!(
                    (notes[0]["runId"].as_str(), notes[0]["status"].as_str()),
                    (Some(run_id.as_str()), Some(*s))
                );
                assert_eq!(notes[0]["attributes"]["job"]["Value"], job.as_str());
                assert!(
                    run["notifiedAt"].is_string(),
                    "{sample}: the publish is recorded"
                );
            }
            None => assert!(
                notes.is_empty(),
                "{sample}: no notification for a retry: {notes:?}"
            ),
        }
        match *action {
            "RETRY_LATER" => {
                let delay = stack
                    .row(&run_id, "DELAY#0002")
                    .await
                    .expect("a delay item");
                let delay_seconds = response.delay_seconds.unwrap() as i64;
                assert!(delay_seconds > 0);
                // TTL is a number of epoch seconds, equal to the due time: what DynamoDB's TTL reads.
                assert_eq!(
                    delay["ttl"].as_i64(),
                    Some(T_STOP.unix_timestamp() + delay_seconds),
                    "{delay}"
                );
                assert_eq!(delay["dueAt"], delay["ttl"]);
                assert!(delay["dueShard"].as_str().unwrap().starts_with("DUE#"));
                assert_eq!(first["nextRetryAt"], run["nextRetryAt"]);
                assert_eq!(
                    stack.tasks(&started_by(&run_id, 2)).await.len(),
                    0,
                    "nothing launched before it is due"
                );
            }
            "RETRY_NOW" => {
                assert_eq!(
                    first["countsAsAttempt"], false,
                    "a Spot interruption is a free relaunch"
                );
                assert_eq!(run["disruptions"], 1);
                let next = stack.tasks(&started_by(&run_id, 2)).await;
                assert_eq!(next.len(), 1);
                assert_eq!(response.next_task_arn.as_deref(), Some(next[0].as_str()));
                assert_eq!(
                    stack.row(&run_id, "ATTEMPT#0002").await.unwrap()["state"],
                    "LAUNCHED"
                );
            }
            _ => assert!(stack.row(&run_id, "ATTEMPT#0002").await.is_none()),
        }
    }
}

#[tokio::test]
async fn duplicate_late_and_foreign_events_change_nothing() {
    let stack = Stack::new().await;
    let reactor = stack.reactor();
    let (run_id, task) = started(&stack, &reactor, "dupes").await;
    let event = stack
        .stop(
            &task,
            &started_by(&run_id, 1),
            "stopped-spot-interruption.json",
            4,
        )
        .await;
    let first = classifier::handle(&reactor, event.clone(), T_STOP)
        .await
        .unwrap();
    assert_eq!(first.action, Some("RETRY_NOW"));
    let rows = stack.rows(&run_id).await;

    let older =
        crate::stack::stopped_event("stopped-app-exit-1.json", &task, &started_by(&run_id, 1), 3);
    let running = crate::stack::stopped_event("running.json", &task, &started_by(&run_id, 1), 2);
    let stray = crate::stack::stopped_event(
        "stopped-success.json",
        "arn:aws:ecs:us-east-1:123456789012:task/x/stray",
        &started_by(&run_id, 2),
        3,
    );
    let foreign: Value = serde_json::from_str(
        &std::fs::read_to_string(crate::cli::root().join("events/stopped-foreign-task.json"))
            .unwrap(),
    )
    .unwrap();
    let unknown = crate::stack::stopped_event(
        "stopped-success.json",
        &task,
        "ecs-reactor/nobody-20261121T023000Z/1",
        3,
    );
    #[rustfmt::skip]
    let cases: &[(&str, Value, &str)] = &[
        ("the same event again",               event.clone(), "DUPLICATE"),
        ("a third delivery, a minute later",   event,         "DUPLICATE"),
        ("an older version after the newer",   older,         "DUPLICATE"),
        ("RUNNING after STOPPED",              running,       "IGNORED"),
        ("a second task claiming attempt 2",   stray,         "OTHER_TASK"),
        ("another launcher's task",            foreign,       "IGNORED"),
        ("a run this table does not know",     unknown,       "UNKNOWN_RUN"),
    ];
    for (what, event, outcome) in cases {
        let response = classifier::handle(&reactor, event.clone(), T_STOP)
            .await
            .unwrap();
        assert_eq!(response.outcome, *outcome, "{what}: {response:?}");
    }
    assert_eq!(stack.rows(&run_id).await, rows, "no row changed");
    assert_eq!(
        stack.tasks(&started_by(&run_id, 2)).await.len(),
        1,
        "one relaunch"
    );

    let malformed: Value = serde_json::from_str(
        &std::fs::read_to_string(crate::cli::root().join("events/malformed-event.json")).unwrap(),
    )
    .unwrap();
    let e = classifier::handle(&reactor, malformed, T_STOP)
        .await
        .unwrap_err();
    assert_eq!(
        e.error_type(),
        "MalformedEvent",
        "kept for the failure destination: {e}"
    );
}

#[tokio::test]
async fn a_finished_run_notifies_once_across_redeliveries() {
    let stack = Stack::new().await;
    let reactor = stack.reactor();
    let (run_id, task) = started(&stack, &reactor, "once").await;
    let event = stack
        .stop(
            &task,
            &started_by(&run_id, 1),
            "stopped-image-not-found.json",
            3,
        )
        .await;
    for _ in 0..3 {
        classifier::handle(&reactor, event.clone(), T_STOP)
            .await
            .unwrap();
    }
    let notes = stack.notifications().await;
    assert_eq!(notes.len(), 1, "{notes:?}");
    assert_eq!(
        notes[0]["subject"],
        "FAILED once after 1 attempt: the image or tag does not exist"
    );
    assert!(
        notes[0]["hint"].is_string(),
        "an image-not-found failure says what to check"
    );
}

/// A run whose attempt 1 hit a Docker Hub rate limit: waiting for attempt 2, returns its delay item's due time.
pub async fn waiting(
    stack: &Stack,
    reactor: &crate::stack::LocalReactor,
    job: &str,
) -> (String, i64) {
    let (run_id, task) = started(stack, reactor, job).await;
    let event = stack
        .stop(
            &task,
            &started_by(&run_id, 1),
            "stopped-pull-rate-limit.json",
            3,
        )
        .await;
    let response = classifier::handle(reactor, event, T_STOP).await.unwrap();
    assert_eq!(response.action, Some("RETRY_LATER"));
    let due = stack.row(&run_id, "DELAY#0002").await.unwrap()["dueAt"]
        .as_i64()
        .unwrap();
    (run_id, due)
}

pub fn at(epoch: i64) -> OffsetDateTime {
    OffsetDateTime::from_unix_timestamp(epoch).unwrap()
}

#[tokio::test]
async fn a_ttl_delete_fires_the_retry_once_and_the_sweep_finds_nothing_left() {
    let stack = Stack::new().await;
    let reactor = stack.reactor();
    let (run_id, due) = waiting(&stack, &reactor, "ttl").await;
    let batch = stack.expire(&run_id, "DELAY#0002").await;
    let late = at(due + 14 * 60);
    for delivery in 0..2 {
        let response = scheduler::handle(&reactor, batch.clone(), late)
            .await
            .unwrap();
        assert_eq!(
            response,
            json!({"batchItemFailures": []}),
            "delivery {delivery}"
        );
    }
    let launched = stack.tasks(&started_by(&run_id, 2)).await;
    assert_eq!(launched.len(), 1, "one task for attempt 2");
    let run = stack.row(&run_id, "RUN").await.unwrap();
    assert_eq!(
        (run["status"].as_str(), run["attempt"].as_u64()),
        (Some("RUNNING"), Some(2))
    );
    assert!(run.get("nextRetryAt").is_none(), "{run}");
    let swept = scheduler::handle(&reactor, sweep_event(), late)
        .await
        .unwrap();
    assert_eq!(swept["sweep"]["due"], 0);
    assert_eq!(stack.tasks(&started_by(&run_id, 2)).await.len(), 1);
}

#[tokio::test]
async fn the_sweep_fires_overdue_retries_and_a_late_ttl_delete_then_launches_nothing() {
    let stack = Stack::new().await;
    let mut reactor = stack.reactor();
    // Only what is due when it reads (a sweep that waits for retries coming due:
    // `reconcile::a_sweep_fires_retries_coming_due_within_its_budget_at_their_due_times_never_before`).
    reactor.settings.sweep_lookahead_seconds = 0;
    let (run_id, due) = waiting(&stack, &reactor, "sweep").await;

    let early = scheduler::handle(&reactor, sweep_event(), at(due - 1))
        .await
        .unwrap();
    assert_eq!(early["sweep"]["due"], 0, "not before its time");
    assert!(stack.row(&run_id, "DELAY#0002").await.is_some());

    let swept = scheduler::handle(&reactor, sweep_event(), at(due + 30))
        .await
        .unwrap();
    assert_eq!(
        (
            swept["sweep"]["due"].as_u64(),
            swept["sweep"]["launched"].as_u64()
        ),
        (Some(1), Some(1)),
        "{swept}"
    );
    assert!(
        stack.row(&run_id, "DELAY#0002").await.is_none(),
        "claiming removes the delay item"
    );

    // TTL fires later for the same delay (the item it saw): nothing more happens.
    let delay =
        reactor_aws::records::DelayItem::new(&run_id, 2, due, reactor.settings.sweep_shards);
    let batch = crate::stack::ttl_batch(&stack.table, serde_dynamo::to_item(&delay).unwrap());
    let response = scheduler::handle(&reactor, batch, at(due + 20 * 60))
        .await
        .unwrap();
    assert_eq!(response, json!({"batchItemFailures": []}));
    assert_eq!(
        stack.tasks(&started_by(&run_id, 2)).await.len(),
        1,
        "exactly one launch"
    );
    let attempt = stack.row(&run_id, "ATTEMPT#0002").await.unwrap();
    assert_eq!(attempt["state"], "LAUNCHED");
}

#[tokio::test]
async fn stream_records_other_than_ttl_deletes_are_skipped_and_bad_ones_handed_back() {
    let stack = Stack::new().await;
    let reactor = stack.reactor();
    let (run_id, due) = waiting(&stack, &reactor, "noise").await;
    let mut batch = stack.expire(&run_id, "DELAY#0002").await;
    let ttl_record = batch["Records"][0].clone();
    let mut by_caller = ttl_record.clone();
    by_caller.as_object_mut().unwrap().remove("userIdentity");
    let mut insert = ttl_record.clone();
    insert["eventName"] = json!("INSERT");
    let mut unreadable = ttl_record.clone();
    unreadable["dynamodb"]["OldImage"]["dueAt"] = json!({"S": "soon"});
    unreadable["dynamodb"]["SequenceNumber"] = json!("900");
    batch["Records"] = json!([by_caller, insert, unreadable]);
    let response = scheduler::handle(&reactor, batch, at(due + 60))
        .await
        .unwrap();
    assert_eq!(
        response,
        json!({"batchItemFailures": [{"itemIdentifier": "900"}]})
    );
    assert!(
        stack.tasks(&started_by(&run_id, 2)).await.is_empty(),
        "no record was a TTL delete of a delay"
    );

    let e = scheduler::handle(&reactor, json!({"hello": "world"}), at(due))
        .await
        .unwrap_err();
    assert_eq!(e.error_type(), "UnrecognisedEvent");
}

#[tokio::test]
async fn an_interrupted_launch_is_resumed_once_its_lease_runs_out() {
    use reactor_aws::records::{AttemptItem, RunItem};
    use reactor_aws::store::prelude::*;
    let stack = Stack::new().await;
    let reactor = stack.reactor();
    // A starter that crashed right after claiming attempt 1: the run is LAUNCHING, no task exists.
    let job = reactor_core::JobRequest::from_value(stack.job("crashed")).unwrap();
    let run_id = "crashed-20261121T023000Z";
    let claimed_at = utc("2026-11-21T02:30:01Z");
    let run = RunItem::new(
        run_id,
        "crashed",
        serde_json::to_string(&job).unwrap(),
        None,
        claimed_at,
    );
    let lease = T0.unix_timestamp() + reactor.settings.launch_lease_seconds;
    reactor
        .store
        .create_run(
            &run,
            &AttemptItem::claim(
                &reactor_core::Namespace::default(),
                run_id,
                1,
                claimed_at,
                lease,
            ),
        )
        .await
        .unwrap();

    let within = scheduler::handle(&reactor, sweep_event(), at(lease - 60))
        .await
        .unwrap();
    assert_eq!(
        within["sweep"]["resumed"], 0,
        "the claimer may still be launching"
    );
    let after = scheduler::handle(&reactor, sweep_event(), at(lease + 60))
        .await
        .unwrap();
    assert_eq!(after["sweep"]["resumed"], 1, "{after}");
    let again = scheduler::handle(&reactor, sweep_event(), at(lease + 120))
        .await
        .unwrap();
    assert_eq!(again["sweep"]["resumed"], 0);
    assert_eq!(stack.tasks(&started_by(run_id, 1)).await.len(), 1);
    assert_eq!(stack.row(run_id, "RUN").await.unwrap()["status"], "RUNNING");
}

#[tokio::test]
async fn a_crash_after_run_task_adopts_the_task_instead_of_starting_another() {
    use reactor_aws::launcher::{LaunchOutcome, Launcher};
    use reactor_aws::records::{AttemptItem, RunItem};
    use reactor_aws::store::prelude::*;
    let stack = Stack::new().await;
    let reactor = stack.reactor();
    // RunTask answered, then the invocation died before recording the task (moto ignores clientToken, so
    // only the lookup by startedBy stands between a redelivery and a second task).
    let job = reactor_core::JobRequest::from_value(stack.job("adopt")).unwrap();
    let run_id = "adopt-20261121T023000Z";
    let run = RunItem::new(
        run_id,
        "adopt",
        serde_json::to_string(&job).unwrap(),
        None,
        utc("2026-11-21T02:30:01Z"),
    );
    let lease = T0.unix_timestamp() + reactor.settings.launch_lease_seconds;
    let claim = AttemptItem::claim(
        &reactor_core::Namespace::default(),
        run_id,
        1,
        utc("2026-11-21T02:30:01Z"),
        lease,
    );
    reactor.store.create_run(&run, &claim).await.unwrap();
    let LaunchOutcome::Started { task_arn } = reactor
        .launcher
        .run_task(
            &job,
            &claim.attempt_ref(),
            &claim.started_by,
            &claim.client_token,
        )
        .await
        .unwrap()
    else {
        panic!("moto did not start the task")
    };

    let swept = scheduler::handle(&reactor, sweep_event(), at(lease + 60))
        .await
        .unwrap();
    assert_eq!(swept["sweep"]["resumed"], 1, "{swept}");
    assert_eq!(
        stack.tasks(&started_by(run_id, 1)).await,
        vec![task_arn.clone()],
        "adopted, not relaunched"
    );
    let attempt = stack.row(run_id, "ATTEMPT#0001").await.unwrap();
    assert_eq!(
        (attempt["state"].as_str(), attempt["taskArn"].as_str()),
        (Some("LAUNCHED"), Some(task_arn.as_str()))
    );
}
